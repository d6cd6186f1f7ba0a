/* `snapcheck conform` (conform.h): the command line, the set-up (work directory, inputs,
 * capabilities), the adapter-contract checks every implementation gets (P-CAP, P-USAGE,
 * P-SAVE), the choice of format, then the parts: decoder conformance and interoperability
 * (reference format, conform_vectors.c, conform_interop.c), corruption probing
 * (conform_probe.c), the commit protocol through `snapcheck faults` (--tier), the reports. */
#include "campaign.h"
#include "conform-priv.h"
#include "report.h"
#include "conform.h"
#include "util.h"

#include <snap/snap.h>

#include <json-c/json.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef SNAPCHECK_VECTORS_DIR
#define SNAPCHECK_VECTORS_DIR ""
#endif
#ifndef SNAPCHECK_DATADIR_REL
#define SNAPCHECK_DATADIR_REL ""
#endif
#ifndef SNAPCHECK_BINDIR
#define SNAPCHECK_BINDIR ""
#endif

static void usage(FILE *f)
{
    fputs("usage: snapcheck conform --impl CMD [options]\n\n"
          "Checks CMD (an adapter: docs/ADAPTER.md) against the written specifications and\n"
          "reports each requirement (F-... docs/FORMAT.md, P-... docs/ADAPTER.md) as pass,\n"
          "fail or n/a, with the evidence (docs/CONFORMANCE.md).\n"
          "  reference format: every golden vector loaded through the IUT; pairs saved by the\n"
          "  IUT verified by the reference and the reverse, full and diff, at each page size;\n"
          "  both formats: committed pairs damaged (bit flips, truncations, extensions, a zero\n"
          "  page, a deleted file, another generation's or snapshot's file, a stale temporary):\n"
          "  every load must refuse or return the exact pair.\n\n"
          "options:\n"
          "  --impl CMD           IUT command line, split on whitespace (required)\n"
          "  --format reference|own\n"
          "                       default: reference when a pair saved by the IUT decodes as\n"
          "                       docs/FORMAT.md (checked with libsnapref), else own\n"
          "  --seed N             seed of the inputs and the sampled damage (default 1)\n"
          "  --max-probes N       budget of corruption probes (default 400)\n"
          "  --page-size N        only this page size (default 4096, 16384 and 65536)\n"
          "  --vectors DIR        golden vectors (default: the source tree's tests/vectors, or\n"
          "                       the installed <datadir>/snapcheck/vectors)\n"
          "  --tier smoke|full    also run `snapcheck faults` and `snapcheck crash` at this\n"
          "                       tier (P-COMMIT-1 ... P-VISIBLE-1); default: not run\n"
          "  --interposer PATH    libsnapfault.so (stale temporaries and --tier)\n"
          "  --json FILE          write a JSON report\n"
          "  --html FILE          write a self-contained HTML page (requirements, findings)\n"
          "  --junit FILE         write a JUnit XML report (one testcase per requirement)\n"
          "  --keep DIR           keep the work directory under DIR\n"
          "  -q                   no progress lines\n\n"
          "exit status: 0 conforms, 1 a requirement failed, 2 usage or set-up error\n",
          f);
}

static int usage_error(const char *fmt, const char *arg)
{
    fputs("snapcheck conform: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\n(see snapcheck conform --help)\n", stderr);
    return EXIT_SETUP;
}

static int setup_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int setup_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("snapcheck conform: set-up error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_SETUP;
}

