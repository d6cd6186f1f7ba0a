/* Corruption probing (both formats): committed pairs saved by the IUT are damaged the way
 * disks and operators damage them, one damage per probe in a fresh copy of the directory, and
 * the IUT's load must refuse or return the exact pair, never other bytes with exit 0.
 *
 * Method: the IUT saves vm twice (PRIOR, then NEW: the committed pair and an older
 * generation), another snapshot of the same bytes (other), and, with save-diff, a diff over a
 * base. Each probe copies one committed directory and applies one damage: a bit flip (in the
 * reference format at each header field, the state, the page map, the trailer, pages and memory
 * trailer fields; in another format at fixed and sampled offsets), a truncation, an extension,
 * a zeroed page, a deleted file, a file replaced by its counterpart of the older generation or
 * of the other snapshot (matched by name, the id and numbers aside), or the files a save leaves
 * when it crashes just before its last rename (through the interposer). The structural probes
 * come first, then seeded random bit flips up to --max-probes; the same seed gives the same
 * probes. In the reference format every damage must be refused (FORMAT.md 6.1), a stale
 * temporary must not change the pair, and each probe is also charged to the rule it tests. */
#include "census.h"
#include "conform-priv.h"
#include "util.h"

#include <snap/snap.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum damage { D_FLIP, D_TRUNC, D_EXTEND, D_ZERO_PAGE, D_DELETE, D_SWAP, D_STALE };

struct probe {
    unsigned target; /* index into targets */
    enum damage kind;
    unsigned file;          /* index into the target's fset */
    size_t off, len;        /* flip: byte; trunc: new length; extend: added bytes; zero: page */
    unsigned bit;           /* flip */
    const struct fset *src; /* swap: the set the replacement comes from */
    unsigned src_file;
    const char *src_what; /* "of the previous save of vm", "of another snapshot (other)" */
    const char *field;    /* flip: the header or trailer field, or NULL */
    const char *req;      /* reference format: the rule this damage tests, or NULL */
};

struct target {
    const char *id;
    struct fset files;
    const struct payload *expect;
};

struct prober {
    struct conform *c;
    struct target t[2];
    unsigned n_targets;
    struct fset prev, other; /* older generation of vm; another snapshot of NEW */
    struct probe *p;
    unsigned n, cap;
    uint64_t rng;
    bool ref;
    uint32_t ps;
};

