/* Interoperability (reference format): at each page size, pairs saved by the IUT (a full pair
 * and a chain of two diffs above it) must load and verify in libsnapref with the exact bytes,
 * and their headers must follow docs/FORMAT.md 3.1 and match the request; pairs saved by
 * libsnapref must load in the IUT. */
#include "conform-priv.h"
#include "util.h"

#include <snap/snap.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Compare a loaded image with a payload: "" when equal, else what differs in why. */
static bool image_equals(char *why, size_t cap, const struct snap_image *img,
                         const struct payload *p)
{
    if (img->state_len != p->state_len || memcmp(img->state_bytes, p->state, p->state_len)) {
        snprintf(why, cap, "the state differs (%zu bytes instead of %zu)", img->state_len,
                 p->state_len);
        return false;
    }
    if (img->hdr.ram_size != p->mem_len) {
        snprintf(why, cap, "ram_size %llu instead of %zu", (unsigned long long)img->hdr.ram_size,
                 p->mem_len);
        return false;
    }
    if (memcmp(img->memory, p->mem, p->mem_len)) {
        snprintf(why, cap, "the memory image differs");
        return false;
    }
    return true;
}

/* The header rules the decoder does not know: what this writer was asked to write. */
static void check_header(struct conform *c, const struct snap_header *h, const char *id,
                         enum snap_kind kind, uint32_t ps, uint64_t ram,
                         const struct snap_header *base, const char *base_id)
{
    char want_mem[80], why[300] = "";
    snprintf(want_mem, sizeof want_mem, "%s.g%llu.mem", id, (unsigned long long)h->generation);
    if (h->version_major != 1 || h->version_minor != 0)
        snprintf(why, sizeof why, "version %u.%u (a 1.0 writer writes 1.0)", h->version_major,
                 h->version_minor);
    else if (h->flags)
        snprintf(why, sizeof why, "flags 0x%x (none is defined in 1.0)", h->flags);
    else if (h->kind != kind)
        snprintf(why, sizeof why, "kind %u instead of %u", h->kind, (unsigned)kind);
    else if (h->page_size != ps)
        snprintf(why, sizeof why, "page_size %u instead of the requested %u", h->page_size, ps);
    else if (h->ram_size != ram)
        snprintf(why, sizeof why, "ram_size %llu instead of %llu", (unsigned long long)h->ram_size,
                 (unsigned long long)ram);
    else if (strcmp(h->mem_name, want_mem))
        snprintf(why, sizeof why, "mem_name '%s' instead of '%s'", h->mem_name, want_mem);
    else if (base && (strcmp(h->base_name, base_id) || memcmp(h->base_id, base->snapshot_id, 16) ||
                      h->base_generation != base->generation))
        snprintf(why, sizeof why, "the base fields do not name %s (generation %llu)", base_id,
                 (unsigned long long)base->generation);
    if (why[0])
        conform_fail(c, "F-WRITE-3.1", "%s.snap saved by the IUT at %u-byte pages: %s", id, ps,
                     why);
    else
        conform_pass(c, "F-WRITE-3.1",
                     "every header saved by the IUT decodes and matches its "
                     "request");
}

/* Load <id> of dir with libsnapref and compare; record under req. hdr_out may be NULL. */
static bool ref_loads(struct conform *c, const char *req, const char *dir, const char *id,
                      const struct payload *p, uint32_t ps, struct snap_header *hdr_out)
{
    struct snap_diag diag;
    snap_diag_clear(&diag);
    int rc = snap_pair_verify(&snap_io_posix, dir, id, &diag);
    if (rc) {
        conform_fail(c, req,
                     "pair %s saved by the IUT at %u-byte pages does not verify in the "
                     "reference: %s: %s",
                     id, ps, snap_strerror(rc), diag.msg);
        if (rc == SNAP_ECORRUPT || rc == SNAP_EVERSION || rc == SNAP_EMAGIC || rc == SNAP_ELIMIT)
            conform_fail(c, "F-WRITE-3.1", "%s.snap at %u-byte pages: %s: %s", id, ps,
                         snap_strerror(rc), diag.msg);
        return false;
    }
    struct snap_image img;
    rc = snap_pair_load(&img, &snap_io_posix, dir, id, &diag);
    if (rc) {
        conform_fail(c, req, "pair %s saved by the IUT at %u-byte pages: reference load: %s: %s",
                     id, ps, snap_strerror(rc), diag.msg);
        return false;
    }
    char why[300];
    bool same = image_equals(why, sizeof why, &img, p);
    if (!same)
        conform_fail(c, req,
                     "pair %s saved by the IUT at %u-byte pages loads in the reference, "
                     "but %s",
                     id, ps, why);
    else
        conform_pass(c, req, "the reference loads the IUT's pairs exactly");
    if (hdr_out)
        *hdr_out = img.hdr;
    snap_image_finish(&img);
    return same;
}

/* The reference's own save of payload p (libsnapref in this process). */
static int ref_save(char *err, size_t cap, const char *dir, const char *id, const struct payload *p,
                    uint32_t ps, const char *base, const uint8_t *dirty)
{
    struct snap_vm_state st;
    int rc = snap_state_decode(&st, p->state, p->state_len);
    if (rc) {
        snprintf(err, cap, "the %s state does not decode: %s", p->name, snap_strerror(rc));
        return -1;
    }
    struct snap_save_req req = {.dir = dir,
                                .id = id,
                                .kind = base ? SNAP_KIND_DIFF : SNAP_KIND_FULL,
                                .state = &st,
                                .memory = p->mem,
                                .ram_size = p->mem_len,
                                .page_size = ps,
                                .dirty = dirty,
                                .base_id = base};
    struct snap_diag diag;
    snap_diag_clear(&diag);
    rc = snap_pair_save(NULL, &snap_io_posix, &req, &diag);
    snap_state_finish(&st);
    if (rc) {
        snprintf(err, cap, "the reference cannot save %s: %s: %s", id, snap_strerror(rc), diag.msg);
        return -1;
    }
    return 0;
}

