/* Loading and verifying a pair (FORMAT.md 6.1): state file, binding of the memory file, page
 * CRCs, then the base chain of a diff, then the VM state. Load and verify share one walk; load
 * fills a guest image, verify reads the pages in chunks and keeps nothing.
 *
 * Method: a diff's own pages are checked before its base is touched, so the error of a damaged
 * chain is the one of the topmost damaged pair, as 6.1 orders it. A base's header is checked
 * against the binding (snapshot_id, generation, page_size, ram_size) before its pages are read
 * into the image, so a mismatched base can never write outside it. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "io-priv.h"
#include "pair-priv.h"
#include "snap/crc64.h"
#include "snap/pair.h"

/* A file longer than any valid state file: decide from its header what 3.2 reports (the first
 * of steps 1-4 that fails; if none, the file has trailing bytes). */
static int oversized_state_file(const struct snap_io *io, const char *path,
                                struct snap_diag *diag)
{
    uint8_t head[SNAP_HEADER_LEN];
    struct snap_envelope env;
    struct snap_diag local;
    int fd;
    int rc;

    fd = snap_io_open_retry(io, path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return snap_io_fail(diag, "open", path, errno);
    rc = snap_io_read_all(io, fd, head, sizeof(head), 0, path, diag);
    snap_io_close_quiet(io, fd);
    if (rc != 0)
        return rc;
    snap_diag_clear(&local);
    rc = snap_envelope_decode(&env, head, sizeof(head), &local);
    if (rc != SNAP_ETRUNC) {
        snap_diag_forward(diag, &local);
        snap_diag_name_file(diag, path);
        return rc;
    }
    return snap_diag_set(diag, SNAP_ECORRUPT, 0, "decode", path,
                         "state file %s has trailing bytes after its CRC trailer", path);
}

int snap_state_file_read(uint8_t **out_buf, struct snap_envelope *env, const struct snap_io *io,
                         const char *path, struct snap_diag *diag)
{
    struct snap_diag local;
    size_t len;
    int rc;

    *out_buf = NULL;
    memset(env, 0, sizeof(*env));
    snap_diag_clear(&local);
    rc = snap_io_read_file(out_buf, &len, io, path, SNAP_STATE_FILE_MAX, &local);
    if (rc == SNAP_ELIMIT)
        return oversized_state_file(io, path, diag);
    if (rc != 0)
        return snap_diag_forward(diag, &local);
    rc = snap_envelope_decode(env, *out_buf, len, diag);
    if (rc != 0) {
        snap_diag_name_file(diag, path);
        free(*out_buf);
        *out_buf = NULL;
    }
    return rc;
}

/* What a pair must match to serve as the base of a diff (6.1 step 5). */
struct binding {
    const char *diff_path;
    const uint8_t *snapshot_id;
    uint64_t generation;
    uint32_t page_size;
    uint64_t ram_size;
};

struct walk {
    const struct snap_io *io;
    const char *dir;
    struct snap_diag *diag;
    bool load;      /* fill image (load) or only check (verify) */
    uint8_t *image; /* load: ram_size bytes, allocated once the pair asked for is decoded */
    uint8_t *chunk; /* verify: SNAP_IO_CHUNK bytes */
};

/* Next set bit at or after page (caller knows one exists). */
static uint64_t next_stored(const struct snap_envelope *env, uint64_t page)
{
    if (env->bitmap == NULL)
        return page;
    while (!snap_bitmap_test(env->bitmap, page))
        page++;
    return page;
}

static int check_trailer(int fd, const struct snap_envelope *env, const struct walk *w,
                         const char *path)
{
    const struct snap_header *h = &env->hdr;
    uint8_t raw[SNAP_MEM_TRAILER_LEN];
    struct snap_mem_trailer t;
    uint64_t size;
    int rc;

    if (w->io->fsize(w->io->ctx, fd, &size) != 0)
        return snap_io_fail(w->diag, "fstat", path, errno);
    if (size != h->mem_file_len)
        return snap_diag_set(w->diag, SNAP_EPAIR, 0, "pair", path,
                             "memory file %s is %llu bytes, the state file says %llu (%s)", path,
                             (unsigned long long)size, (unsigned long long)h->mem_file_len,
                             size < h->mem_file_len ? "short" : "long");
    rc = snap_io_read_all(w->io, fd, raw, sizeof(raw), h->mem_pages * h->page_size, path,
                          w->diag);
    if (rc != 0)
        return rc;
    if (snap_mem_trailer_decode(&t, raw) != 0)
        return snap_diag_set(w->diag, SNAP_EPAIR, 0, "pair", path,
                             "memory file %s has no valid trailer", path);
    if (memcmp(t.snapshot_id, h->snapshot_id, sizeof(t.snapshot_id)) != 0 ||
        t.generation != h->generation || t.mem_pages != h->mem_pages ||
        t.page_size != h->page_size || t.kind != h->kind)
        return snap_diag_set(w->diag, SNAP_EPAIR, 0, "pair", path,
                             "memory file %s belongs to another snapshot (trailer differs)",
                             path);
    return 0;
}

/* Ask for transparent huge pages on a large image: faulting in 1 GiB of fresh memory 4 KiB at a
 * time costs several times the reading and checking of it. A hint only: failure is ignored. */
static void hint_huge_pages(uint8_t *image, uint64_t len)
{
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t start = ((uintptr_t)image + huge - 1) & ~(huge - 1);
    uintptr_t end = ((uintptr_t)image + (uintptr_t)len) & ~(huge - 1);

    if (end > start)
        (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
    (void)image;
    (void)len;
#endif
}

/* 6.1 step 3: open the memory file and check its length and trailer. On success *out_fd is
 * open (the caller closes it) and path holds its path. Runs before any image is allocated, so a
 * small state file naming a huge ram_size cannot make the loader reserve memory for nothing. */
static int open_mem(int *out_fd, char path[SNAP_PATH_CAP], const struct walk *w,
                    const struct snap_envelope *env)
{
    int fd;
    int rc;

    *out_fd = -1;
    rc = snap_path_join(path, SNAP_PATH_CAP, w->dir, env->hdr.mem_name);
    if (rc != 0)
        return snap_diag_set(w->diag, rc, 0, "path", env->hdr.mem_name,
                             "path of %s is too long", env->hdr.mem_name);
    fd = snap_io_open_retry(w->io, path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) {
        if (errno == ENOENT)
            return snap_diag_set(w->diag, SNAP_EPAIR, ENOENT, "open", path,
                                 "memory file %s is missing", path);
        return snap_io_fail(w->diag, "open", path, errno);
    }
    rc = check_trailer(fd, env, w, path);
    if (rc != 0) {
        snap_io_close_quiet(w->io, fd);
        return rc;
    }
    *out_fd = fd;
    return 0;
}

/* 6.1 step 4: check every stored page of the open memory file fd.
 * dst: where the stored pages go, packed (load), or NULL (verify: read through w->chunk). */
static int read_pages(const struct walk *w, const struct snap_envelope *env, int fd,
                      const char *path, uint8_t *dst)
{
    const struct snap_header *h = &env->hdr;
    uint64_t per_chunk = SNAP_IO_CHUNK / h->page_size;
    uint64_t guest = 0;
    int rc = 0;

    for (uint64_t k = 0; rc == 0 && k < h->mem_pages; k += per_chunk) {
        uint64_t n = h->mem_pages - k < per_chunk ? h->mem_pages - k : per_chunk;
        uint8_t *buf = dst != NULL ? dst + k * h->page_size : w->chunk;

        rc = snap_io_read_all(w->io, fd, buf, (size_t)(n * h->page_size), k * h->page_size, path,
                              w->diag);
        for (uint64_t i = 0; rc == 0 && i < n; i++) {
            uint64_t want = snap_get_le64(env->page_crcs + 8 * (k + i));
            guest = next_stored(env, guest);
            if (snap_crc64(0, buf + i * h->page_size, h->page_size) != want) {
                rc = snap_diag_set(w->diag, SNAP_EPAGE, 0, "verify", path,
                                   "page %llu of %s differs from what was saved (CRC)",
                                   (unsigned long long)guest, path);
                if (w->diag != NULL && w->diag->code == SNAP_EPAGE)
                    w->diag->page = guest;
            }
            guest++;
        }
    }
    return rc;
}

static int check_binding(const struct walk *w, const struct snap_header *h, const char *path,
                         const struct binding *want)
{
    if (memcmp(h->snapshot_id, want->snapshot_id, sizeof(h->snapshot_id)) != 0 ||
        h->generation != want->generation)
        return snap_diag_set(w->diag, SNAP_EPAIR, 0, "pair", path,
                             "base mismatch: %s is not the pair %s was saved over", path,
                             want->diff_path);
    if (h->page_size != want->page_size || h->ram_size != want->ram_size)
        return snap_diag_set(w->diag, SNAP_EPAIR, 0, "pair", path,
                             "base mismatch: %s differs from %s in page_size or ram_size", path,
                             want->diff_path);
    return 0;
}

static int decode_state(const struct walk *w, const struct snap_envelope *env, const char *path,
                        struct snap_vm_state *out)
{
    int rc = snap_state_decode(out, env->state, (size_t)env->hdr.state_len);

    if (rc != 0)
        return snap_diag_set(w->diag, rc, 0, "decode", path, "VM state in %s: %s", path,
                             snap_strerror(rc));
    rc = snap_state_verify_compatible(out, env->hdr.ram_size, w->diag);
    if (rc != 0) {
        snap_diag_name_file(w->diag, path);
        snap_state_finish(out);
    }
    return rc;
}

/* Load (or verify) pair id; diffs counts the diffs above it. want: NULL for the pair asked for,
 * else the binding a base must meet. top: the image to fill for the pair asked for (load only). */
static int walk_pair(struct walk *w, const char *id, unsigned diffs,
                     const struct binding *want, struct snap_image *top)
{
    char name[SNAP_PATH_CAP];
    char path[SNAP_PATH_CAP];
    struct snap_envelope env;
    struct snap_vm_state state;
    struct snap_diag local;
    uint8_t *buf = NULL;
    uint8_t *packed = NULL;
    char mem_path[SNAP_PATH_CAP];
    int mem_fd = -1;
    const struct snap_header *h = &env.hdr;
    int rc;

    if (snap_name_state(name, sizeof(name), id) != 0 ||
        snap_path_join(path, sizeof(path), w->dir, name) != 0)
        return snap_diag_set(w->diag, SNAP_EINVAL, 0, "path", id, "bad id or path for %s", id);
    /* Step 1. */
    snap_diag_clear(&local);
    rc = snap_state_file_read(&buf, &env, w->io, path, &local);
    if (rc == SNAP_ENOENT && want != NULL)
        return snap_diag_set(w->diag, SNAP_EPAIR, ENOENT, "pair", path,
                             "base %s of %s is missing", path, want->diff_path);
    if (rc != 0)
        return snap_diag_forward(w->diag, &local);
    if (want != NULL) {
        rc = check_binding(w, h, path, want);
        if (rc != 0)
            goto out;
    }
    /* Step 2 (the codec checked the form, the <id> is checked here). */
    if (strncmp(h->mem_name, id, strlen(id)) != 0 || h->mem_name[strlen(id)] != '.') {
        rc = snap_diag_set(w->diag, SNAP_ECORRUPT, 0, "decode", path,
                           "mem_name %s of %s does not begin with its <id> %s", h->mem_name,
                           path, id);
        goto out;
    }
    /* Step 3, before anything is sized from the header. */
    rc = open_mem(&mem_fd, mem_path, w, &env);
    if (rc != 0)
        goto out;
    if (w->load) {
        if (h->kind == SNAP_KIND_FULL) {
            /* The one full pair of a chain (its bottom) sizes the image, once its memory file
             * has shown ram_size + 64 bytes; every diff above is bound to the same ram_size. */
            w->image = malloc((size_t)h->ram_size);
            if (w->image == NULL) {
                rc = snap_diag_set(w->diag, SNAP_ENOMEM, 0, "malloc", path,
                                   "no memory for a guest image of %llu bytes",
                                   (unsigned long long)h->ram_size);
                goto out;
            }
            hint_huge_pages(w->image, h->ram_size);
            packed = w->image;
        } else if (h->mem_pages != 0) {
            packed = malloc((size_t)(h->mem_pages * h->page_size));
            if (packed == NULL) {
                rc = snap_diag_set(w->diag, SNAP_ENOMEM, 0, "malloc", path,
                                   "no memory for the %llu pages of %s",
                                   (unsigned long long)h->mem_pages, path);
                goto out;
            }
        }
    }
    /* Steps 3-4. */
    rc = read_pages(w, &env, mem_fd, mem_path, packed);
    snap_io_close_quiet(w->io, mem_fd);
    mem_fd = -1;
    if (rc != 0)
        goto out;
    /* Step 5. */
    if (h->kind == SNAP_KIND_DIFF) {
        struct binding base = {path, h->base_id, h->base_generation, h->page_size, h->ram_size};
        uint64_t page = 0;

        if (diffs + 1 > SNAP_MAX_CHAIN) {
            rc = snap_diag_set(w->diag, SNAP_ELIMIT, 0, "pair", path,
                               "%s is more than %u diffs above a full snapshot", path,
                               SNAP_MAX_CHAIN);
            goto out;
        }
        rc = walk_pair(w, h->base_name, diffs + 1, &base, NULL);
        if (rc != 0)
            goto out;
        for (uint64_t k = 0; w->load && k < h->mem_pages; k++, page++) {
            page = next_stored(&env, page);
            memcpy(w->image + page * h->page_size, packed + k * h->page_size, h->page_size);
        }
    }
    /* Step 6. */
    rc = decode_state(w, &env, path, &state);
    if (rc != 0)
        goto out;
    if (top == NULL) {
        snap_state_finish(&state);
        goto out;
    }
    top->hdr = *h;
    top->state = state;
    top->state_len = (size_t)h->state_len;
    top->state_bytes = malloc(top->state_len != 0 ? top->state_len : 1);
    if (top->state_bytes == NULL) {
        rc = snap_diag_set(w->diag, SNAP_ENOMEM, 0, "malloc", path, "no memory for the state");
        goto out;
    }
    memcpy(top->state_bytes, env.state, top->state_len);
out:
    if (mem_fd >= 0)
        snap_io_close_quiet(w->io, mem_fd);
    if (packed != w->image)
        free(packed);
    free(buf);
    return rc;
}

int snap_pair_load(struct snap_image *out, const struct snap_io *io, const char *dir,
                   const char *id, struct snap_diag *diag)
{
    struct walk w = {io, dir, diag, true, NULL, NULL};
    int rc;

    snap_diag_clear(diag);
    if (out == NULL)
        return snap_diag_set(diag, SNAP_EINVAL, 0, "load", NULL, "load: NULL image");
    memset(out, 0, sizeof(*out));
    if (io == NULL || dir == NULL || id == NULL || !snap_id_valid(id))
        return snap_diag_set(diag, SNAP_EINVAL, 0, "load", NULL,
                             "load: NULL argument or invalid <id>");
    rc = walk_pair(&w, id, 0, NULL, out);
    if (rc != 0) {
        snap_image_finish(out);
        free(w.image);
        return rc;
    }
    out->memory = w.image;
    return 0;
}

void snap_image_finish(struct snap_image *img)
{
    if (img == NULL)
        return;
    snap_state_finish(&img->state);
    free(img->state_bytes);
    free(img->memory);
    memset(img, 0, sizeof(*img));
}

int snap_pair_verify(const struct snap_io *io, const char *dir, const char *id,
                     struct snap_diag *diag)
{
    struct walk w = {io, dir, diag, false, NULL, NULL};
    int rc;

    snap_diag_clear(diag);
    if (io == NULL || dir == NULL || id == NULL || !snap_id_valid(id))
        return snap_diag_set(diag, SNAP_EINVAL, 0, "verify", NULL,
                             "verify: NULL argument or invalid <id>");
    w.chunk = malloc(SNAP_IO_CHUNK);
    if (w.chunk == NULL)
        return snap_diag_set(diag, SNAP_ENOMEM, 0, "malloc", NULL, "no memory for a chunk");
    rc = walk_pair(&w, id, 0, NULL, NULL);
    free(w.chunk);
    return rc;
}
