/* Loading and verifying a pair (FORMAT.md 6.1): the state file with its VM state, the binding of
 * the memory file, the page CRCs, then the base chain of a diff. Load, verify and the chain check
 * of a diff save share one walk; load fills a guest image, verify reads the pages in chunks and
 * keeps nothing, the chain check reads state files only.
 *
 * Method: the walk goes down the chain one pair at a time, from the pair asked for to its full
 * pair, and runs each pair's own steps 1-4 before its base is touched, so the error of a damaged
 * chain is the one of the topmost damaged pair. A level keeps only what the way back up needs
 * (its header, page map and open memory file): no state file and no page stays in memory, so a
 * load costs one guest image plus one level. The full pair at the bottom reads its pages straight
 * into the image; then each diff, from the bottom up, reads its pages again, checks their CRCs
 * again and copies them over. A base's header is checked against the binding (snapshot_id,
 * generation, page_size, ram_size) before its memory file is opened, so a mismatched base can
 * never write outside the image; a base already in the chain is a loop, refused at once. */
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
    uint64_t size;
    int fd;
    int rc;

    rc = snap_io_open_regular(&fd, &size, io, path, diag);
    if (rc == SNAP_ENOENT)
        return snap_diag_set(diag, SNAP_ENOENT, ENOENT, "open", path, "%s does not exist", path);
    if (rc != 0)
        return rc;
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


/* What a pair must match to serve as the base of a diff (6.1 step 5). snapshot_id NULL: only
 * page_size and ram_size (the chain check of a save, whose diff does not exist yet). */
struct binding {
    const char *diff_path;
    const uint8_t *snapshot_id;
    uint64_t generation;
    uint32_t page_size;
    uint64_t ram_size;
};

/* One pair of the chain, as far as the way back up needs it. */
struct level {
    struct snap_header hdr;
    uint8_t *page_map; /* copy of the bitmap (diff) and the page CRCs; NULL for none */
    const uint8_t *bitmap;
    const uint8_t *page_crcs;
    int mem_fd;
    char id[SNAP_ID_MAX_LEN + 1];
    char path[SNAP_PATH_CAP];
    char mem_path[SNAP_PATH_CAP];
};

enum walk_mode {
    WALK_LOAD,   /* fill a guest image */
    WALK_VERIFY, /* check every page, keep nothing */
    WALK_STATES, /* state files only (6.1 steps 1, 2 and the chain of 5) */
};

struct walk {
    const struct snap_io *io;
    const char *dir;
    struct snap_diag *diag;
    enum walk_mode mode;
    uint8_t *image; /* load: ram_size bytes, allocated once the full pair's memory file checks */
    uint8_t *chunk; /* SNAP_IO_CHUNK bytes, for pages read without keeping them */
    unsigned depth; /* levels in use */
    unsigned diffs_above; /* diffs above the pair asked for (a save's new diff: 1) */
    const char *above_id; /* <id> of that diff, part of the chain for the loop check */
    struct level *levels; /* SNAP_MAX_CHAIN + 1 */
    struct snap_header top;   /* header of the pair asked for */
    struct snap_image *out;   /* load: the pair asked for */
};

/* Next set bit at or after page (caller knows one exists). */
static uint64_t next_stored(const uint8_t *bitmap, uint64_t page)
{
    if (bitmap == NULL)
        return page;
    while (!snap_bitmap_test(bitmap, page))
        page++;
    return page;
}