static int parse_u64(uint64_t *out, const char *s)
{
    if (!s || !*s || *s == '-')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

/* @return -1 to run, else the exit status. */
static int parse(struct conform_opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->max_probes = 400;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return EXIT_HELD;
        }
        if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            o->quiet = true;
            continue;
        }
        if (!v)
            return usage_error("option %s needs a value", a);
        i++;
        if (!strcmp(a, "--impl")) {
            o->impl_cmd = v;
        } else if (!strcmp(a, "--format")) {
            if (!strcmp(v, "reference"))
                o->format = FMT_REFERENCE;
            else if (!strcmp(v, "own"))
                o->format = FMT_OWN;
            else
                return usage_error("--format must be reference or own, not '%s'", v);
        } else if (!strcmp(a, "--seed")) {
            if (parse_u64(&n, v))
                return usage_error("--seed needs a non-negative number, not '%s'", v);
            o->seed = n;
        } else if (!strcmp(a, "--max-probes")) {
            if (parse_u64(&n, v) || n < 1 || n > 1000000)
                return usage_error("--max-probes needs a number from 1 to 1000000, not '%s'", v);
            o->max_probes = (unsigned)n;
        } else if (!strcmp(a, "--page-size")) {
            if (parse_u64(&n, v) || (n != 4096 && n != 16384 && n != 65536))
                return usage_error("--page-size must be 4096, 16384 or 65536 (docs/FORMAT.md "
                                   "3.1), not '%s'",
                                   v);
            o->page_size = (uint32_t)n;
        } else if (!strcmp(a, "--vectors")) {
            o->vectors_dir = v;
        } else if (!strcmp(a, "--tier")) {
            if (strcmp(v, "smoke") && strcmp(v, "full"))
                return usage_error("--tier must be smoke or full, not '%s'", v);
            o->tier = v;
        } else if (!strcmp(a, "--interposer")) {
            o->interposer = v;
        } else if (!strcmp(a, "--json")) {
            o->json_path = v;
        } else if (!strcmp(a, "--junit")) {
            o->junit_path = v;
        } else if (!strcmp(a, "--html")) {
            o->html_path = v;
        } else if (!strcmp(a, "--keep")) {
            o->keep_dir = v;
        } else {
            return usage_error("unknown option '%s'", a);
        }
    }
    if (!o->impl_cmd)
        return usage_error("%s", "--impl CMD is required (the implementation under test)");
    return -1;
}

int conform_scratch(struct conform *c, char *dst, size_t cap, const char *tag)
{
    if (fmt_path(dst, cap, "%s/%04u-%s", c->workdir, ++c->seq, tag) != 0)
        return -1;
    return mkdir(dst, 0755);
}

void conform_run(struct impl_result *out, struct conform *c, const char *const *args)
{
    char so[600], se[600];
    snprintf(so, sizeof so, "%s/iut.out", c->workdir);
    snprintf(se, sizeof se, "%s/iut.err", c->workdir);
    impl_run(out, &c->impl, args, NULL, so, se);
}

int conform_save(struct conform *c, const char *dir, const char *id, const struct payload *p,
                 uint32_t page_size, const char *base, const char *dirty_path, char *err,
                 size_t err_cap)
{
    char ps[16];
    snprintf(ps, sizeof ps, "%u", (unsigned)page_size);
    const char *full[] = {"save",      "--dir",       dir,       "--id",        id,
                          "--kind",    "full",        "--state", p->state_path, "--memory",
                          p->mem_path, "--page-size", ps,        NULL};
    const char *diff[] = {"save",        "--dir",    dir,         "--id",    id,
                          "--kind",      "diff",     "--base",    base,      "--state",
                          p->state_path, "--memory", p->mem_path, "--dirty", dirty_path,
                          "--page-size", ps,         NULL};
    struct impl_result r;
    conform_run(&r, c, base ? diff : full);
    if (r.end == IMPL_EXITED && r.code == 0)
        return 0;
    char t[300];
    impl_result_text(t, sizeof t, &r);
    snprintf(err, err_cap, "save %s (%s, %s pages of %u bytes%s%s): %s", id, p->name,
             base ? "diff" : "full", (unsigned)page_size, base ? ", base " : "", base ? base : "",
             t);
    return -1;
}

