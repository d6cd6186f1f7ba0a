/* Saving a pair with the commit protocol of FORMAT.md section 9.
 *
 * Method: everything that can refuse the request (arguments, compatibility, encoding, the base
 * of a diff) runs before the first file is created. The new memory file and the temporary state
 * file get names of their own (generation gen, above every generation present in the
 * directory), so nothing of the committed pair is written. Both are fsynced and closed, the
 * directory is fsynced, and the rename of the temporary state file over <id>.snap is the single
 * commit point. Before it, any failure unlinks what this save created; after it, nothing of the
 * new pair is ever removed. The snapshot id comes from getrandom(2), outside the I/O table. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "io-priv.h"
#include "pair-priv.h"
#include "snap/crc64.h"
#include "snap/pair.h"

struct save {
    const struct snap_io *io;
    const struct snap_save_req *req;
    struct snap_diag *diag;
    uint64_t page_count;
    struct snap_header hdr;
    uint8_t *state_bytes;
    size_t state_len;
    uint64_t *page_crcs;
    uint64_t max_generation; /* largest generation of <id> seen in the directory */
    bool saw_state_file;
    char state_path[SNAP_PATH_CAP];
    char mem_path[SNAP_PATH_CAP];
    char tmp_path[SNAP_PATH_CAP];
    bool mem_created;
    bool tmp_created;
};

static int refuse(struct snap_diag *diag, const char *why)
{
    return snap_diag_set(diag, SNAP_EINVAL, 0, "validate", NULL, "save refused: %s", why);
}

static bool page_size_valid(uint32_t page_size)
{
    return page_size == 4096 || page_size == 16384 || page_size == 65536;
}

/* 9 step 1, the request itself: arguments, then compatibility. */
static int validate(struct save *s)
{
    const struct snap_save_req *r = s->req;
    uint64_t bm_len;

    if (r->dir == NULL || r->state == NULL || r->memory == NULL)
        return refuse(s->diag, "dir, state and memory are required");
    if (r->kind != SNAP_KIND_FULL && r->kind != SNAP_KIND_DIFF)
        return refuse(s->diag, "kind is neither full nor diff");
    if (r->id == NULL || !snap_id_valid(r->id))
        return refuse(s->diag, "id is not 1 to 40 bytes of [A-Za-z0-9_-]");
    if (r->kind == SNAP_KIND_DIFF && (r->base_id == NULL || !snap_id_valid(r->base_id)))
        return refuse(s->diag, "a diff needs a valid base_id");
    if (!page_size_valid(r->page_size))
        return refuse(s->diag, "page_size is not 4096, 16384 or 65536");
    if (r->ram_size == 0 || r->ram_size % r->page_size != 0 ||
        r->ram_size / r->page_size > SNAP_MAX_PAGES)
        return refuse(s->diag, "ram_size is not 1 to 2^24 pages of page_size");
    s->page_count = r->ram_size / r->page_size;
    if (r->kind == SNAP_KIND_DIFF) {
        if (r->dirty == NULL)
            return refuse(s->diag, "a diff snapshot needs a dirty bitmap");
        if (!r->state->info.track_dirty_pages)
            return refuse(s->diag, "a diff snapshot needs track_dirty_pages in the VM state");
        if (strcmp(r->base_id, r->id) == 0)
            return refuse(s->diag, "a diff cannot be its own base");
        bm_len = snap_bitmap_len(s->page_count);
        if (s->page_count % 8 != 0 && (r->dirty[bm_len - 1] >> (s->page_count % 8)) != 0)
            return refuse(s->diag, "the dirty bitmap has bits past the last page");
    }
    return snap_state_verify_compatible(r->state, r->ram_size, s->diag);
}

/* 9 step 1, the base of a diff: its state file and those of its chain decode as load needs
 * them (VM state included), each binds to the pair below it, the chain has no loop and stays
 * within SNAP_MAX_CHAIN diffs with the new one, and the base matches in page_size and ram_size.
 * So a diff is never committed over a base that load refuses at its state files. */
static int check_base(struct save *s)
{
    struct snap_header base;
    int rc;

    rc = snap_chain_check(&base, s->io, s->req->dir, s->req->id, s->req->base_id,
                          s->req->page_size, s->req->ram_size, s->diag);
    if (rc != 0)
        return rc;
    memcpy(s->hdr.base_id, base.snapshot_id, sizeof(s->hdr.base_id));
    s->hdr.base_generation = base.generation;
    return 0;
}

