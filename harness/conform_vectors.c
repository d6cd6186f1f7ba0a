/* Decoder conformance (reference format): every golden vector of tests/vectors (MANIFEST) is
 * placed as a pair in a directory of its own and loaded through the IUT. A vector holds only
 * the state file; the memory file it names (and, for a diff, its base pair) is built here the
 * way tests/vectors/README.md describes the contents: page i of generation g is page_size bytes
 * of (7i + g) mod 256. So an invalid vector is refused only for what its state file breaks.
 * Valid vectors must load to the exact bytes; invalid ones must be refused. */
#include "conform-priv.h"
#include "util.h"

#include <snap/snap.h>

#include <limits.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VEC_MAX_MEM ((uint64_t)64 << 20) /* the vectors describe a 1 MiB guest */

/* Which requirement a vector exercises, by file-name prefix (first match wins). */
static const char *const vec_req[][2] = {
    {"ok_minor_compat_flag", "F-HDR-03"},
    {"ok_", "F-VALID-1"},
    {"bad_empty", "F-HDR-01"},
    {"bad_zero", "F-HDR-01"},
    {"bad_magic", "F-HDR-01"},
    {"bad_trunc_", "F-LEN-01"},
    {"bad_trailing", "F-LEN-02"},
    {"bad_crc_", "F-CRC-01"},
    {"bad_mem_name_", "F-HDR-19"},
    {"bad_bitmap_", "F-MAP-01"},
    {"bad_major", "F-HDR-02"},
    {"bad_header_len", "F-HDR-04"},
    {"bad_payload_", "F-HDR-05"},
    {"bad_schema", "F-HDR-06"},
    {"bad_incompat_flag", "F-HDR-07"},
    {"bad_kind", "F-HDR-08"},
    {"bad_page_size", "F-HDR-09"},
    {"bad_ram_", "F-HDR-10"},
    {"bad_snapshot_id", "F-HDR-11"},
    {"bad_generation", "F-HDR-12"},
    {"bad_full_base_id", "F-HDR-13"},
    {"bad_diff_base_id", "F-HDR-13"},
    {"bad_full_base_gen", "F-HDR-14"},
    {"bad_diff_base_gen", "F-HDR-14"},
    {"bad_state_len", "F-HDR-15"},
    {"bad_mem_pages", "F-HDR-16"},
    {"bad_diff_mem_pages", "F-HDR-16"},
    {"bad_mem_file_len", "F-HDR-17"},
    {"bad_reserved", "F-HDR-18"},
    {"bad_full_base_name", "F-HDR-20"},
    {"bad_diff_base_name", "F-HDR-20"},
    {"bad_state_", "F-STATE-01"},
    {"bad_incompat_", "F-COMPAT-01"},
};

static const char *requirement_of(const char *file, bool ok)
{
    for (size_t i = 0; i < sizeof vec_req / sizeof vec_req[0]; i++)
        if (!strncmp(file, vec_req[i][0], strlen(vec_req[i][0])))
            return vec_req[i][1];
    return ok ? "F-VALID-1" : NULL; /* F-VEC-1 alone */
}

/* The header fields as stored, without any check (a damaged vector is still placed). */
struct raw_hdr {
    uint32_t kind, page_size;
    uint64_t ram_size, generation, base_generation, state_len, mem_pages;
    uint8_t snapshot_id[16], base_id[16];
    char mem_name[65], base_name[65];
};

static void raw_name(char dst[65], const uint8_t *src)
{
    memcpy(dst, src, 64);
    dst[64] = 0;
}

static bool file_name_ok(const char *s)
{
    if (!*s || !strcmp(s, ".") || !strcmp(s, ".."))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.'))
            return false;
    return true;
}