void conform_load(struct load_check *out, struct conform *c, const char *dir, const char *id,
                  const uint8_t *state, size_t state_len, const uint8_t *mem, size_t mem_len,
                  uint32_t page_size)
{
    char so[600], mo[600];
    snprintf(so, sizeof so, "%s/load.state", c->workdir);
    snprintf(mo, sizeof mo, "%s/load.mem", c->workdir);
    unlink(so);
    unlink(mo);
    const char *args[] = {"load", "--dir",        dir, "--id", id, "--state-out",
                          so,     "--memory-out", mo,  NULL};
    struct impl_result r;
    conform_run(&r, c, args);
    if (r.end != IMPL_EXITED) {
        out->outcome = LOAD_ABNORMAL;
        impl_result_text(out->text, sizeof out->text, &r);
        return;
    }
    if (r.code != 0) {
        out->outcome = LOAD_REFUSED;
        impl_result_text(out->text, sizeof out->text, &r);
        return;
    }
    uint8_t *gs = NULL, *gm = NULL;
    size_t gs_len = 0, gm_len = 0;
    bool has_s = file_read(&gs, &gs_len, so, (size_t)1 << 30) == 0;
    bool has_m = file_read(&gm, &gm_len, mo, (size_t)1 << 32) == 0;
    out->outcome = LOAD_WRONG;
    if (!has_s || !has_m) {
        snprintf(out->text, sizeof out->text, "load exit 0 without writing its %s output",
                 !has_s ? "state" : "memory");
    } else {
        uint64_t wrong = 0, pages = (mem_len + page_size - 1) / page_size;
        for (uint64_t pg = 0; pg < pages; pg++) {
            size_t off = (size_t)pg * page_size;
            size_t n = mem_len - off < page_size ? mem_len - off : page_size;
            if (off + n > gm_len || memcmp(gm + off, mem + off, n) != 0)
                wrong++;
        }
        bool state_same = gs_len == state_len && (!state_len || memcmp(gs, state, state_len) == 0);
        if (!wrong && gm_len == mem_len && state_same) {
            out->outcome = LOAD_EXACT;
            snprintf(out->text, sizeof out->text, "load exit 0 with the exact pair");
        } else {
            char s1[120] = "", s2[120] = "";
            if (wrong)
                snprintf(s1, sizeof s1, " with %llu wrong page%s", (unsigned long long)wrong,
                         wrong == 1 ? "" : "s");
            if (gm_len != mem_len)
                snprintf(s2, sizeof s2, "%s a memory image of %zu bytes instead of %zu",
                         wrong ? "," : " with", gm_len, mem_len);
            snprintf(out->text, sizeof out->text, "load exit 0%s%s%s", s1, s2,
                     state_same                     ? ""
                     : (wrong || gm_len != mem_len) ? " and a wrong state"
                                                    : " with a wrong state");
        }
    }
    free(gs);
    free(gm);
}

static int read_capabilities(struct conform *c)
{
    const char *args[] = {"capabilities", NULL};
    struct impl_result r;
    conform_run(&r, c, args);
    char t[300];
    impl_result_text(t, sizeof t, &r);
    if (r.end != IMPL_EXITED || r.code != 0)
        return setup_error("the IUT fails `%s capabilities`: %s", c->opt.impl_cmd, t);
    char path[600];
    snprintf(path, sizeof path, "%s/iut.out", c->workdir);
    uint8_t *buf;
    size_t len;
    if (file_read(&buf, &len, path, 1 << 16) != 0)
        return setup_error("cannot read the IUT's capabilities");
    bool full = false, load = false;
    char *save = NULL;
    for (char *w = strtok_r((char *)buf, " \t\r\n,", &save); w;
         w = strtok_r(NULL, " \t\r\n,", &save)) {
        full |= !strcmp(w, "save-full");
        load |= !strcmp(w, "load");
        c->cap_diff |= !strcmp(w, "save-diff");
        c->cap_merge |= !strcmp(w, "merge");
    }
    free(buf);
    if (!full || !load) {
        conform_fail(c, "P-CAP-1", "capabilities lack %s", !full ? "save-full" : "load");
        return 1;
    }
    conform_pass(c, "P-CAP-1",
                 c->cap_diff ? "save-full, save-diff and load listed"
                             : "save-full and load listed");
    return 0;
}