static int scan_entry(void *arg, const char *name)
{
    struct save *s = arg;
    uint64_t gen;

    switch (snap_name_parse(name, s->req->id, &gen)) {
    case SNAP_NAME_STATE:
        s->saw_state_file = true;
        break;
    case SNAP_NAME_MEM:
    case SNAP_NAME_TMP:
        if (gen > s->max_generation)
            s->max_generation = gen;
        break;
    default:
        break;
    }
    return 0;
}

/* The generation of the committed state file, if its header decodes (a damaged one is left to
 * the names: its memory file, if any, is among them). "Decodes" is 3.2 steps 1-3 and the
 * header rules of step 7 on the first 256 bytes (snap_header_decode): FORMAT.md 9 step 2. */
static int scan_committed(struct save *s)
{
    uint8_t head[SNAP_HEADER_LEN];
    struct snap_header hdr;
    struct snap_diag local;
    uint64_t size;
    int fd;
    int rc;

    snap_diag_clear(&local);
    rc = snap_io_open_regular(&fd, &size, s->io, s->state_path, &local);
    if (rc == SNAP_ENOENT)
        return 0;
    /* A link or a file that is not regular is not a state file this library wrote: it adds
     * nothing, like a header that does not decode (the commit rename replaces the entry). */
    if (rc != 0 && (local.sys_errno == ELOOP || local.sys_errno == EISDIR ||
                    local.sys_errno == ESPIPE))
        return 0;
    if (rc != 0)
        return snap_diag_forward(s->diag, &local);
    rc = snap_io_read_all(s->io, fd, head, sizeof(head), 0, s->state_path, NULL);
    if (rc == SNAP_EIO)
        rc = snap_io_fail(s->diag, "pread", s->state_path, errno);
    snap_io_close_quiet(s->io, fd);
    if (rc == 0 && snap_header_decode(&hdr, head, sizeof(head), NULL) == 0 &&
        hdr.generation > s->max_generation)
        s->max_generation = hdr.generation;
    return rc == SNAP_EIO ? rc : 0;
}

/* 9 step 2: gen = 1 + the largest generation in the directory; then the names of the new files. */
static int choose_generation(struct save *s)
{
    char name[SNAP_PATH_CAP];
    int rc;

    if (s->io->list(s->io->ctx, s->req->dir, scan_entry, s) != 0)
        return snap_io_fail(s->diag, "list", s->req->dir, errno);
    if (s->saw_state_file) {
        rc = scan_committed(s);
        if (rc != 0)
            return rc;
    }
    if (s->max_generation >= SNAP_GENERATION_MAX)
        return snap_diag_set(s->diag, SNAP_ELIMIT, 0, "validate", s->req->dir,
                             "no generation left for %s", s->req->id);
    s->hdr.generation = s->max_generation + 1;
    if (snap_name_mem(s->hdr.mem_name, sizeof(s->hdr.mem_name), s->req->id,
                      s->hdr.generation) != 0)
        return snap_diag_set(s->diag, SNAP_EINVAL, 0, "validate", s->req->dir,
                             "memory file name of %s generation %llu is over 63 bytes",
                             s->req->id, (unsigned long long)s->hdr.generation);
    if (snap_path_join(s->mem_path, sizeof(s->mem_path), s->req->dir, s->hdr.mem_name) != 0 ||
        snap_name_tmp(name, sizeof(name), s->req->id, s->hdr.generation) != 0 ||
        snap_path_join(s->tmp_path, sizeof(s->tmp_path), s->req->dir, name) != 0)
        return refuse(s->diag, "the path of the new files is too long");
    return 0;
}

static int random_id(uint8_t out[16], struct snap_diag *diag)
{
    static const uint8_t zero[16];
    size_t got;
    ssize_t n;

    do {
        for (got = 0; got < 16; got += (size_t)n) {
            n = getrandom(out + got, 16 - got, 0);
            if (n < 0 && errno == EINTR)
                n = 0;
            else if (n < 0)
                return snap_io_fail(diag, "getrandom", NULL, errno);
        }
    } while (memcmp(out, zero, 16) == 0);
    return 0;
}