static int raw_decode(struct raw_hdr *h, const uint8_t *b, size_t len)
{
    if (len < SNAP_HEADER_LEN)
        return -1;
    h->kind = snap_get_le32(b + 32);
    h->page_size = snap_get_le32(b + 36);
    h->ram_size = snap_get_le64(b + 40);
    memcpy(h->snapshot_id, b + 48, 16);
    h->generation = snap_get_le64(b + 64);
    memcpy(h->base_id, b + 72, 16);
    h->base_generation = snap_get_le64(b + 88);
    h->state_len = snap_get_le64(b + 96);
    h->mem_pages = snap_get_le64(b + 104);
    raw_name(h->mem_name, b + 128);
    raw_name(h->base_name, b + 192);
    return 0;
}

static uint8_t page_value(uint64_t page, uint64_t gen)
{
    return (uint8_t)((7 * page + gen) % 256);
}

/* The dirty bitmap of a diff vector, if it lies inside the file; NULL otherwise. */
static const uint8_t *raw_bitmap(const struct raw_hdr *h, const uint8_t *b, size_t len)
{
    if (h->kind != SNAP_KIND_DIFF || !h->page_size || h->ram_size / h->page_size > (1u << 24))
        return NULL;
    uint64_t bm_len = snap_bitmap_len(h->ram_size / h->page_size);
    if (h->state_len > len || SNAP_HEADER_LEN + h->state_len + bm_len > len)
        return NULL;
    return b + SNAP_HEADER_LEN + h->state_len;
}

/* Write the memory file the header names: mem_pages pages then a matching trailer.
 * @return 0, or 1 when the header does not allow one (nothing written). */
static int place_memory(const char *dir, const struct raw_hdr *h, const uint8_t *bitmap)
{
    uint32_t ps = h->page_size;
    if (ps < 512 || ps > (1u << 20) || (ps & (ps - 1)) || !file_name_ok(h->mem_name) ||
        h->mem_pages > VEC_MAX_MEM / ps)
        return 1;
    size_t body = (size_t)h->mem_pages * ps;
    uint8_t *m = xmalloc(body + SNAP_MEM_TRAILER_LEN);
    uint64_t guest = 0, pages = h->ram_size / ps;
    for (uint64_t k = 0; k < h->mem_pages; k++, guest++) {
        if (bitmap)
            while (guest < pages && !snap_bitmap_test(bitmap, guest))
                guest++;
        memset(m + k * ps, page_value(guest, h->generation), ps);
    }
    struct snap_mem_trailer t = {
        .generation = h->generation, .mem_pages = h->mem_pages, .page_size = ps, .kind = h->kind};
    memcpy(t.snapshot_id, h->snapshot_id, 16);
    snap_mem_trailer_encode(m + body, &t);
    char path[700];
    int rc = fmt_path(path, sizeof path, "%s/%s", dir, h->mem_name) ||
             file_write(path, m, body + SNAP_MEM_TRAILER_LEN);
    free(m);
    return rc ? -1 : 0;
}

/* The full base pair a diff vector names, with the vector's state bytes.
 * @return 0, or 1 when the header does not allow one. */