static int check_trailer(int fd, uint64_t size, const struct snap_header *h, const struct walk *w,
                         const char *path)
{
    uint8_t raw[SNAP_MEM_TRAILER_LEN];
    struct snap_mem_trailer t;
    int rc;

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

#define HUGE_PAGE ((size_t)2 << 20)

void *snap_image_alloc(size_t len)
{
    void *image = NULL;

    if (len < HUGE_PAGE)
        return malloc(len != 0 ? len : 1);
    if (posix_memalign(&image, HUGE_PAGE, len) != 0)
        return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(image, len & ~(HUGE_PAGE - 1), MADV_HUGEPAGE); /* a hint: failure is ignored */
#endif
    return image;
}

/* 6.1 step 3: open the memory file of level l and check its length and trailer; on success
 * l->mem_fd is open. Runs before any image is allocated, so a small state file naming a huge
 * ram_size cannot make the loader reserve memory for nothing. */
static int open_mem(struct level *l, const struct walk *w)
{
    uint64_t size;
    int fd;
    int rc;

    rc = snap_path_join(l->mem_path, sizeof(l->mem_path), w->dir, l->hdr.mem_name);
    if (rc != 0)
        return snap_diag_set(w->diag, rc, 0, "path", l->hdr.mem_name,
                             "path of %s is too long", l->hdr.mem_name);
    rc = snap_io_open_regular(&fd, &size, w->io, l->mem_path, w->diag);
    if (rc == SNAP_ENOENT)
        return snap_diag_set(w->diag, SNAP_EPAIR, ENOENT, "open", l->mem_path,
                             "memory file %s is missing", l->mem_path);
    if (rc != 0)
        return rc;
    rc = check_trailer(fd, size, &l->hdr, w, l->mem_path);
    if (rc != 0) {
        snap_io_close_quiet(w->io, fd);
        return rc;
    }
    l->mem_fd = fd;
    return 0;
}

/* Check every stored page of level l (6.1 step 4), in stored order. scatter: copy each page to
 * its guest place in w->image (a diff on the way up); else pages go to dst packed (the full
 * pair of a load: the image itself) or, dst NULL, through w->chunk and are dropped. */
static int read_pages(const struct walk *w, const struct level *l, uint8_t *dst, bool scatter)
{
    const struct snap_header *h = &l->hdr;
    uint64_t per_chunk = SNAP_IO_CHUNK / h->page_size;
    uint64_t guest = 0;
    int rc = 0;

    for (uint64_t k = 0; rc == 0 && k < h->mem_pages; k += per_chunk) {
        uint64_t n = h->mem_pages - k < per_chunk ? h->mem_pages - k : per_chunk;
        uint8_t *buf = dst != NULL ? dst + k * h->page_size : w->chunk;

        rc = snap_io_read_all(w->io, l->mem_fd, buf, (size_t)(n * h->page_size),
                              k * h->page_size, l->mem_path, w->diag);
        for (uint64_t i = 0; rc == 0 && i < n; i++) {
            uint64_t want = snap_get_le64(l->page_crcs + 8 * (k + i));
            const uint8_t *page = buf + i * h->page_size;

            guest = next_stored(l->bitmap, guest);
            if (snap_crc64(0, page, h->page_size) != want) {
                rc = snap_diag_set(w->diag, SNAP_EPAGE, 0, "verify", l->mem_path,
                                   "page %llu of %s differs from what was saved (CRC)",
                                   (unsigned long long)guest, l->mem_path);
                if (w->diag != NULL && w->diag->code == SNAP_EPAGE)
                    w->diag->page = guest;
            } else if (scatter) {
                memcpy(w->image + guest * h->page_size, page, h->page_size);
            }
            guest++;
        }
    }
    return rc;
}

static int check_binding(const struct walk *w, const struct snap_header *h, const char *path,
                         const struct binding *want)
{
    if (want->snapshot_id != NULL &&
        (memcmp(h->snapshot_id, want->snapshot_id, sizeof(h->snapshot_id)) != 0 ||
         h->generation != want->generation))
        return snap_diag_set(w->diag, SNAP_EPAIR, 0, "pair", path,
                             "base mismatch: %s is not the pair %s was saved over", path,
                             want->diff_path);
    if ((h->page_size != want->page_size || h->ram_size != want->ram_size) &&
        want->snapshot_id == NULL)
        return snap_diag_set(w->diag, SNAP_EPAIR, 0, "validate", path,
                             "base %s has page_size %u and ram_size %llu, the new diff %u and "
                             "%llu",
                             path, h->page_size, (unsigned long long)h->ram_size,
                             want->page_size, (unsigned long long)want->ram_size);
    if (h->page_size != want->page_size || h->ram_size != want->ram_size)
        return snap_diag_set(w->diag, SNAP_EPAIR, 0, "pair", path,
                             "base mismatch: %s differs from %s in page_size or ram_size", path,
                             want->diff_path);
    return 0;
}

/* 6.1 step 1, second half: the VM state (section 4) and its compatibility. out NULL: decode,
 * check and drop. */
static int decode_state(const struct walk *w, const struct snap_envelope *env, const char *path,
                        struct snap_vm_state *out)
{
    struct snap_vm_state local;
    struct snap_vm_state *st = out != NULL ? out : &local;
    int rc = snap_state_decode(st, env->state, (size_t)env->hdr.state_len);

    if (rc != 0)
        return snap_diag_set(w->diag, rc, 0, "decode", path, "VM state in %s: %s", path,
                             snap_strerror(rc));
    rc = snap_state_verify_compatible(st, env->hdr.ram_size, w->diag);
    if (rc != 0)
        snap_diag_name_file(w->diag, path);
    if (rc != 0 || out == NULL)
        snap_state_finish(st);
    return rc;
}

/* The pair asked for keeps its decoded state and the state bytes as stored (load only). */
static int keep_top_state(struct walk *w, const struct snap_envelope *env, const char *path)
{
    struct snap_image *top = w->out;
    int rc;

    rc = decode_state(w, env, path, &top->state);
    if (rc != 0)
        return rc;
    top->state_len = (size_t)env->hdr.state_len;
    top->state_bytes = malloc(top->state_len != 0 ? top->state_len : 1);
    if (top->state_bytes == NULL)
        return snap_diag_set(w->diag, SNAP_ENOMEM, 0, "malloc", path, "no memory for the state");
    memcpy(top->state_bytes, env->state, top->state_len);
    return 0;
}

/* Keep a copy of the page map of a level (its state file is freed before the base is read). */
static int keep_page_map(struct walk *w, struct level *l, const struct snap_envelope *env)
{
    uint64_t bm_len = env->bitmap != NULL ? snap_bitmap_len(l->hdr.ram_size / l->hdr.page_size)
                                          : 0;
    uint64_t len = bm_len + 8 * l->hdr.mem_pages;

    l->page_map = malloc(len != 0 ? (size_t)len : 1);
    if (l->page_map == NULL)
        return snap_diag_set(w->diag, SNAP_ENOMEM, 0, "malloc", l->path,
                             "no memory for the page map of %s", l->path);
    if (bm_len != 0)
        memcpy(l->page_map, env->bitmap, (size_t)bm_len);
    if (l->hdr.mem_pages != 0)
        memcpy(l->page_map + bm_len, env->page_crcs, (size_t)(8 * l->hdr.mem_pages));
    l->bitmap = bm_len != 0 ? l->page_map : NULL;
    l->page_crcs = l->page_map + bm_len;
    return 0;
}

/* The way down, for level l = w->levels[w->depth - 1] whose id and path are set: steps 1-4 of
 * 6.1 (step 5's binding check for a base). */
static int visit(struct walk *w, struct level *l, const struct binding *want)
{
    struct snap_envelope env;
    struct snap_diag local;
    uint8_t *buf = NULL;
    size_t id_len = strlen(l->id);
    int rc;

    /* Step 1: the state file, its VM state included. */
    snap_diag_clear(&local);
    rc = snap_state_file_read(&buf, &env, w->io, l->path, &local);
    if (rc == SNAP_ENOENT && want != NULL && w->mode != WALK_STATES)
        return snap_diag_set(w->diag, SNAP_EPAIR, ENOENT, "pair", l->path,
                             "base %s of %s is missing", l->path, want->diff_path);
    if (rc != 0)
        return snap_diag_forward(w->diag, &local);
    l->hdr = env.hdr;
    if (w->out != NULL && w->depth == 1)
        rc = keep_top_state(w, &env, l->path);
    else
        rc = decode_state(w, &env, l->path, NULL);
    /* Step 5, the binding of a base: right after its step 1. */
    if (rc == 0 && want != NULL)
        rc = check_binding(w, &l->hdr, l->path, want);
    /* Step 2 (the codec checked the form, the <id> is checked here). */
    if (rc == 0 && (strncmp(l->hdr.mem_name, l->id, id_len) != 0 || l->hdr.mem_name[id_len] != '.'))
        rc = snap_diag_set(w->diag, SNAP_ECORRUPT, 0, "decode", l->path,
                           "mem_name %s of %s does not begin with its <id> %s", l->hdr.mem_name,
                           l->path, l->id);
    if (rc == 0 && w->mode != WALK_STATES) {
        /* Steps 3-4, with the page map of the state file still in memory. */
        l->bitmap = env.bitmap;
        l->page_crcs = env.page_crcs;
        rc = open_mem(l, w);
        if (rc == 0 && w->mode == WALK_LOAD && l->hdr.kind == SNAP_KIND_FULL) {
            /* The one full pair of a chain (its bottom) sizes the image, once its memory file
             * has shown ram_size + 64 bytes; every diff above is bound to the same ram_size. */
            w->image = snap_image_alloc((size_t)l->hdr.ram_size);
            if (w->image == NULL)
                rc = snap_diag_set(w->diag, SNAP_ENOMEM, 0, "malloc", l->path,
                                   "no memory for a guest image of %llu bytes",
                                   (unsigned long long)l->hdr.ram_size);
        }
        if (rc == 0)
            rc = read_pages(w, l, w->mode == WALK_LOAD && l->hdr.kind == SNAP_KIND_FULL
                                      ? w->image
                                      : NULL,
                            false);
        l->bitmap = NULL;
        l->page_crcs = NULL;
        if (rc == 0 && w->mode == WALK_LOAD && l->hdr.kind == SNAP_KIND_DIFF)
            rc = keep_page_map(w, l, &env);
    }
    free(buf);
    return rc;
}

/* Is id already a pair of the chain (the loop check of 6.1 step 5)? */
static bool in_chain(const struct walk *w, const char *id)
{
    if (w->above_id != NULL && strcmp(w->above_id, id) == 0)
        return true;
    for (unsigned i = 0; i < w->depth; i++)
        if (strcmp(w->levels[i].id, id) == 0)
            return true;
    return false;
}

/* Walk the chain down from id, then (load) back up. */
static int walk_chain(struct walk *w, const char *id, const struct binding *first)
{
    struct binding base;
    const struct binding *want = first;
    int rc;

    for (;;) {
        struct level *l = &w->levels[w->depth];
        char name[SNAP_PATH_CAP];

        memcpy(l->id, id, strlen(id) + 1);
        if (snap_name_state(name, sizeof(name), id) != 0 ||
            snap_path_join(l->path, sizeof(l->path), w->dir, name) != 0)
            return snap_diag_set(w->diag, SNAP_EINVAL, 0, "path", id, "bad id or path for %s",
                                 id);
        w->depth++;
        rc = visit(w, l, want);
        if (rc != 0)
            return rc;
        if (w->depth == 1)
            w->top = l->hdr;
        if (l->hdr.kind == SNAP_KIND_FULL)
            break;
        /* Step 5: a diff. Its base must not be a pair of the chain already, and the chain
         * must stay within SNAP_MAX_CHAIN diffs. */
        if (in_chain(w, l->hdr.base_name))
            return snap_diag_set(w->diag, SNAP_EPAIR, 0, "pair", l->path,
                                 "loop in the diff chain at %s: its base %s is already in the "
                                 "chain",
                                 l->path, l->hdr.base_name);
        if (w->diffs_above + w->depth > SNAP_MAX_CHAIN)
            return snap_diag_set(w->diag, SNAP_ELIMIT, 0, "pair", l->path,
                                 "%s is more than %u diffs above a full snapshot", l->path,
                                 SNAP_MAX_CHAIN);
        base.diff_path = l->path;
        base.snapshot_id = l->hdr.base_id;
        base.generation = l->hdr.base_generation;
        base.page_size = l->hdr.page_size;
        base.ram_size = l->hdr.ram_size;
        want = &base;
        id = l->hdr.base_name;
    }
    /* Load: the full pair is in the image; apply the diffs from the bottom up. */
    for (unsigned i = w->depth - 1; w->mode == WALK_LOAD && i-- > 0;) {
        rc = read_pages(w, &w->levels[i], NULL, true);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Set up a walk; @return 0 or SNAP_ENOMEM (recorded). */
static int walk_init(struct walk *w, const struct snap_io *io, const char *dir, enum walk_mode mode,
                     struct snap_diag *diag)
{
    memset(w, 0, sizeof(*w));
    w->io = io;
    w->dir = dir;
    w->diag = diag;
    w->mode = mode;
    w->levels = calloc(SNAP_MAX_CHAIN + 1, sizeof(*w->levels));
    if (w->levels == NULL)
        return snap_diag_set(diag, SNAP_ENOMEM, 0, "malloc", NULL, "no memory for a chain walk");
    for (unsigned i = 0; i <= SNAP_MAX_CHAIN; i++)
        w->levels[i].mem_fd = -1;
    if (mode != WALK_STATES) {
        w->chunk = malloc(SNAP_IO_CHUNK);
        if (w->chunk == NULL)
            return snap_diag_set(diag, SNAP_ENOMEM, 0, "malloc", NULL, "no memory for a chunk");
    }
    return 0;
}

static void walk_finish(struct walk *w)
{
    for (unsigned i = 0; w->levels != NULL && i <= SNAP_MAX_CHAIN; i++) {
        if (w->levels[i].mem_fd >= 0)
            snap_io_close_quiet(w->io, w->levels[i].mem_fd);
        free(w->levels[i].page_map);
    }
    free(w->levels);
    free(w->chunk);
    free(w->image);
}

int snap_pair_load(struct snap_image *out, const struct snap_io *io, const char *dir,
                   const char *id, struct snap_diag *diag)
{
    struct walk w;
    int rc;

    snap_diag_clear(diag);
    if (out == NULL)
        return snap_diag_set(diag, SNAP_EINVAL, 0, "load", NULL, "load: NULL image");
    memset(out, 0, sizeof(*out));
    if (io == NULL || dir == NULL || id == NULL || !snap_id_valid(id))
        return snap_diag_set(diag, SNAP_EINVAL, 0, "load", NULL,
                             "load: NULL argument or invalid <id>");
    rc = walk_init(&w, io, dir, WALK_LOAD, diag);
    w.out = out;
    if (rc == 0)
        rc = walk_chain(&w, id, NULL);
    if (rc != 0) {
        snap_image_finish(out);
    } else {
        out->hdr = w.top;
        out->memory = w.image;
        w.image = NULL;
    }
    walk_finish(&w);
    return rc;
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
    struct walk w;
    int rc;

    snap_diag_clear(diag);
    if (io == NULL || dir == NULL || id == NULL || !snap_id_valid(id))
        return snap_diag_set(diag, SNAP_EINVAL, 0, "verify", NULL,
                             "verify: NULL argument or invalid <id>");
    rc = walk_init(&w, io, dir, WALK_VERIFY, diag);
    if (rc == 0)
        rc = walk_chain(&w, id, NULL);
    walk_finish(&w);
    return rc;
}

int snap_chain_check(struct snap_header *out, const struct snap_io *io, const char *dir,
                     const char *new_id, const char *base_id, uint32_t page_size,
                     uint64_t ram_size, struct snap_diag *diag)
{
    struct binding geometry = {NULL, NULL, 0, page_size, ram_size};
    struct walk w;
    char name[SNAP_PATH_CAP];
    char path[SNAP_PATH_CAP];
    int rc;

    if (snap_name_state(name, sizeof(name), new_id) != 0 ||
        snap_path_join(path, sizeof(path), dir, name) != 0)
        return snap_diag_set(diag, SNAP_EINVAL, 0, "path", new_id, "bad path for %s", new_id);
    geometry.diff_path = path;
    rc = walk_init(&w, io, dir, WALK_STATES, diag);
    w.diffs_above = 1;
    w.above_id = new_id;
    if (rc == 0)
        rc = walk_chain(&w, base_id, &geometry);
    if (rc == 0)
        *out = w.top;
    walk_finish(&w);
    return rc;
}