static int at_page_size(struct conform *c, const struct dataset *d)
{
    uint32_t ps = d->page_size;
    const struct payload *prior = &d->p[P_PRIOR], *d1 = &d->p[P_D1], *d2 = &d->p[P_D2];
    char dir[600], err[700], upath[700];
    /* D2 over D1: every page outside both bitmaps equals PRIOR in both images. */
    uint8_t *uni = xmalloc(d2->dirty_len);
    for (size_t i = 0; i < d2->dirty_len; i++)
        uni[i] = (uint8_t)(d1->dirty[i] | d2->dirty[i]);
    if (conform_scratch(c, dir, sizeof dir, "interop-iut") != 0 ||
        fmt_path(upath, sizeof upath, "%s/union-%u.dirty", c->workdir, c->seq) ||
        file_write(upath, uni, d2->dirty_len) != 0) {
        free(uni);
        fprintf(stderr, "snapcheck conform: set-up error: cannot write under %s\n", c->workdir);
        return -1;
    }
    /* The IUT writes, the reference reads. */
    if (conform_save(c, dir, "vm", prior, ps, NULL, NULL, err, sizeof err) != 0) {
        if (ps == 4096)
            conform_fail(c, "F-IOP-01", "%s", err);
        else if (!c->opt.quiet)
            fprintf(stderr, "snapcheck conform: the IUT does not save %u-byte pages (%s)\n", ps,
                    err);
    } else {
        struct snap_header hv, h1;
        if (ref_loads(c, "F-IOP-01", dir, "vm", prior, ps, &hv)) {
            check_header(c, &hv, "vm", SNAP_KIND_FULL, ps, prior->mem_len, NULL, NULL);
            if (c->cap_diff) {
                if (conform_save(c, dir, "vm-d1", d1, ps, "vm", d1->dirty_path, err, sizeof err) ||
                    conform_save(c, dir, "vm-d2", d2, ps, "vm-d1", upath, err, sizeof err)) {
                    conform_fail(c, "F-IOP-02", "%s", err);
                } else if (ref_loads(c, "F-IOP-02", dir, "vm-d1", d1, ps, &h1)) {
                    struct snap_header h2;
                    check_header(c, &h1, "vm-d1", SNAP_KIND_DIFF, ps, d1->mem_len, &hv, "vm");
                    if (ref_loads(c, "F-IOP-02", dir, "vm-d2", d2, ps, &h2))
                        check_header(c, &h2, "vm-d2", SNAP_KIND_DIFF, ps, d2->mem_len, &h1,
                                     "vm-d1");
                }
            }
        }
    }
    /* The reference writes, the IUT reads (every page size: a reader reads them all). */
    if (conform_scratch(c, dir, sizeof dir, "interop-ref") != 0 ||
        ref_save(err, sizeof err, dir, "vm", prior, ps, NULL, NULL) ||
        ref_save(err, sizeof err, dir, "vm-d1", d1, ps, "vm", d1->dirty) ||
        ref_save(err, sizeof err, dir, "vm-d2", d2, ps, "vm-d1", uni)) {
        free(uni);
        fprintf(stderr, "snapcheck conform: set-up error: %s\n", err);
        return -1;
    }
    free(uni);
    struct {
        const char *req, *id;
        const struct payload *p;
    } loads[] = {{"F-IOP-03", "vm", prior}, {"F-IOP-04", "vm-d1", d1}, {"F-IOP-04", "vm-d2", d2}};
    for (size_t i = 0; i < sizeof loads / sizeof loads[0]; i++) {
        struct load_check lc;
        conform_load(&lc, c, dir, loads[i].id, loads[i].p->state, loads[i].p->state_len,
                     loads[i].p->mem, loads[i].p->mem_len, ps);
        if (lc.outcome == LOAD_EXACT)
            conform_pass(c, loads[i].req, "the IUT loads the reference's pairs exactly");
        else
            conform_fail(c, loads[i].req, "pair %s saved by the reference at %u-byte pages: %s",
                         loads[i].id, ps, lc.text);
    }
    return 0;
}

int conform_interop(struct conform *c)
{
    static const uint32_t sizes[] = {4096, 16384, 65536};
    for (size_t i = 0; i < 3; i++) {
        uint32_t ps = sizes[i];
        if (c->opt.page_size && c->opt.page_size != ps)
            continue;
        if (!c->opt.quiet)
            fprintf(stderr, "snapcheck conform: interoperability at %u-byte pages\n", ps);
        struct dataset other, *d = &c->data;
        if (ps != c->data.page_size) {
            char dir[600], err[300];
            if (conform_scratch(c, dir, sizeof dir, "inputs") != 0 ||
                dataset_create(&other, dir, c->opt.seed, ps, err, sizeof err) != 0) {
                fprintf(stderr, "snapcheck conform: set-up error: inputs at %u-byte pages\n", ps);
                return -1;
            }
            d = &other;
        }
        int rc = at_page_size(c, d);
        if (d != &c->data)
            dataset_finish(d);
        if (rc)
            return -1;
    }
    if (!c->cap_diff)
        conform_na(c, "F-IOP-02", "the IUT does not list save-diff");
    return 0;
}
