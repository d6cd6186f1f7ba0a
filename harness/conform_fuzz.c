/* `snapcheck fuzz --impl CMD`: a budgeted mutation loop over another implementation's loader,
 * run through the adapter contract (one exec per input), for implementations of
 * docs/FORMAT.md. Inputs are snapshot directories in the split format of the pair_load fuzz
 * target (fuzz/README.md): the seeds are fuzz/corpus/pair_load, mutated with bit flips,
 * interesting bytes, chunk moves and the tokens of fuzz/snapshot.dict.
 * Method: each input is written out as files, loaded by libsnapref in this process (the
 * reference verdict) and by `IMPL load`; a finding is an IUT killed by a signal, a hang, or a
 * disagreement with the reference: accepting what it refuses, refusing what it loads, or other
 * bytes. Deterministic for a seed and a run budget. */
#include "campaign.h"
#include "conform-priv.h"
#include "conform.h"
#include "report.h"
#include "util.h"

#include <snap/snap.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef SNAPCHECK_FUZZ_DIR
#define SNAPCHECK_FUZZ_DIR ""
#endif

#define FZ_MAX_LEVELS (SNAP_MAX_CHAIN + 2)
#define FZ_ABSENT 0xffffffffu
#define FZ_MAX_RAM (16u << 20) /* inputs declaring more RAM are skipped, as in pair_load */
#define FZ_MAX_INPUT (1u << 20)

struct blob {
    uint8_t *p;
    size_t len;
};

struct fuzz_opts {
    const char *impl_cmd, *corpus, *dict, *out_dir, *html;
    uint64_t seed;
    unsigned runs, seconds;
    bool quiet;
};

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void usage(FILE *f)
{
    fputs("usage: snapcheck fuzz --impl CMD [options]\n\n"
          "Mutates snapshot directories (fuzz/corpus/pair_load, split format of fuzz/README.md)\n"
          "and loads each with CMD (an adapter of docs/FORMAT.md: docs/ADAPTER.md) and with the\n"
          "reference: a finding is a crash, a hang, or a disagreement (accepting what the\n"
          "reference refuses, refusing what it loads, other bytes).\n\n"
          "options:\n"
          "  --impl CMD       IUT command line, split on whitespace (required)\n"
          "  --runs N         inputs to try (default 1000)\n"
          "  --seconds S      stop after S seconds (default: no limit)\n"
          "  --seed N         seed of the mutations (default 1)\n"
          "  --corpus DIR     seed inputs (default: the source tree's fuzz/corpus/pair_load)\n"
          "  --dict FILE      AFL/libFuzzer dictionary (default: fuzz/snapshot.dict)\n"
          "  --out DIR        write each finding's input there (replay: the pair_load target)\n"
          "  --html FILE      write a self-contained HTML page (verdict, findings)\n"
          "  -q               no progress lines\n\n"
          "exit status: 0 no finding, 1 findings, 2 usage or set-up error\n\n",
          f);
    fuzz_lib_usage(f);
}

static int bad(const char *fmt, const char *arg)
{
    fputs("snapcheck fuzz: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\n(see snapcheck fuzz --help)\n", stderr);
    return EXIT_SETUP;
}

static int parse(struct fuzz_opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->runs = 1000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return EXIT_HELD;
        }
        if (!strcmp(a, "-q")) {
            o->quiet = true;
            continue;
        }
        if (!v)
            return bad("option %s needs a value", a);
        i++;
        char *end;
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        bool num = *v && *v != '-' && !*end && !errno;
        if (!strcmp(a, "--impl"))
            o->impl_cmd = v;
        else if (!strcmp(a, "--corpus"))
            o->corpus = v;
        else if (!strcmp(a, "--dict"))
            o->dict = v;
        else if (!strcmp(a, "--out"))
            o->out_dir = v;
        else if (!strcmp(a, "--html"))
            o->html = v;
        else if (!strcmp(a, "--seed") && num)
            o->seed = n;
        else if (!strcmp(a, "--runs") && num && n >= 1 && n <= 100000000)
            o->runs = (unsigned)n;
        else if (!strcmp(a, "--seconds") && num && n <= 100000000)
            o->seconds = (unsigned)n;
        else if (!strcmp(a, "--seed") || !strcmp(a, "--runs") || !strcmp(a, "--seconds"))
            return bad("bad number '%s'", v);
        else
            return bad("unknown option '%s'", a);
    }
    if (!o->impl_cmd)
        return bad("%s", "--impl CMD is required (the implementation under test)");
    return -1;
}