static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static struct probe *add(struct prober *pr, unsigned t, enum damage k, unsigned file)
{
    if (pr->n == pr->cap) {
        pr->cap = pr->cap ? 2 * pr->cap : 128;
        struct probe *g = realloc(pr->p, pr->cap * sizeof *g);
        if (!g)
            abort();
        pr->p = g;
    }
    struct probe *p = &pr->p[pr->n++];
    memset(p, 0, sizeof *p);
    p->target = t;
    p->kind = k;
    p->file = file;
    return p;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* docs/FORMAT.md 3.1 and 6: the fields, for flips named by field and charged to their rule. */
static const struct field {
    size_t off, size;
    const char *name, *req;
} state_fields[] =
    {
        {0, 8, "magic", "F-HDR-01"},          {8, 2, "version_major", "F-HDR-02"},
        {10, 2, "version_minor", "F-CRC-01"}, {12, 4, "header_len", "F-HDR-04"},
        {16, 8, "payload_len", "F-HDR-05"},   {24, 4, "schema_version", "F-HDR-06"},
        {28, 4, "flags", "F-HDR-07"},         {32, 4, "kind", "F-HDR-08"},
        {36, 4, "page_size", "F-HDR-09"},     {40, 8, "ram_size", "F-HDR-10"},
        {48, 16, "snapshot_id", "F-HDR-11"},  {64, 8, "generation", "F-HDR-12"},
        {72, 16, "base_id", "F-HDR-13"},      {88, 8, "base_generation", "F-HDR-14"},
        {96, 8, "state_len", "F-HDR-15"},     {104, 8, "mem_pages", "F-HDR-16"},
        {112, 8, "mem_file_len", "F-HDR-17"}, {120, 8, "reserved", "F-HDR-18"},
        {128, 64, "mem_name", "F-HDR-19"},    {192, 64, "base_name", "F-HDR-20"},
},
  mem_fields[] = {
      {0, 8, "trailer magic", NULL},       {8, 16, "trailer snapshot_id", NULL},
      {24, 8, "trailer generation", NULL}, {32, 8, "trailer mem_pages", NULL},
      {40, 4, "trailer page_size", NULL},  {44, 4, "trailer kind", NULL},
      {48, 8, "trailer reserved", NULL},   {56, 8, "trailer crc", NULL},
};

/* Whether fs with its file f replaced by file g of src is, name for name and byte for byte,
 * all of src. Then the "damaged" directory is exactly the one the previous save left (a store
 * of one file, such as an SQLite database, replaced whole): no loader can tell it from a
 * directory in which the newer save never ran, and returning the previous pair is right. */
static bool is_whole_set(const struct fset *fs, unsigned f, const struct fset *src, unsigned g)
{
    if (fs->n != src->n || strcmp(fs->name[f], src->name[g]))
        return false;
    for (unsigned i = 0; i < fs->n; i++) {
        if (i == f)
            continue;
        bool found = false;
        for (unsigned j = 0; j < src->n && !found; j++)
            found = j != g && !strcmp(fs->name[i], src->name[j]) && fs->len[i] == src->len[j] &&
                    !memcmp(fs->data[i], src->data[j], fs->len[i]);
        if (!found)
            return false;
    }
    return true;
}

static void flip(struct prober *pr, unsigned t, unsigned f, size_t off, const char *field,
                 const char *req)
{
    struct probe *p = add(pr, t, D_FLIP, f);
    p->off = off;
    p->bit = (unsigned)(next(&pr->rng) % 8);
    p->field = field;
    p->req = req;
}

/* The rule a damage of file f of target t tests (reference format). */
static const char *file_req(const struct prober *pr, unsigned t, unsigned f, const char *state,
                            const char *mem)
{
    const char *name = pr->t[t].files.name[f];
    if (t == 1 && strncmp(name, "vm.", 3) != 0)
        return "F-LOAD-6.1.5"; /* a file of the base of the diff */
    if (ends_with(name, ".snap"))
        return state;
    if (ends_with(name, ".mem"))
        return mem;
    return NULL;
}

static void structural(struct prober *pr, unsigned t)
{
    const struct fset *fs = &pr->t[t].files;
    for (unsigned f = 0; f < fs->n; f++) {
        size_t len = fs->len[f];
        const char *name = fs->name[f];
        bool base_file = t == 1 && strncmp(name, "vm.", 3) != 0;
        add(pr, t, D_DELETE, f)->req = file_req(pr, t, f, "F-LOAD-6.1.1", "F-LOAD-6.1.3");
        if (!len)
            continue;
        /* flips */
        if (pr->ref && ends_with(name, ".snap") && len >= 256 + 8) {
            for (size_t i = 0; i < sizeof state_fields / sizeof state_fields[0]; i++) {
                const struct field *fd = &state_fields[i];
                flip(pr, t, f, fd->off + next(&pr->rng) % fd->size, fd->name,
                     base_file ? "F-LOAD-6.1.5" : fd->req);
            }
            uint64_t state_len = snap_get_le64(fs->data[f] + 96);
            size_t body_end = len - 8;
            const char *crc_req = base_file ? "F-LOAD-6.1.5" : "F-CRC-01";
            if (state_len && state_len < body_end - 256)
                flip(pr, t, f, 256 + next(&pr->rng) % state_len, "state", crc_req);
            if (state_len < body_end - 256)
                flip(pr, t, f, 256 + state_len + next(&pr->rng) % (body_end - 256 - state_len),
                     "page map", crc_req);
            flip(pr, t, f, body_end + next(&pr->rng) % 8, "trailer", crc_req);
        } else if (pr->ref && ends_with(name, ".mem") && len >= 64) {
            size_t body = len - 64;
            for (size_t i = 0; i < sizeof mem_fields / sizeof mem_fields[0]; i++)
                flip(pr, t, f, body + mem_fields[i].off + next(&pr->rng) % mem_fields[i].size,
                     mem_fields[i].name, file_req(pr, t, f, NULL, "F-LOAD-6.1.3"));
            if (body) {
                flip(pr, t, f, next(&pr->rng) % (body < pr->ps ? body : pr->ps), NULL,
                     file_req(pr, t, f, NULL, "F-LOAD-6.1.4"));
                flip(pr, t, f, body - 1 - next(&pr->rng) % (body < pr->ps ? body : pr->ps), NULL,
                     file_req(pr, t, f, NULL, "F-LOAD-6.1.4"));
            }
        } else {
            size_t offs[] = {
                0,      8, 16, 64, len / 2, len > 64 ? len - 64 : 0, len - 8 < len ? len - 8 : 0,
                len - 1};
            for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++)
                if (offs[i] < len && (i == 0 || offs[i] != offs[i - 1]))
                    flip(pr, t, f, offs[i], NULL, file_req(pr, t, f, "F-CRC-01", "F-LOAD-6.1.4"));
        }
        /* truncations and extensions */
        size_t cuts[] = {0,
                         1,
                         len / 2,
                         len - 1,
                         len > 8 ? len - 8 : 0,
                         len > 64 ? len - 64 : 0,
                         len > pr->ps ? len - pr->ps : 0};
        for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
            bool dup = cuts[i] >= len;
            for (size_t j = 0; j < i && !dup; j++)
                dup = cuts[j] == cuts[i];
            if (dup)
                continue;
            add(pr, t, D_TRUNC, f)->len = cuts[i];
            pr->p[pr->n - 1].req = file_req(pr, t, f, "F-LEN-01", "F-LOAD-6.1.3");
        }
        add(pr, t, D_EXTEND, f)->len = 1;
        pr->p[pr->n - 1].req = file_req(pr, t, f, "F-LEN-02", "F-LOAD-6.1.3");
        add(pr, t, D_EXTEND, f)->len = pr->ps;
        pr->p[pr->n - 1].req = file_req(pr, t, f, "F-LEN-02", "F-LOAD-6.1.3");
        /* one page zeroed: the first page (from a seeded start) that is not zero already */
        size_t pages = len / pr->ps;
        if (pages >= 2) {
            size_t start = next(&pr->rng) % pages;
            for (size_t k = 0; k < pages; k++) {
                size_t pg = (start + k) % pages;
                const uint8_t *b = fs->data[f] + pg * pr->ps;
                bool zero = true;
                for (size_t i = 0; i < pr->ps && zero; i++)
                    zero = !b[i];
                if (!zero) {
                    add(pr, t, D_ZERO_PAGE, f)->off = pg;
                    pr->p[pr->n - 1].req = file_req(pr, t, f, "F-CRC-01", "F-LOAD-6.1.4");
                    break;
                }
            }
        }
        /* the counterpart of the older generation and of the other snapshot */
        if (t != 0)
            continue;
        char key[300], k2[300];
        name_key(key, sizeof key, name, "vm");
        for (unsigned s = 0; s < 2; s++) {
            const struct fset *src = s ? &pr->other : &pr->prev;
            for (unsigned g = 0; g < src->n; g++) {
                name_key(k2, sizeof k2, src->name[g], s ? "other" : "vm");
                if (strcmp(key, k2))
                    continue;
                if (src->len[g] == len && !memcmp(src->data[g], fs->data[f], len))
                    continue; /* the same bytes: no damage */
                if (!s && is_whole_set(fs, f, src, g))
                    continue; /* the previous save's whole directory: its pair is right */
                struct probe *p = add(pr, t, D_SWAP, f);
                p->src = src;
                p->src_file = g;
                p->src_what = s ? "of another snapshot of the same bytes (other)"
                                : "of the previous save of vm";
                p->req = s ? "F-PAIR-1" : "F-LOAD-6.1.3";
            }
        }
    }
}