static void check_unknown_op(struct conform *c)
{
    const char *args[] = {"conform-no-such-operation", NULL};
    struct impl_result r;
    conform_run(&r, c, args);
    char t[300];
    impl_result_text(t, sizeof t, &r);
    if (r.end == IMPL_EXITED && r.code == 2)
        conform_pass(c, "P-USAGE-1", "an unknown operation exits 2");
    else
        conform_fail(c, "P-USAGE-1", "the operation 'conform-no-such-operation': %s (2 expected)",
                     t);
}

/* The round trip every later part relies on: a full save (and a diff over it) loads back
 * exactly. A failure is recorded and ends the run as non-conforming (-1 = nothing more to do). */
static int check_round_trip(struct conform *c, char *dir, size_t dir_cap)
{
    char err[700];
    const struct dataset *d = &c->data;
    if (conform_scratch(c, dir, dir_cap, "roundtrip") != 0)
        return setup_error("cannot create a directory under %s", c->workdir), -2;
    if (conform_save(c, dir, "vm", &d->p[P_PRIOR], d->page_size, NULL, NULL, err, sizeof err)) {
        conform_fail(c, "P-SAVE-1", "%s", err);
        return -1;
    }
    struct load_check lc;
    conform_load(&lc, c, dir, "vm", d->p[P_PRIOR].state, d->p[P_PRIOR].state_len, d->p[P_PRIOR].mem,
                 d->p[P_PRIOR].mem_len, d->page_size);
    if (lc.outcome != LOAD_EXACT) {
        conform_fail(c, "P-SAVE-1", "full save of vm then load: %s", lc.text);
        return -1;
    }
    conform_pass(c, "P-SAVE-1", "full save then load gives the exact pair");
    if (!c->cap_diff)
        return 0;
    if (conform_save(c, dir, "vm-d1", &d->p[P_D1], d->page_size, "vm", d->p[P_D1].dirty_path, err,
                     sizeof err)) {
        conform_fail(c, "P-SAVE-1", "%s", err);
        return -1;
    }
    conform_load(&lc, c, dir, "vm-d1", d->p[P_D1].state, d->p[P_D1].state_len, d->p[P_D1].mem,
                 d->p[P_D1].mem_len, d->page_size);
    if (lc.outcome != LOAD_EXACT) {
        conform_fail(c, "P-SAVE-1", "diff save of vm-d1 over vm then load: %s", lc.text);
        return -1;
    }
    conform_pass(c, "P-SAVE-1", "full and diff saves load back exactly");
    return 0;
}

/* Reference format when the IUT's pair decodes and verifies with libsnapref. */
static void detect_format(struct conform *c, const char *dir)
{
    if (c->opt.format != FMT_AUTO) {
        c->format = c->opt.format;
        return;
    }
    c->format_detected = true;
    struct snap_diag diag;
    snap_diag_clear(&diag);
    c->format = snap_pair_verify(&snap_io_posix, dir, "vm", &diag) == 0 ? FMT_REFERENCE : FMT_OWN;
    if (!c->opt.quiet)
        fprintf(stderr, "snapcheck conform: format %s (%s)\n",
                c->format == FMT_REFERENCE ? "reference" : "own",
                c->format == FMT_REFERENCE ? "vm.snap verifies with libsnapref"
                                           : "the IUT's pair is not docs/FORMAT.md");
}

/* A campaign of this snapcheck run on the same IUT, and how its oracles map to requirements.
 * A process crash (faults) and a power cut (crash) break the same rules of ADAPTER.md 2. */
struct campaign_map {
    const char *command; /* "faults" or "crash" */
    const char *what;    /* "fault campaign" */
    const char *count;   /* the report's key counting what was judged: "cases", "judged" */
    const char *unit;    /* "cases", "power-cut states" */
    const char *const (*oracles)[2];
    size_t n_oracles;
};