/* The rest of the header (3.1); the names and generation are set already. */
static void fill_header(struct save *s, uint64_t mem_pages)
{
    struct snap_header *h = &s->hdr;

    h->version_major = SNAP_VERSION_MAJOR;
    h->version_minor = SNAP_VERSION_MINOR;
    h->header_len = SNAP_HEADER_LEN;
    h->schema_version = SNAP_SCHEMA_VERSION;
    h->flags = 0;
    h->kind = s->req->kind;
    h->page_size = s->req->page_size;
    h->ram_size = s->req->ram_size;
    h->state_len = s->state_len;
    h->mem_pages = mem_pages;
    h->mem_file_len = mem_pages * s->req->page_size + SNAP_MEM_TRAILER_LEN;
    h->payload_len = s->state_len + 8 * mem_pages +
                     (s->req->kind == SNAP_KIND_DIFF ? snap_bitmap_len(s->page_count) : 0);
    if (s->req->kind == SNAP_KIND_DIFF)
        memcpy(h->base_name, s->req->base_id, strlen(s->req->base_id) + 1);
}

static bool stored(const struct save *s, uint64_t page)
{
    return s->req->kind == SNAP_KIND_FULL || snap_bitmap_test(s->req->dirty, page);
}

/* Write the stored pages as runs of consecutive guest pages, at most SNAP_IO_CHUNK per call,
 * straight from the guest image, and their CRCs into page_crcs. @return pages written or <0. */
static int write_pages(struct save *s, int fd, uint64_t *out_pages)
{
    const uint64_t ps = s->req->page_size;
    const uint64_t per_chunk = SNAP_IO_CHUNK / ps;
    uint64_t k = 0;
    uint64_t p = 0;
    uint64_t run;
    int rc;

    while (p < s->page_count) {
        if (!stored(s, p)) {
            p++;
            continue;
        }
        for (run = 1; p + run < s->page_count && run < per_chunk && stored(s, p + run); run++)
            ;
        for (uint64_t i = 0; i < run; i++)
            s->page_crcs[k + i] = snap_crc64(0, s->req->memory + (p + i) * ps, (size_t)ps);
        rc = snap_io_write_all(s->io, fd, s->req->memory + p * ps, (size_t)(run * ps), k * ps,
                               s->mem_path, s->diag);
        if (rc != 0)
            return rc;
        k += run;
        p += run;
    }
    *out_pages = k;
    return 0;
}

/* 9 step 3: the memory file, created exclusively, pages then trailer, fsync, close. */
static int write_memory(struct save *s)
{
    uint8_t trailer[SNAP_MEM_TRAILER_LEN];
    struct snap_mem_trailer t;
    uint64_t mem_pages = 0;
    int fd;
    int rc;

    fd = snap_io_open_retry(s->io, s->mem_path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0)
        return snap_io_fail(s->diag, "open", s->mem_path, errno);
    s->mem_created = true;
    rc = write_pages(s, fd, &mem_pages);
    if (rc == 0) {
        fill_header(s, mem_pages);
        memcpy(t.snapshot_id, s->hdr.snapshot_id, sizeof(t.snapshot_id));
        t.generation = s->hdr.generation;
        t.mem_pages = mem_pages;
        t.page_size = s->req->page_size;
        t.kind = s->req->kind;
        snap_mem_trailer_encode(trailer, &t);
        rc = snap_io_write_all(s->io, fd, trailer, sizeof(trailer),
                               mem_pages * s->req->page_size, s->mem_path, s->diag);
    }
    if (rc == 0)
        rc = snap_io_fsync_file(s->io, fd, s->mem_path, s->diag);
    if (rc != 0) {
        snap_io_close_quiet(s->io, fd);
        return rc;
    }
    return snap_io_close_file(s->io, fd, s->mem_path, s->diag);
}