static void describe(char *dst, size_t cap, const struct prober *pr, const struct probe *p)
{
    const struct fset *fs = &pr->t[p->target].files;
    const char *name = p->kind == D_STALE ? "" : fs->name[p->file];
    switch (p->kind) {
    case D_FLIP:
        snprintf(dst, cap, "bit %u of byte %zu%s%s%s of %s flipped", p->bit, p->off,
                 p->field ? " (" : "", p->field ? p->field : "", p->field ? ")" : "", name);
        break;
    case D_TRUNC:
        snprintf(dst, cap, "%s truncated to %zu bytes (of %zu)", name, p->len, fs->len[p->file]);
        break;
    case D_EXTEND:
        snprintf(dst, cap, "%s extended by %zu zero byte%s", name, p->len, p->len == 1 ? "" : "s");
        break;
    case D_ZERO_PAGE:
        snprintf(dst, cap, "page %zu (bytes %zu-%zu) of %s zeroed", p->off, p->off * pr->ps,
                 (p->off + 1) * pr->ps - 1, name);
        break;
    case D_DELETE:
        snprintf(dst, cap, "%s deleted", name);
        break;
    case D_SWAP:
        snprintf(dst, cap, "%s replaced by %s %s", name, p->src->name[p->src_file], p->src_what);
        break;
    case D_STALE:
        snprintf(dst, cap, "%s", p->src_what);
        break;
    }
    if (p->target == 1)
        str_append(dst, cap, " (diff vm over base)");
}