/* Dictionary lines name="bytes" with \xHH, \\ and \" escapes (AFL/libFuzzer syntax). */
static int load_dict(struct blob **out, unsigned *n_out, const char *path)
{
    uint8_t *buf;
    size_t len;
    *out = NULL;
    *n_out = 0;
    if (file_read(&buf, &len, path, 1 << 20) != 0)
        return -1;
    unsigned cap = 0;
    char *save = NULL;
    for (char *line = strtok_r((char *)buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *q = strchr(line, '"');
        if (line[0] == '#' || !q)
            continue;
        uint8_t tok[256];
        size_t k = 0;
        for (char *p = q + 1; *p && *p != '"' && k < sizeof tok; p++) {
            if (*p == '\\' && p[1] == 'x' && p[2] && p[3]) {
                char hex[3] = {p[2], p[3], 0};
                tok[k++] = (uint8_t)strtoul(hex, NULL, 16);
                p += 3;
            } else if (*p == '\\' && p[1]) {
                tok[k++] = (uint8_t) * ++p;
            } else {
                tok[k++] = (uint8_t)*p;
            }
        }
        if (!k)
            continue;
        if (*n_out == cap) {
            cap = cap ? 2 * cap : 32;
            struct blob *g = realloc(*out, cap * sizeof *g);
            if (!g)
                abort();
            *out = g;
        }
        (*out)[*n_out].p = xmalloc(k);
        memcpy((*out)[*n_out].p, tok, k);
        (*out)[(*n_out)++].len = k;
    }
    free(buf);
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_corpus(struct blob **out, unsigned *n_out, const char *dir)
{
    DIR *d = opendir(dir);
    *out = NULL;
    *n_out = 0;
    if (!d)
        return -1;
    char **names = NULL;
    unsigned n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !strncmp(e->d_name, "README", 6))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            char **g = realloc(names, cap * sizeof *g);
            if (!g)
                abort();
            names = g;
        }
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_name); /* the same order on every file system */
    *out = xcalloc(n ? n : 1, sizeof **out);
    for (unsigned i = 0; i < n; i++) {
        char p[1200];
        if (fmt_path(p, sizeof p, "%s/%s", dir, names[i]) == 0 &&
            file_read(&(*out)[*n_out].p, &(*out)[*n_out].len, p, FZ_MAX_INPUT) == 0)
            (*n_out)++;
        free(names[i]);
    }
    free(names);
    return 0;
}

/* One mutation of b in place (b->p has room for FZ_MAX_INPUT bytes). */
static void mutate(struct blob *b, uint64_t *s, const struct blob *dict, unsigned n_dict)
{
    static const uint8_t interesting[] = {0, 1, 0x7f, 0x80, 0xff, 0x10, 0x40};
    unsigned op = (unsigned)(rnd(s) % 8);
    if (!b->len)
        op = 5;
    size_t at = b->len ? rnd(s) % b->len : 0;
    switch (op) {
    case 0: /* bit flip */
    case 1:
        b->p[at] ^= (uint8_t)(1u << (rnd(s) % 8));
        break;
    case 2:
        b->p[at] = interesting[rnd(s) % sizeof interesting];
        break;
    case 3:
        b->p[at] = (uint8_t)rnd(s);
        break;
    case 4: /* overwrite with a token */
    case 5: /* insert a token */
        if (n_dict) {
            const struct blob *t = &dict[rnd(s) % n_dict];
            if (op == 5 && b->len + t->len <= FZ_MAX_INPUT) {
                memmove(b->p + at + t->len, b->p + at, b->len - at);
                b->len += t->len;
            }
            size_t n = t->len < b->len - at ? t->len : b->len - at;
            memcpy(b->p + at, t->p, n);
        }
        break;
    case 6: { /* delete a chunk */
        size_t n = 1 + rnd(s) % 64;
        if (n > b->len - at)
            n = b->len - at;
        memmove(b->p + at, b->p + at + n, b->len - at - n);
        b->len -= n;
        break;
    }
    case 7: /* truncate */
        b->len = at;
        break;
    }
}

struct writer {
    const uint8_t *p;
    size_t left;
};

static int section(struct writer *w, const uint8_t **out, size_t *len)
{
    if (w->left < 4)
        return -1;
    uint32_t n = snap_get_le32(w->p);
    w->p += 4;
    w->left -= 4;
    if (n == FZ_ABSENT)
        return 0;
    *len = n < w->left ? n : w->left;
    *out = w->p;
    w->p += *len;
    w->left -= *len;
    return 1;
}