/* 9 step 4: the state file, encoded, written to the temporary name, fsync, close. */
static int write_state_tmp(struct save *s)
{
    uint64_t len = snap_envelope_len(&s->hdr);
    size_t out_len = 0;
    uint8_t *buf;
    int fd;
    int rc;

    buf = malloc((size_t)len);
    if (buf == NULL)
        return snap_diag_set(s->diag, SNAP_ENOMEM, 0, "malloc", s->tmp_path,
                             "no memory for a state file of %llu bytes", (unsigned long long)len);
    rc = snap_envelope_encode(buf, (size_t)len, &out_len, &s->hdr, s->state_bytes,
                              s->req->kind == SNAP_KIND_DIFF ? s->req->dirty : NULL,
                              s->page_crcs);
    if (rc != 0 || out_len != len) {
        free(buf);
        return snap_diag_set(s->diag, rc != 0 ? rc : SNAP_EINVAL, 0, "encode", s->tmp_path,
                             "state file encoding failed");
    }
    fd = snap_io_open_retry(s->io, s->tmp_path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) {
        free(buf);
        return snap_io_fail(s->diag, "open", s->tmp_path, errno);
    }
    s->tmp_created = true;
    rc = snap_io_write_all(s->io, fd, buf, out_len, 0, s->tmp_path, s->diag);
    free(buf);
    if (rc == 0)
        rc = snap_io_fsync_file(s->io, fd, s->tmp_path, s->diag);
    if (rc != 0) {
        snap_io_close_quiet(s->io, fd);
        return rc;
    }
    return snap_io_close_file(s->io, fd, s->tmp_path, s->diag);
}

/* Everything up to the commit point that can still be refused or fail without a trace. */
static int prepare(struct save *s)
{
    char name[SNAP_PATH_CAP];
    int rc;

    rc = validate(s);
    if (rc != 0)
        return rc;
    rc = snap_state_encode_alloc(&s->state_bytes, &s->state_len, s->req->state);
    if (rc != 0)
        return snap_diag_set(s->diag, rc, 0, "encode", NULL, "VM state cannot be encoded: %s",
                             snap_strerror(rc));
    if (s->req->kind == SNAP_KIND_DIFF) {
        rc = check_base(s);
        if (rc != 0)
            return rc;
    }
    if (snap_name_state(name, sizeof(name), s->req->id) != 0 ||
        snap_path_join(s->state_path, sizeof(s->state_path), s->req->dir, name) != 0)
        return refuse(s->diag, "the path of the state file is too long");
    rc = choose_generation(s);
    if (rc != 0)
        return rc;
    s->page_crcs = malloc(s->page_count * sizeof(uint64_t));
    if (s->page_crcs == NULL)
        return snap_diag_set(s->diag, SNAP_ENOMEM, 0, "malloc", NULL,
                             "no memory for %llu page CRCs", (unsigned long long)s->page_count);
    return random_id(s->hdr.snapshot_id, s->diag);
}

int snap_pair_save(struct snap_save_report *out, const struct snap_io *io,
                   const struct snap_save_req *req, struct snap_diag *diag)
{
    struct save *s;
    struct snap_diag cleanup_diag;
    int rc;

    snap_diag_clear(diag);
    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (io == NULL || req == NULL)
        return refuse(diag, "io and req are required");
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return snap_diag_set(diag, SNAP_ENOMEM, 0, "malloc", NULL, "no memory for a save");
    s->io = io;
    s->req = req;
    s->diag = diag;
    rc = prepare(s);
    if (rc == 0)
        rc = write_memory(s);
    if (rc == 0)
        rc = write_state_tmp(s);
    if (rc == 0)
        rc = snap_io_fsync_dir_as(io, req->dir, "fsync-dir", diag);
    if (rc == 0 && io->rename(io->ctx, s->tmp_path, s->state_path) != 0)
        rc = snap_io_fail(diag, "rename", s->tmp_path, errno);
    if (rc != 0) {
        /* Before the commit point: the committed pair is untouched; remove what we made. */
        if (s->tmp_created)
            (void)io->unlink(io->ctx, s->tmp_path);
        if (s->mem_created)
            (void)io->unlink(io->ctx, s->mem_path);
        goto out;
    }
    /* Committed. From here on nothing of the new pair is removed. */
    if (out != NULL) {
        out->generation = s->hdr.generation;
        out->pages_written = s->hdr.mem_pages;
        memcpy(out->snapshot_id, s->hdr.snapshot_id, sizeof(out->snapshot_id));
    }
    rc = snap_io_fsync_dir_as(io, req->dir, "fsync-dir-commit", diag);
    if (rc != 0)
        goto out;
    snap_diag_clear(&cleanup_diag);
    if (snap_pair_cleanup_keep(NULL, io, req->dir, req->id, true, s->hdr.generation,
                               &cleanup_diag) != 0 &&
        out != NULL)
        out->cleanup_incomplete = true;
out:
    free(s->page_crcs);
    free(s->state_bytes);
    free(s);
    return rc;
}