/* Apply p to a copy of its target in dir. @return 0 or -1. */
static int apply(const struct prober *pr, const struct probe *p, const char *dir)
{
    const struct fset *fs = &pr->t[p->target].files;
    if (fset_write(fs, dir) != 0)
        return -1;
    char path[1200];
    if (fmt_path(path, sizeof path, "%s/%s", dir, fs->name[p->file]))
        return -1;
    const uint8_t *b = fs->data[p->file];
    size_t len = fs->len[p->file];
    switch (p->kind) {
    case D_FLIP: {
        uint8_t *m = xmalloc(len);
        memcpy(m, b, len);
        m[p->off] ^= (uint8_t)(1u << p->bit);
        int rc = file_write(path, m, len);
        free(m);
        return rc;
    }
    case D_TRUNC:
        return file_write(path, b, p->len);
    case D_EXTEND: {
        uint8_t *m = xcalloc(len + p->len, 1);
        memcpy(m, b, len);
        int rc = file_write(path, m, len + p->len);
        free(m);
        return rc;
    }
    case D_ZERO_PAGE: {
        uint8_t *m = xmalloc(len);
        memcpy(m, b, len);
        memset(m + p->off * pr->ps, 0, pr->ps);
        int rc = file_write(path, m, len);
        free(m);
        return rc;
    }
    case D_DELETE:
        return remove(path);
    case D_SWAP:
        return file_write(path, p->src->data[p->src_file], p->src->len[p->src_file]);
    case D_STALE:
        return 0; /* the stale directory is built by make_stale */
    }
    return -1;
}

/* A directory holding the committed pair of target 0 and what a save of the RECOVERY payload
 * left when it was killed just before its last rename. @return 1 with the directory in dir and
 * what it left in what, 0 when the save renames nothing, -1 on a set-up error. */