static void name_field(char dst[SNAP_NAME_FIELD_LEN], const uint8_t *f, size_t len, size_t off)
{
    dst[0] = 0;
    if (len < off + SNAP_NAME_FIELD_LEN || !memchr(f + off, 0, SNAP_NAME_FIELD_LEN))
        return;
    memcpy(dst, f + off, SNAP_NAME_FIELD_LEN);
    if (strchr(dst, '/') || !strcmp(dst, ".") || !strcmp(dst, ".."))
        dst[0] = 0;
}

/* Checksums made right (flags bit 0): memory trailer CRC, page map from the memory file when
 * the header decodes and the lengths agree, state trailer CRC. */
static void repair(uint8_t *st, size_t st_len, uint8_t *mem, size_t mem_len)
{
    if (mem && mem_len >= SNAP_MEM_TRAILER_LEN) {
        uint8_t *t = mem + mem_len - SNAP_MEM_TRAILER_LEN;
        snap_put_le64(t + 56, snap_crc64(0, t, 56));
    }
    if (st_len < SNAP_HEADER_LEN + SNAP_TRAILER_LEN)
        return;
    struct snap_header h;
    if (mem && snap_header_decode(&h, st, st_len, NULL) == 0 && mem_len == h.mem_file_len &&
        h.page_size) {
        uint64_t map = SNAP_HEADER_LEN + h.state_len +
                       (h.kind == SNAP_KIND_DIFF ? snap_bitmap_len(h.ram_size / h.page_size) : 0);
        if (map <= st_len - SNAP_TRAILER_LEN &&
            h.mem_pages <= (st_len - SNAP_TRAILER_LEN - map) / 8 &&
            h.mem_pages <= (mem_len - SNAP_MEM_TRAILER_LEN) / h.page_size)
            for (uint64_t k = 0; k < h.mem_pages; k++)
                snap_put_le64(st + map + 8 * k, snap_crc64(0, mem + k * h.page_size, h.page_size));
    }
    snap_put_le64(st + st_len - SNAP_TRAILER_LEN, snap_crc64(0, st, st_len - SNAP_TRAILER_LEN));
}

/* Write input b as files in dir (as the pair_load target reads it).
 * @return 0, 1 when the input declares more RAM than FZ_MAX_RAM (skipped), -1 on an error. */