static int place_base(const char *dir, const struct raw_hdr *h, const uint8_t *b, size_t len)
{
    uint32_t ps = h->page_size;
    if (!snap_id_valid(h->base_name) || ps < 512 || (ps & (ps - 1)) || h->ram_size % ps ||
        h->ram_size > VEC_MAX_MEM || !h->ram_size || h->state_len > len - SNAP_HEADER_LEN ||
        !h->base_generation || h->base_generation >= (1ull << 63))
        return 1;
    struct snap_header bh = {.version_major = SNAP_VERSION_MAJOR,
                             .version_minor = 0,
                             .header_len = SNAP_HEADER_LEN,
                             .schema_version = SNAP_SCHEMA_VERSION,
                             .kind = SNAP_KIND_FULL,
                             .page_size = ps,
                             .ram_size = h->ram_size,
                             .generation = h->base_generation,
                             .state_len = h->state_len,
                             .mem_pages = h->ram_size / ps};
    memcpy(bh.snapshot_id, h->base_id, 16);
    bh.mem_file_len = bh.mem_pages * ps + SNAP_MEM_TRAILER_LEN;
    bh.payload_len = bh.state_len + 8 * bh.mem_pages;
    if (snap_name_mem(bh.mem_name, sizeof bh.mem_name, h->base_name, h->base_generation) != 0)
        return 1;
    uint64_t *crcs = xmalloc(bh.mem_pages * sizeof *crcs);
    uint8_t *page = xmalloc(ps);
    for (uint64_t i = 0; i < bh.mem_pages; i++) {
        memset(page, page_value(i, bh.generation), ps);
        crcs[i] = snap_crc64(0, page, ps);
    }
    free(page);
    size_t cap = snap_envelope_len(&bh), out_len = 0;
    uint8_t *sf = xmalloc(cap);
    int rc = snap_envelope_encode(sf, cap, &out_len, &bh, b + SNAP_HEADER_LEN, NULL, crcs);
    free(crcs);
    char path[700];
    if (rc == 0)
        rc = fmt_path(path, sizeof path, "%s/%s.snap", dir, h->base_name) ||
             file_write(path, sf, out_len);
    free(sf);
    if (rc)
        return -1;
    struct raw_hdr bm = *h;
    bm.kind = SNAP_KIND_FULL;
    bm.generation = h->base_generation;
    bm.mem_pages = h->ram_size / ps;
    memcpy(bm.snapshot_id, h->base_id, 16);
    snprintf(bm.mem_name, sizeof bm.mem_name, "%s", bh.mem_name);
    return place_memory(dir, &bm, NULL);
}

/* Names of the errors, to compare what the IUT says with what the vector expects. */
static const char *named_error(const char *text, char *dst, size_t cap)
{
    const char *p = strstr(text, "SNAP_E");
    if (!p)
        return NULL;
    size_t n = 0;
    while (p[n] == '_' || (p[n] >= 'A' && p[n] <= 'Z'))
        n++;
    snprintf(dst, cap, "%.*s", (int)n, p);
    return dst;
}

struct vec_stats {
    unsigned ok_loaded, bad_refused, named_right, named_wrong, named_none;
    char wrong_names[300];
};

/* What the load of one vector gave, against what the MANIFEST expects. placed_ok: a valid
 * vector whose pair could be placed (else it cannot be judged and fails F-VEC-1). */
static void judge_vector(struct conform *c, struct vec_stats *st, const char *file,
                         const char *expect, const char *desc, const char *req, bool placed_ok,
                         const struct load_check *lcp)
{
    struct load_check lc = *lcp;
    bool ok = !strcmp(expect, "ok");
    const bool mem = placed_ok;
    if (ok) {
        if (!mem) {
            conform_fail(c, "F-VEC-1", "valid vector %s could not be placed as a pair", file);
        } else if (lc.outcome == LOAD_EXACT) {
            st->ok_loaded++;
            conform_pass(c, "F-VEC-1", "valid vectors load exactly");
            conform_pass(c, req, file);
        } else {
            conform_fail(c, "F-VEC-1", "valid vector %s (%s) not loaded: %s", file, desc, lc.text);
            conform_fail(c, req, "valid vector %s (%s): %s", file, desc, lc.text);
        }
    } else if (lc.outcome == LOAD_REFUSED) {
        st->bad_refused++;
        conform_pass(c, "F-VEC-1", "invalid vectors refused");
        if (req)
            conform_pass(c, req, file);
        char errp[700], name[40];
        uint8_t *e = NULL;
        size_t elen = 0;
        snprintf(errp, sizeof errp, "%s/iut.err", c->workdir);
        if (file_read(&e, &elen, errp, 1 << 20) == 0 && named_error((char *)e, name, sizeof name)) {
            if (!strcmp(name, expect)) {
                st->named_right++;
            } else {
                st->named_wrong++;
                char one[120];
                snprintf(one, sizeof one, "%s%s: %s instead of %s", st->wrong_names[0] ? "; " : "",
                         file, name, expect);
                str_append(st->wrong_names, sizeof st->wrong_names, one);
            }
        } else {
            st->named_none++;
        }
        free(e);
    } else {
        const char *how = lc.outcome == LOAD_ABNORMAL ? "not refused cleanly" : "accepted";
        const char *text = lc.outcome == LOAD_ABNORMAL ? lc.text : "load exit 0";
        conform_fail(c, "F-VEC-1", "invalid vector %s (%s, expected %s) %s: %s", file, desc, expect,
                     how, text);
        if (req)
            conform_fail(c, req, "vector %s (%s, expected %s) %s: %s", file, desc, expect, how,
                         text);
        if (lc.outcome == LOAD_ABNORMAL)
            conform_fail(c, "P-LOAD-2", "load of vector %s: %s", file, lc.text);
    }
}