static int make_stale(struct prober *pr, char *dir, size_t cap, char *what, size_t what_cap)
{
    struct conform *c = pr->c;
    char census[600], trace[700], so[700], se[700], err[700], ps[16];
    if (conform_scratch(c, census, sizeof census, "stale-census") != 0 ||
        fset_write(&pr->t[0].files, census) != 0)
        return -1;
    snprintf(trace, sizeof trace, "%s/stale.trace", c->workdir);
    snprintf(so, sizeof so, "%s/iut.out", c->workdir);
    snprintf(se, sizeof se, "%s/iut.err", c->workdir);
    snprintf(ps, sizeof ps, "%u", (unsigned)pr->ps);
    const struct payload *rp = &c->data.p[P_RECOVERY];
    const char *args[] = {
        "save",    "--dir",        census,     "--id",       "vm",          "--kind", "full",
        "--state", rp->state_path, "--memory", rp->mem_path, "--page-size", ps,       NULL};
    struct impl_faults f = {.interposer = c->interposer, .dir = census, .trace = trace};
    unlink(trace);
    struct impl_result r;
    impl_run(&r, &c->impl, args, &f, so, se);
    if (r.end != IMPL_EXITED || r.code) {
        impl_result_text(err, sizeof err, &r);
        fprintf(stderr,
                "snapcheck conform: set-up error: a clean save of vm (%s) under the "
                "interposer fails: %s\n",
                rp->name, err);
        return -1;
    }
    uint8_t *tb = NULL;
    size_t tl = 0;
    unsigned long last = 0;
    if (file_read(&tb, &tl, trace, (size_t)64 << 20) == 0) {
        char *save = NULL;
        for (char *line = strtok_r((char *)tb, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
            struct trace_line t;
            if (trace_parse_line(&t, line) == 0 && !strncmp(t.call, "rename", 6))
                last = t.ordinal;
        }
    }
    free(tb);
    if (!last)
        return 0;
    if (conform_scratch(c, dir, cap, "stale") != 0 || fset_write(&pr->t[0].files, dir) != 0)
        return -1;
    char fcase[64];
    snprintf(fcase, sizeof fcase, "%lu:crash-before", last);
    struct impl_faults cf = {.interposer = c->interposer, .dir = dir, .fault_case = fcase};
    impl_run(&r, &c->impl, args, &cf, so, se);
    struct fset now;
    if (fset_read(&now, dir) != 0)
        return -1;
    char names[400] = "";
    for (unsigned i = 0; i < now.n; i++) {
        bool old = false;
        for (unsigned j = 0; j < pr->t[0].files.n && !old; j++)
            old = !strcmp(now.name[i], pr->t[0].files.name[j]) &&
                  now.len[i] == pr->t[0].files.len[j] &&
                  !memcmp(now.data[i], pr->t[0].files.data[j], now.len[i]);
        if (!old) {
            str_append(names, sizeof names, names[0] ? ", " : "");
            str_append(names, sizeof names, now.name[i]);
        }
    }
    fset_finish(&now);
    snprintf(what, what_cap, "a save of vm killed just before its last rename (call %lu) left %s",
             last, names[0] ? names : "nothing new");
    return 1;
}

static void judge(struct prober *pr, const struct probe *p, const char *what,
                  const struct load_check *lc)
{
    struct conform *c = pr->c;
    const char *req = pr->ref ? p->req : NULL;
    switch (lc->outcome) {
    case LOAD_ABNORMAL:
        conform_fail(c, "P-LOAD-2", "%s: load %s", what, lc->text);
        break;
    case LOAD_WRONG:
        conform_fail(c, "P-LOAD-1", "%s: %s", what, lc->text);
        if (req)
            conform_fail(c, req, "%s: %s", what, lc->text);
        if (p->kind == D_STALE)
            conform_fail(c, "P-STALE-1", "%s: %s", what, lc->text);
        break;
    case LOAD_EXACT:
        conform_pass(c, "P-LOAD-1", "every damage refused or the exact pair returned");
        conform_pass(c, "P-LOAD-2", "refusals exit non-zero, no crash or hang");
        if (p->kind == D_STALE) {
            conform_pass(c, "P-STALE-1", "the committed pair loads beside a crashed save's files");
            if (req)
                conform_pass(c, req, "the committed pair loads beside a crashed save's files");
        } else if (req) {
            conform_fail(c, req, "%s: load exit 0 although docs/FORMAT.md requires a refusal",
                         what);
        }
        break;
    case LOAD_REFUSED:
        conform_pass(c, "P-LOAD-1", "every damage refused or the exact pair returned");
        conform_pass(c, "P-LOAD-2", "refusals exit non-zero, no crash or hang");
        if (p->kind == D_STALE) {
            conform_fail(c, "P-STALE-1", "%s: the committed pair is refused: %s", what, lc->text);
            if (req)
                conform_fail(c, req, "%s: the committed pair is refused: %s", what, lc->text);
        } else if (req) {
            conform_pass(c, req, "damage refused");
        }
        break;
    }
}

static int setup(struct prober *pr)
{
    struct conform *c = pr->c;
    const struct dataset *d = &c->data;
    char dir[600], err[700];
    if (conform_scratch(c, dir, sizeof dir, "probe-full") != 0)
        return -1;
    if (conform_save(c, dir, "vm", &d->p[P_PRIOR], pr->ps, NULL, NULL, err, sizeof err) ||
        fset_read(&pr->prev, dir) != 0 ||
        conform_save(c, dir, "vm", &d->p[P_NEW], pr->ps, NULL, NULL, err, sizeof err) ||
        fset_read(&pr->t[0].files, dir) != 0)
        goto fail;
    pr->t[0].id = "vm";
    pr->t[0].expect = &d->p[P_NEW];
    pr->n_targets = 1;
    if (conform_scratch(c, dir, sizeof dir, "probe-other") != 0 ||
        conform_save(c, dir, "other", &d->p[P_NEW], pr->ps, NULL, NULL, err, sizeof err) ||
        fset_read(&pr->other, dir) != 0)
        goto fail;
    if (c->cap_diff) {
        if (conform_scratch(c, dir, sizeof dir, "probe-diff") != 0 ||
            conform_save(c, dir, "base", &d->p[P_PRIOR], pr->ps, NULL, NULL, err, sizeof err) ||
            conform_save(c, dir, "vm", &d->p[P_D1], pr->ps, "base", d->p[P_D1].dirty_path, err,
                         sizeof err) ||
            fset_read(&pr->t[1].files, dir) != 0)
            goto fail;
        pr->t[1].id = "vm";
        pr->t[1].expect = &d->p[P_D1];
        pr->n_targets = 2;
    }
    return 0;
fail:
    fprintf(stderr, "snapcheck conform: set-up error: saving the pairs to probe: %s\n",
            err[0] ? err : "cannot read the directory");
    return -1;
}

int conform_probe(struct conform *c)
{
    struct prober pr;
    memset(&pr, 0, sizeof pr);
    pr.c = c;
    pr.ref = c->format == FMT_REFERENCE;
    pr.ps = c->data.page_size;
    pr.rng = c->opt.seed ^ 0x70726f6265ull; /* "probe" */
    int rc = -1, st;
    char stale_dir[600] = "", stale_what[500] = "";
    struct load_check lc, again;
    if (setup(&pr) != 0)
        goto out;
    /* The stale temporary first (it needs its own directory), then the structural probes. */
    st = make_stale(&pr, stale_dir, sizeof stale_dir, stale_what, sizeof stale_what);
    if (st < 0)
        goto out;
    for (unsigned t = 0; t < pr.n_targets; t++)
        structural(&pr, t);
    unsigned n_struct = pr.n;
    /* Seeded random flips fill the budget. */
    while (pr.n < c->opt.max_probes) {
        unsigned t = (unsigned)(next(&pr.rng) % pr.n_targets);
        const struct fset *fs = &pr.t[t].files;
        unsigned f = (unsigned)(next(&pr.rng) % fs->n);
        if (!fs->len[f])
            continue;
        const char *name = fs->name[f];
        size_t off = next(&pr.rng) % fs->len[f];
        const char *req = file_req(&pr, t, f, "F-CRC-01", "F-LOAD-6.1.4");
        if (req && ends_with(name, ".mem") && off >= fs->len[f] - 64)
            req = t == 1 && strncmp(name, "vm.", 3) ? req : "F-LOAD-6.1.3";
        if (req && ends_with(name, ".snap") && off < 256 && !(t == 1 && strncmp(name, "vm.", 3))) {
            for (size_t i = 0; i < sizeof state_fields / sizeof state_fields[0]; i++)
                if (off >= state_fields[i].off && off < state_fields[i].off + state_fields[i].size)
                    req = state_fields[i].req;
        }
        flip(&pr, t, f, off, NULL, req);
    }
    unsigned budget = c->opt.max_probes - (st == 1);
    if (pr.n > budget)
        pr.n = budget;
    if (!c->opt.quiet)
        fprintf(stderr, "snapcheck conform: %u corruption probes (%u structural, seed %llu)\n",
                pr.n + (st == 1), n_struct < pr.n ? n_struct : pr.n,
                (unsigned long long)c->opt.seed);
    if (st == 1) {
        struct probe sp = {
            .target = 0, .kind = D_STALE, .src_what = stale_what, .req = "F-LOAD-6.1.6"};
        conform_load(&lc, c, stale_dir, "vm", pr.t[0].expect->state, pr.t[0].expect->state_len,
                     pr.t[0].expect->mem, pr.t[0].expect->mem_len, pr.ps);
        judge(&pr, &sp, stale_what, &lc);
        path_remove_tree(stale_dir);
    } else {
        conform_na(c, "P-STALE-1", "the IUT's save renames nothing: a crash leaves no temporary");
        conform_na(c, "F-LOAD-6.1.6", "the IUT's save renames nothing");
    }
    for (unsigned i = 0; i < pr.n; i++) {
        const struct probe *p = &pr.p[i];
        char dir[600], what[600];
        describe(what, sizeof what, &pr, p);
        if (conform_scratch(c, dir, sizeof dir, "probe") != 0 || apply(&pr, p, dir) != 0) {
            fprintf(stderr, "snapcheck conform: set-up error: cannot prepare probe '%s' in %s\n",
                    what, dir);
            goto out;
        }
        const struct payload *e = pr.t[p->target].expect;
        conform_load(&lc, c, dir, pr.t[p->target].id, e->state, e->state_len, e->mem, e->mem_len,
                     pr.ps);
        judge(&pr, p, what, &lc);
        /* Load is a function of the directory's bytes (ADAPTER.md 5): every 16th probe twice. */
        if (i % 16 == 0) {
            conform_load(&again, c, dir, pr.t[p->target].id, e->state, e->state_len, e->mem,
                         e->mem_len, pr.ps);
            if (again.outcome != lc.outcome)
                conform_fail(c, "P-LOAD-3",
                             "%s: a second load of the same bytes gives '%s' "
                             "after '%s'",
                             what, again.text, lc.text);
            else
                conform_pass(c, "P-LOAD-3", "the same damaged directory loads the same way twice");
        }
        if (!c->opt.keep_dir)
            path_remove_tree(dir);
        if (!c->opt.quiet && (i + 1) % 100 == 0)
            fprintf(stderr, "snapcheck conform: %u of %u probes\n", i + 1, pr.n);
    }
    if (!c->cap_diff)
        conform_na(c, "F-LOAD-6.1.5", "the IUT does not list save-diff");
    rc = 0;
out:
    for (unsigned t = 0; t < 2; t++)
        fset_finish(&pr.t[t].files);
    fset_finish(&pr.prev);
    fset_finish(&pr.other);
    free(pr.p);
    return rc;
}