static const char *const faults_oracles[][2] = {
    {"prior-pair", "P-COMMIT-1"}, {"committed", "P-DURABLE-1"},  {"clean-load", "P-CLEANLOAD-1"},
    {"recovery", "P-RECOVER-1"},  {"leftovers", "P-LEFTOVER-1"},
};
static const char *const crash_oracles[][2] = {
    {"prior-pair", "P-COMMIT-1"}, {"durable", "P-DURABLE-1"},    {"fsync-failure", "P-FSYNC-1"},
    {"recovery", "P-RECOVER-1"},  {"leftovers", "P-LEFTOVER-1"}, {"clean-run", "P-SAVE-1"},
};
static const struct campaign_map campaigns[] = {
    {"faults", "fault campaign", "cases", "fault cases", faults_oracles,
     sizeof faults_oracles / sizeof faults_oracles[0]},
    {"crash", "power-cut campaign", "judged", "power-cut states", crash_oracles,
     sizeof crash_oracles / sizeof crash_oracles[0]},
};

/* Run `snapcheck <command> --tier T` on the same IUT and map its JSON findings to requirements
 * by oracle (crash: its unchecked scenarios to P-VISIBLE-1). @return 0, or -1 (set-up error,
 * said on stderr). */
static int run_campaign(struct conform *c, const struct campaign_map *m)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return setup_error("cannot find the snapcheck executable: %s", strerror(errno)), -1;
    self[n] = 0;
    struct impl me;
    char err[300];
    if (strchr(self, ' ') || impl_parse(&me, self, err, sizeof err) != 0)
        return setup_error("cannot run %s for the %s", self, m->what), -1;
    me.timeout_s = 24 * 3600;
    char json[600], so[600], se[600], ps[16], seed[32];
    snprintf(json, sizeof json, "%s/%s.json", c->workdir, m->command);
    snprintf(so, sizeof so, "%s/%s.out", c->workdir, m->command);
    snprintf(se, sizeof se, "%s/%s.err", c->workdir, m->command);
    snprintf(ps, sizeof ps, "%u", (unsigned)c->data.page_size);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)c->opt.seed);
    const char *args[20] = {m->command, "--impl", c->opt.impl_cmd, "--tier", c->opt.tier, "--json",
                            json,       "-q",     "--page-size",   ps,       "--seed",    seed,
                            NULL};
    int k = 12;
    if (c->interposer[0]) {
        args[k++] = "--interposer";
        args[k++] = c->interposer;
    }
    args[k] = NULL;
    if (!c->opt.quiet)
        fprintf(stderr, "snapcheck conform: %s (%s tier)\n", m->what, c->opt.tier);
    struct impl_result r;
    impl_run(&r, &me, args, NULL, so, se);
    impl_finish(&me);
    if (r.end != IMPL_EXITED || (r.code != 0 && r.code != 1)) {
        char t[300], e1[300];
        impl_result_text(t, sizeof t, &r);
        file_first_line(e1, sizeof e1, se);
        return setup_error("the %s failed to run: %s%s%s", m->what, t, e1[0] ? ": " : "", e1), -1;
    }
    json_object *root = json_object_from_file(json);
    json_object *findings = NULL, *count = NULL, *unchecked = NULL;
    if (!root || !json_object_object_get_ex(root, "findings", &findings) ||
        !json_object_is_type(findings, json_type_array) ||
        !json_object_object_get_ex(root, m->count, &count)) {
        json_object_put(root);
        return setup_error("cannot read the %s's report %s", m->what, json), -1;
    }
    size_t nf = json_object_array_length(findings);
    unsigned per[8] = {0};
    for (size_t i = 0; i < nf; i++) {
        json_object *f = json_object_array_get_idx(findings, i), *o = NULL, *id = NULL, *det = NULL;
        json_object_object_get_ex(f, "oracle", &o);
        json_object_object_get_ex(f, "id", &id);
        json_object_object_get_ex(f, "detail", &det);
        const char *oracle = o ? json_object_get_string(o) : "";
        for (size_t j = 0; j < m->n_oracles; j++)
            if (!strcmp(oracle, m->oracles[j][0])) {
                per[j]++;
                conform_fail(c, m->oracles[j][1], "%s %s: %s", m->command,
                             id ? json_object_get_string(id) : "?",
                             det ? json_object_get_string(det) : "");
            }
    }
    char ok[200];
    snprintf(ok, sizeof ok, "%lld %s of the %s tier, no finding of this oracle",
             (long long)json_object_get_int64(count), m->unit, c->opt.tier);
    for (size_t j = 0; j < m->n_oracles; j++)
        if (!per[j])
            conform_pass(c, m->oracles[j][1], ok);
    if (json_object_object_get_ex(root, "unchecked", &unchecked) &&
        json_object_is_type(unchecked, json_type_array)) {
        size_t nu = json_object_array_length(unchecked);
        for (size_t i = 0; i < nu; i++) {
            json_object *u = json_object_array_get_idx(unchecked, i), *sc = NULL, *why = NULL;
            json_object_object_get_ex(u, "scenario", &sc);
            json_object_object_get_ex(u, "why", &why);
            conform_fail(c, "P-VISIBLE-1", "%s scenario %s unchecked: %s", m->command,
                         sc ? json_object_get_string(sc) : "?",
                         why ? json_object_get_string(why) : "");
        }
        if (!nu)
            conform_pass(c, "P-VISIBLE-1", "the trace audit saw every file change");
    }
    json_object_put(root);
    return 0;
}