static int materialize(const struct blob *b, const char *dir)
{
    if (!b->len)
        return 0;
    bool fix = b->p[0] & 1, pad = b->p[0] & 2;
    struct writer w = {b->p + 1, b->len - 1};
    if (b->p[0] & 4) { /* bit 2: an I/O fault for the in-memory target; an exec'd IUT has none */
        size_t skip = w.left < 4 ? w.left : 4;
        w.p += skip;
        w.left -= skip;
    }
    char id[SNAP_NAME_FIELD_LEN] = "vm", path[1200];
    for (unsigned level = 0; level < FZ_MAX_LEVELS; level++) {
        const uint8_t *st = NULL, *mem = NULL;
        size_t st_len = 0, mem_len = 0;
        int have_st = section(&w, &st, &st_len);
        if (have_st < 0)
            break;
        int have_mem = section(&w, &mem, &mem_len);
        if (have_st > 0 && st_len >= 48 && snap_get_le64(st + 40) > FZ_MAX_RAM)
            return 1;
        /* the memory file: page bytes, zero padding up to mem_file_len (bit 1), trailer */
        uint8_t *m = NULL;
        size_t m_len = 0;
        if (have_mem > 0) {
            m_len = mem_len;
            if (pad && have_st > 0 && st_len >= 120 && mem_len >= SNAP_MEM_TRAILER_LEN) {
                uint64_t want = snap_get_le64(st + 112);
                if (want >= mem_len && want <= FZ_MAX_RAM + SNAP_MEM_TRAILER_LEN)
                    m_len = (size_t)want;
            }
            m = xcalloc(m_len ? m_len : 1, 1);
            if (m_len == mem_len || mem_len < SNAP_MEM_TRAILER_LEN) {
                memcpy(m, mem, mem_len);
            } else {
                memcpy(m, mem, mem_len - SNAP_MEM_TRAILER_LEN);
                memcpy(m + m_len - SNAP_MEM_TRAILER_LEN, mem + mem_len - SNAP_MEM_TRAILER_LEN,
                       SNAP_MEM_TRAILER_LEN);
            }
        }
        uint8_t *s = NULL;
        if (have_st > 0) {
            s = xmalloc(st_len ? st_len : 1);
            memcpy(s, st, st_len);
            if (fix)
                repair(s, st_len, m, m_len);
        }
        char mem_name[SNAP_NAME_FIELD_LEN] = "", base[SNAP_NAME_FIELD_LEN] = "";
        int rc = 0;
        if (s) {
            name_field(mem_name, s, st_len, 128);
            name_field(base, s, st_len, 192);
            if (fmt_path(path, sizeof path, "%s/%s.snap", dir, id) == 0 && access(path, F_OK))
                rc = file_write(path, s, st_len);
        }
        if (!mem_name[0])
            snprintf(mem_name, sizeof mem_name, "%s.g1.mem", id);
        if (m && fmt_path(path, sizeof path, "%s/%s", dir, mem_name) == 0 && access(path, F_OK))
            rc |= file_write(path, m, m_len);
        free(s);
        free(m);
        if (rc)
            return -1;
        if (snap_id_valid(base))
            memcpy(id, base, sizeof id);
        else
            snprintf(id, sizeof id, "base%u", level + 1);
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int conform_fuzz_main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--lib"))
            return fuzz_lib_main(argc, argv);
    struct fuzz_opts o;
    int rc = parse(&o, argc, argv);
    if (rc >= 0)
        return rc;
    impl_init_signals();
    struct conform c;
    memset(&c, 0, sizeof c);
    c.opt.impl_cmd = o.impl_cmd;
    unsigned n_req;
    conform_reqs(&n_req);
    c.res = xcalloc(n_req, sizeof *c.res);
    char err[600], corpus[PATH_MAX], dict[PATH_MAX];
    snprintf(corpus, sizeof corpus, "%s",
             o.corpus ? o.corpus : SNAPCHECK_FUZZ_DIR "/corpus/pair_load");
    snprintf(dict, sizeof dict, "%s", o.dict ? o.dict : SNAPCHECK_FUZZ_DIR "/snapshot.dict");
    struct blob *seeds = NULL, *tokens = NULL;
    unsigned n_seeds = 0, n_tokens = 0, findings = 0, ref_ok = 0, iut_ok = 0, skipped = 0;
    unsigned done = 0;
    struct blob in = {xmalloc(FZ_MAX_INPUT), 0};
    enum { KEPT = 200 };
    char *kept[KEPT];
    unsigned n_kept = 0;
    struct report_out html = {.fd = -1};
    rc = EXIT_SETUP;
    if (o.html && report_out_open(&html, o.html, "HTML") != 0)
        goto out;
    if (impl_parse(&c.impl, o.impl_cmd, err, sizeof err) != 0) {
        fprintf(stderr, "snapcheck fuzz: %s\n", err);
        goto out;
    }
    if (!impl_executable(&c.impl)) {
        fprintf(stderr, "snapcheck fuzz: the IUT '%s' is not an executable file\n", c.impl.argv[0]);
        goto out;
    }
    if (load_corpus(&seeds, &n_seeds, corpus) != 0 || !n_seeds) {
        fprintf(stderr, "snapcheck fuzz: no seed inputs in %s (give --corpus DIR)\n", corpus);
        goto out;
    }
    if (load_dict(&tokens, &n_tokens, dict) != 0) {
        fprintf(stderr, "snapcheck fuzz: cannot read the dictionary %s (give --dict FILE)\n", dict);
        goto out;
    }
    if (o.out_dir && mkdir(o.out_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "snapcheck fuzz: cannot create --out %s: %s\n", o.out_dir, strerror(errno));
        goto out;
    }
    const char *tmp = getenv("TMPDIR");
    char tmpl[512];
    if (fmt_path(tmpl, sizeof tmpl, "%s/snapcheck-fuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp") ||
        !mkdtemp(tmpl) || !realpath(tmpl, c.workdir)) {
        fprintf(stderr, "snapcheck fuzz: cannot create a work directory: %s\n", strerror(errno));
        goto out;
    }
    uint64_t s = o.seed ^ 0x66757a7aull; /* "fuzz" */
    double t0 = now_s();
    for (done = 0; done < o.runs; done++) {
        if (o.seconds && now_s() - t0 > o.seconds)
            break;
        const struct blob *seed = &seeds[done < n_seeds ? done : rnd(&s) % n_seeds];
        memcpy(in.p, seed->p, seed->len);
        in.len = seed->len;
        if (done >= n_seeds) { /* each seed once as it is, then mutants */
            unsigned n_mut = 1 + (unsigned)(rnd(&s) % 4);
            for (unsigned k = 0; k < n_mut; k++)
                mutate(&in, &s, tokens, n_tokens);
            if (in.len && rnd(&s) % 2)
                in.p[0] |= 1; /* repair checksums: mutations reach the later rules */
        }
        char dir[600];
        if (conform_scratch(&c, dir, sizeof dir, "input") != 0) {
            fprintf(stderr, "snapcheck fuzz: cannot create a directory under %s\n", c.workdir);
            goto out;
        }
        int m = materialize(&in, dir);
        if (m != 0) {
            path_remove_tree(dir);
            if (m < 0) {
                fprintf(stderr, "snapcheck fuzz: cannot write an input under %s\n", dir);
                goto out;
            }
            skipped++;
            continue;
        }
        struct snap_image img;
        struct snap_diag diag;
        snap_diag_clear(&diag);
        int ref = snap_pair_load(&img, &snap_io_posix, dir, "vm", &diag);
        struct load_check lc;
        conform_load(&lc, &c, dir, "vm", ref ? NULL : img.state_bytes, ref ? 0 : img.state_len,
                     ref ? NULL : img.memory, ref ? 0 : (size_t)img.hdr.ram_size,
                     ref ? 4096 : img.hdr.page_size);
        ref_ok += ref == 0;
        iut_ok += lc.outcome == LOAD_EXACT || lc.outcome == LOAD_WRONG;
        char what[700] = "";
        if (lc.outcome == LOAD_ABNORMAL)
            snprintf(what, sizeof what, "load %s", lc.text);
        else if (ref == 0 && lc.outcome == LOAD_REFUSED)
            snprintf(what, sizeof what, "refuses a pair the reference loads: %s", lc.text);
        else if (ref == 0 && lc.outcome == LOAD_WRONG)
            snprintf(what, sizeof what, "loads other bytes than the reference: %s", lc.text);
        else if (ref != 0 && lc.outcome != LOAD_REFUSED)
            snprintf(what, sizeof what, "accepts what the reference refuses (%s: %s)",
                     snap_strerror(ref), diag.msg);
        if (ref == 0)
            snap_image_finish(&img);
        str_replace_all(what, sizeof what, dir, "<input>"); /* the same text on every run */
        if (what[0]) {
            findings++;
            char saved[700] = "";
            if (o.out_dir) {
                snprintf(saved, sizeof saved, "%s/finding-%u.bin", o.out_dir, findings);
                if (file_write(saved, in.p, in.len) != 0)
                    saved[0] = 0;
            }
            if (findings <= 20)
                printf("FINDING input %u%s%s: %s\n", done, saved[0] ? " " : "", saved, what);
            if (n_kept < KEPT)
                kept[n_kept++] = xasprintf("input %u%s%s: %s", done, saved[0] ? " " : "", saved,
                                           what);
        }
        path_remove_tree(dir);
        if (!o.quiet && (done + 1) % 250 == 0)
            fprintf(stderr, "snapcheck fuzz: %u inputs, %u findings\n", done + 1, findings);
    }
    double secs = now_s() - t0;
    printf("snapcheck fuzz: %u inputs (%u skipped: RAM over %u MiB) in %.1f s (%.0f exec/s), "
           "reference loaded %u, IUT loaded %u, %u finding%s%s\n",
           done, skipped, FZ_MAX_RAM >> 20, secs, secs > 0 ? (done - skipped) / secs : 0.0, ref_ok,
           iut_ok, findings, findings == 1 ? "" : "s",
           findings > 20 ? " (the first 20 printed)" : "");
    rc = findings ? EXIT_FINDINGS : EXIT_HELD;
    if (o.html) {
        char *meta = xasprintf("%u inputs (%u skipped) in %.1f s, reference loaded %u, IUT "
                               "loaded %u; seed %llu; impl: %s",
                               done, skipped, secs, ref_ok, iut_ok, (unsigned long long)o.seed,
                               o.impl_cmd);
        if (report_html_findings(&html, "fuzz", findings ? "VERDICT: FAIL" : "VERDICT: PASS",
                                 findings != 0, meta, (const char *const *)kept, n_kept,
                                 findings) != 0)
            rc = EXIT_SETUP;
        free(meta);
    }
out:
    report_out_abandon(&html);
    for (unsigned i = 0; i < n_kept; i++)
        free(kept[i]);
    if (c.workdir[0])
        path_remove_tree(c.workdir);
    for (unsigned i = 0; i < n_seeds; i++)
        free(seeds[i].p);
    for (unsigned i = 0; i < n_tokens; i++)
        free(tokens[i].p);
    free(seeds);
    free(tokens);
    free(in.p);
    free(c.res);
    impl_finish(&c.impl);
    return rc;
}