static void check_vector(struct conform *c, struct vec_stats *st, const char *vdir,
                         const char *file, const char *expect, const char *desc)
{
    bool ok = !strcmp(expect, "ok");
    const char *req = requirement_of(file, ok);
    char path[1200], dir[600];
    uint8_t *b = NULL;
    size_t len = 0;
    if (fmt_path(path, sizeof path, "%s/files/%s", vdir, file) ||
        file_read(&b, &len, path, (size_t)256 << 20) != 0) {
        conform_fail(c, "F-VEC-1", "vector %s cannot be read (%s)", file, path);
        return;
    }
    char stem[128];
    snprintf(stem, sizeof stem, "%.*s", (int)(strlen(file) > 5 ? strlen(file) - 5 : 0), file);
    if (conform_scratch(c, dir, sizeof dir, "vector") != 0 ||
        fmt_path(path, sizeof path, "%s/%s", dir, file) || file_write(path, b, len) != 0) {
        free(b);
        conform_fail(c, "F-VEC-1", "vector %s cannot be placed in %s", file, dir);
        return;
    }
    struct raw_hdr h;
    bool placed = raw_decode(&h, b, len) == 0 && place_memory(dir, &h, raw_bitmap(&h, b, len)) == 0;
    if (placed && h.kind == SNAP_KIND_DIFF)
        placed = place_base(dir, &h, b, len) == 0;
    /* The pair a valid vector stands for. */
    uint8_t *mem = NULL;
    size_t mem_len = 0;
    const uint8_t *state = NULL;
    size_t state_len = 0;
    if (ok && placed && h.ram_size <= VEC_MAX_MEM && h.state_len <= len - SNAP_HEADER_LEN) {
        mem_len = (size_t)h.ram_size;
        mem = xmalloc(mem_len ? mem_len : 1);
        const uint8_t *bm = raw_bitmap(&h, b, len);
        for (uint64_t i = 0; i < h.ram_size / h.page_size; i++) {
            bool dirty = h.kind == SNAP_KIND_FULL || (bm && snap_bitmap_test(bm, i));
            memset(mem + i * h.page_size, page_value(i, dirty ? h.generation : h.base_generation),
                   h.page_size);
        }
        state = b + SNAP_HEADER_LEN;
        state_len = (size_t)h.state_len;
    }
    struct load_check lc;
    conform_load(&lc, c, dir, stem, state, state_len, mem, mem_len,
                 placed && h.page_size ? h.page_size : 4096);
    judge_vector(c, st, file, expect, desc, req, ok && mem, &lc);
    free(mem);
    free(b);
}

/* A pair directory vector "<case>/<id>.snap": the directory files/<case> as it is, <id> loaded
 * through the IUT; a valid one must give what the reference loads from it. */