/* The commit protocol through the fault and power-cut campaigns (--tier). */
static int run_protocol(struct conform *c)
{
    static const char *const ids[] = {"P-COMMIT-1",   "P-DURABLE-1", "P-CLEANLOAD-1", "P-RECOVER-1",
                                      "P-LEFTOVER-1", "P-FSYNC-1",   "P-VISIBLE-1"};
    if (!c->opt.tier) {
        for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
            conform_na(c, ids[i],
                       "not run: give --tier smoke|full to run the fault and power-cut "
                       "campaigns (or run snapcheck faults and snapcheck crash)");
        return 0;
    }
    for (size_t i = 0; i < sizeof campaigns / sizeof campaigns[0]; i++)
        if (run_campaign(c, &campaigns[i]) != 0)
            return -1;
    return 0;
}

/* The golden vectors: --vectors, else the source tree's, else the installed copy. */
static const char *vectors_dir(struct conform *c, char *buf, size_t cap)
{
    if (c->opt.vectors_dir)
        return c->opt.vectors_dir;
    /* installed: <prefix>/<datadir>/snapcheck/vectors, prefix above <bindir> */
    char self[PATH_MAX], manifest[PATH_MAX + 16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    const char *bindir = SNAPCHECK_BINDIR;
    if (n > 0 && *bindir && *SNAPCHECK_DATADIR_REL) {
        self[n] = 0;
        char *slash = strrchr(self, '/');
        size_t bl = strlen(bindir);
        if (slash) {
            *slash = 0;
            size_t sl = strlen(self);
            if (sl > bl && !strcmp(self + sl - bl, bindir) && self[sl - bl - 1] == '/') {
                self[sl - bl - 1] = 0;
                if (fmt_path(buf, cap, "%s/%s/snapcheck/vectors", self, SNAPCHECK_DATADIR_REL) ==
                        0 &&
                    fmt_path(manifest, sizeof manifest, "%s/MANIFEST", buf) == 0 &&
                    access(manifest, R_OK) == 0)
                    return buf;
            }
        }
    }
    return SNAPCHECK_VECTORS_DIR; /* the source tree's */
}

static int run(struct conform *c)
{
    char err[1024];
    if (impl_parse(&c->impl, c->opt.impl_cmd, err, sizeof err) != 0)
        return setup_error("%s", err);
    if (!impl_executable(&c->impl))
        return setup_error("the IUT '%s' is not an executable file (from --impl '%s')",
                           c->impl.argv[0], c->opt.impl_cmd);
    const char *tmp = getenv("TMPDIR");
    if (c->opt.keep_dir) {
        if (mkdir(c->opt.keep_dir, 0755) != 0 && errno != EEXIST)
            return setup_error("cannot create --keep directory %s: %s", c->opt.keep_dir,
                               strerror(errno));
        tmp = c->opt.keep_dir;
    }
    char tmpl[512];
    if (fmt_path(tmpl, sizeof tmpl, "%s/snapcheck-conform.XXXXXX", tmp && *tmp ? tmp : "/tmp") ||
        !mkdtemp(tmpl))
        return setup_error("cannot create a work directory under %s: %s",
                           tmp && *tmp ? tmp : "/tmp", strerror(errno));
    if (!realpath(tmpl, c->workdir))
        return setup_error("cannot resolve %s", tmpl);
    if (c->opt.keep_dir && !c->opt.quiet)
        fprintf(stderr, "snapcheck conform: keeping every file under %s\n", c->workdir);
    char dir[600];
    if (conform_scratch(c, dir, sizeof dir, "inputs") != 0)
        return setup_error("cannot create a directory under %s", c->workdir);
    if (dataset_create(&c->data, dir, c->opt.seed, c->opt.page_size ? c->opt.page_size : 4096, err,
                       sizeof err) != 0)
        return setup_error("%s", err);
    /* Stale temporaries (a save crashed before its commit) and --tier need the interposer. */
    if (snapcheck_locate_interposer(c->interposer, sizeof c->interposer, c->opt.interposer))
        return EXIT_SETUP;
    int rc = read_capabilities(c);
    if (rc)
        return rc == 1 ? EXIT_FINDINGS : rc;
    check_unknown_op(c);
    char rt[600];
    rc = check_round_trip(c, rt, sizeof rt);
    if (rc == -2)
        return EXIT_SETUP;
    if (rc == -1)
        return EXIT_FINDINGS;
    detect_format(c, rt);
    if (c->format == FMT_REFERENCE) {
        c->opt.vectors_dir = vectors_dir(c, c->vectors_buf, sizeof c->vectors_buf);
        if (conform_vectors(c) != 0 || conform_interop(c) != 0)
            return EXIT_SETUP;
    }
    if (conform_probe(c) != 0)
        return EXIT_SETUP;
    if (run_protocol(c) != 0)
        return EXIT_SETUP;
    return conform_ok(c) ? EXIT_HELD : EXIT_FINDINGS;
}

int conform_main(int argc, char **argv)
{
    struct conform c;
    memset(&c, 0, sizeof c);
    int rc = parse(&c.opt, argc, argv);
    if (rc >= 0)
        return rc;
    impl_init_signals();
    unsigned n;
    conform_reqs(&n);
    c.res = xcalloc(n, sizeof *c.res);
    struct report_out html = {.fd = -1};
    if (c.opt.html_path && report_out_open(&html, c.opt.html_path, "HTML") != 0) {
        free(c.res);
        return EXIT_SETUP;
    }
    rc = run(&c);
    if (rc != EXIT_SETUP) {
        if (!c.format)
            c.format = c.opt.format ? c.opt.format : FMT_OWN;
        conform_report_text(&c);
        fflush(stdout);
        if (c.opt.json_path && conform_report_json(&c, c.opt.json_path) != 0)
            rc = EXIT_SETUP;
        if (c.opt.junit_path && conform_report_junit(&c, c.opt.junit_path) != 0)
            rc = EXIT_SETUP;
        if (c.opt.html_path && conform_report_html(&c, &html) != 0)
            rc = EXIT_SETUP;
    }
    report_out_abandon(&html); /* a set-up error writes no report */
    if (c.workdir[0] && !c.opt.keep_dir)
        path_remove_tree(c.workdir);
    for (unsigned i = 0; i < c.n_findings; i++)
        free(c.findings[i]);
    free(c.findings);
    free(c.res);
    dataset_finish(&c.data);
    impl_finish(&c.impl);
    return rc;
}