static void check_pair_dir(struct conform *c, struct vec_stats *st, const char *vdir,
                           const char *file, const char *expect, const char *desc)
{
    bool ok = !strcmp(expect, "ok");
    const char *slash = strrchr(file, '/');
    char src[1200], dir[600], id[128];
    struct fset fs;
    snprintf(id, sizeof id, "%.*s", (int)(strlen(slash + 1) > 5 ? strlen(slash + 1) - 5 : 0),
             slash + 1);
    if (fmt_path(src, sizeof src, "%s/files/%.*s", vdir, (int)(slash - file), file) ||
        fset_read(&fs, src) != 0) {
        conform_fail(c, "F-VEC-1", "vector directory of %s cannot be read (%s)", file, src);
        return;
    }
    int rc = conform_scratch(c, dir, sizeof dir, "vector-dir") || fset_write(&fs, dir);
    fset_finish(&fs);
    if (rc) {
        conform_fail(c, "F-VEC-1", "vector %s cannot be placed in %s", file, dir);
        return;
    }
    struct snap_image img;
    bool have = ok && snap_pair_load(&img, &snap_io_posix, dir, id, NULL) == 0;
    struct load_check lc;
    conform_load(&lc, c, dir, id, have ? img.state_bytes : NULL, have ? img.state_len : 0,
                 have ? img.memory : NULL, have ? (size_t)img.hdr.ram_size : 0,
                 have ? img.hdr.page_size : 4096);
    if (have)
        snap_image_finish(&img);
    judge_vector(c, st, file, expect, desc, requirement_of(slash + 1, ok), have, &lc);
}

int conform_vectors(struct conform *c)
{
    const char *vdir = c->opt.vectors_dir;
    char mpath[PATH_MAX];
    uint8_t *m = NULL;
    size_t mlen = 0;
    if (!vdir || fmt_path(mpath, sizeof mpath, "%s/MANIFEST", vdir) ||
        file_read(&m, &mlen, mpath, 1 << 20) != 0) {
        fprintf(stderr,
                "snapcheck conform: set-up error: the golden vectors are missing (%s/MANIFEST "
                "cannot be read): give --vectors DIR\n",
                vdir ? vdir : "no directory");
        return -1;
    }
    if (!c->opt.quiet)
        fprintf(stderr, "snapcheck conform: golden vectors of %s\n", vdir);
    struct vec_stats st = {0};
    unsigned n = 0;
    char *save = NULL;
    for (char *line = strtok_r((char *)m, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#' || !line[0])
            continue;
        char *file = line, *sp1 = strchr(line, ' ');
        if (!sp1)
            continue;
        *sp1 = 0;
        char *expect = sp1 + 1, *sp2 = strchr(expect, ' ');
        const char *desc = "";
        if (sp2) {
            *sp2 = 0;
            desc = sp2 + 1;
        }
        if (!strcmp(expect, "-"))
            continue; /* another file of a pair directory */
        if (strchr(file, '/'))
            check_pair_dir(c, &st, vdir, file, expect, desc);
        else
            check_vector(c, &st, vdir, file, expect, desc);
        n++;
    }
    free(m);
    if (!n) {
        fprintf(stderr, "snapcheck conform: set-up error: %s lists no vector\n", mpath);
        return -1;
    }
    /* Error names: required by FORMAT.md 3.2, but the adapter contract does not carry them. */
    char ev[500];
    if (st.named_wrong) {
        conform_fail(c, "F-ERR-01", "%u refusals name another error than the vector's: %s",
                     st.named_wrong, st.wrong_names);
    } else if (st.named_right) {
        snprintf(ev, sizeof ev, "%u of %u refusals name the expected error, %u name none",
                 st.named_right, st.bad_refused, st.named_none);
        conform_pass(c, "F-ERR-01", ev);
    } else {
        conform_na(c, "F-ERR-01",
                   "the IUT's messages name no SNAP_E* error (the adapter "
                   "contract does not require them)");
    }
    return 0;
}
