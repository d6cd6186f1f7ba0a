/* snapcheck crash (crash.h, docs/CRASH.md).
 * Method: a unit is one scenario with one recording of its step under the interposer with
 * SNAPFAULT_TRACE_DATA: the clean recording, or one where fsync #F fails (EIO). The clean
 * recording is first audited: the trace replayed onto the template must give exactly the
 * directory the run left, or the scenario is UNCHECKED. Then, per model and per cut (after
 * each counted call; the last cut is "exit"), faults/persist enumerates the states a power cut
 * may leave; each distinct state is written as hard links, judged with clean runs of the IUT
 * through the campaign's driver (load of the target and of the diff base, recovery save, file
 * count), and a failing state's lost set is shrunk to a minimal one by delta debugging.
 * Units run in forked workers (-j); each writes its results to a file the parent reads. */
#define _GNU_SOURCE
#include "crash.h"
#include "driver.h"
#include "oracle.h"
#include "persist.h"
#include "report.h"
#include "scenario.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_FINDINGS 24 /* distinct minimal counterexamples kept per unit; the count of
                         * failing states is always complete */

/* snprintf for messages: truncation of a long path in a message is acceptable. */
static void say(char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

int crash_option(struct options *o, const char *a, const char *v)
{
    if (!o->crash && strcmp(a, "--ram-mib") != 0)
        return 0; /* snapcheck faults takes only --ram-mib of these */
    if (!strcmp(a, "--model")) {
        if (!strcmp(v, "all")) {
            o->models = (1u << PT_MODEL_COUNT) - 1;
            return 1;
        }
        char buf[128];
        say(buf, sizeof buf, "%s", v);
        char *save = NULL;
        for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
            int m = pt_model_find(w);
            if (m < 0) {
                fprintf(stderr,
                        "snapcheck crash: unknown --model '%s' (prefix, posix, ext4-ordered or "
                        "all)\n",
                        w);
                return -1;
            }
            o->models |= 1u << m;
        }
        return 1;
    }
    if (!strcmp(a, "--ram-mib")) {
        char *end;
        unsigned long n = strtoul(v, &end, 10);
        if (*end || !*v || n < 2 || n > 4096) {
            fprintf(stderr, "snapcheck crash: --ram-mib needs a size in MiB from 2 to 4096, not "
                            "'%s'\n",
                    v);
            return -1;
        }
        o->ram_mib = (unsigned)n;
        return 1;
    }
    if (!strcmp(a, "--export-corpus")) {
        o->export_corpus = v;
        return 1;
    }
    if (!strcmp(a, "--budget")) {
        char *end;
        unsigned long n = strtoul(v, &end, 10);
        if (*end || !*v || n < 1 || n > 1000000) {
            fprintf(stderr, "snapcheck crash: --budget needs a number from 1 to 1000000, not "
                            "'%s'\n",
                    v);
            return -1;
        }
        o->budget = (unsigned)n;
        return 1;
    }
    return 0;
}

void crash_usage(FILE *f)
{
    fputs("usage: snapcheck crash --impl CMD [options]\n\n"
          "Records each scenario's step once under the interposer with the written bytes\n"
          "(and once more per fsync, that fsync failing), rebuilds every state a power cut\n"
          "could leave under a persistence model, and judges each distinct state with clean\n"
          "runs of CMD: prior-pair, durable, fsync-failure, recovery, leftovers. The trace\n"
          "is audited first: files changed behind the interposer make a scenario UNCHECKED\n"
          "(docs/CRASH.md).\n\n"
          "options (as for snapcheck faults, plus):\n"
          "  --impl CMD           IUT command line (required)\n"
          "  --model M[,M]        prefix, posix (default), ext4-ordered, or all\n"
          "  --scenario NAME      only this scenario (repeatable)\n"
          "  --case ID            only this state, e.g. full-over-full/14/posix/lost=13\n"
          "  --tier smoke|full    smoke (default): exhaustive up to 8 unsynced calls, 64\n"
          "                       states per cut above; full: up to 10, 256 per cut\n"
          "  --budget N           states per cut above the exhaustive bound (overrides tier)\n"
          "  -j N                 N workers (scenario x recording units)\n"
          "  --shard K/N          every Nth unit starting at the Kth\n"
          "  --seed N             seed of the inputs and of the sampled subsets (default 1)\n"
          "  --json FILE, --junit FILE, --html FILE, --list, --keep DIR, --page-size N,\n"
          "  --interposer PATH\n"
          "  --in-process         reference only: judge with libsnapref linked in\n"
          "  --export-corpus DIR  write each distinct torn or partial state and memory file\n"
          "  --ram-mib N          size of the generated guest images (default 2)\n"
          "  -q                   no progress line\n\n"
          "exit status: 0 every oracle held, 1 findings or an unchecked scenario, 2 usage or\n"
          "set-up error\n",
          f);
}

/* ---- results ---- */

struct crash_finding {
    char id[160];
    char oracle[24];
    char detail[400];
    char minimal[1400];
    char load[320];
    bool shrunk;
};

struct model_stats {
    unsigned long choices;  /* choices enumerated */
    unsigned long states;   /* distinct states (per model) */
    unsigned long judged;   /* states judged by running the IUT (cache misses) */
    unsigned long findings; /* distinct states that broke an oracle */
};

struct unit_result {
    int done;
    int setup_error;
    char setup_why[600];
    bool unchecked;
    char unchecked_why[900];
    char step[240]; /* how the recorded step ended */
    struct model_stats m[PT_MODEL_COUNT];
    double seconds;
    double explore_seconds; /* enumeration and judging (after recording and audit) */
    unsigned n_findings; /* kept in the file after this struct */
};

struct unit {
    unsigned run;     /* index into c->runs */
    unsigned fail_at; /* 0: clean recording; else the fsync ordinal that fails */
};

/* ---- one unit ---- */

struct seen {
    uint64_t *keys;
    size_t cap, n;
};

/* true when key was already in the set (then nothing changes). */
static bool seen_add(struct seen *s, uint64_t key)
{
    if (!key)
        key = 1;
    if (s->n * 2 >= s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        uint64_t *k = xcalloc(cap, sizeof *k);
        for (size_t i = 0; i < s->cap; i++)
            if (s->keys[i])
                for (size_t j = s->keys[i] & (cap - 1);; j = (j + 1) & (cap - 1))
                    if (!k[j]) {
                        k[j] = s->keys[i];
                        break;
                    }
        free(s->keys);
        s->keys = k;
        s->cap = cap;
    }
    for (size_t j = key & (s->cap - 1);; j = (j + 1) & (s->cap - 1)) {
        if (s->keys[j] == key)
            return true;
        if (!s->keys[j]) {
            s->keys[j] = key;
            s->n++;
            return false;
        }
    }
}

static bool seen_has(const struct seen *s, uint64_t key)
{
    if (!key)
        key = 1;
    if (!s->cap)
        return false;
    for (size_t j = key & (s->cap - 1);; j = (j + 1) & (s->cap - 1)) {
        if (s->keys[j] == key)
            return true;
        if (!s->keys[j])
            return false;
    }
}

/* The verdict of a state already judged: digest -> 0 held / 1 finding. */
struct verdicts {
    struct seen held, failed;
};

struct uctx {
    unsigned judged_since_prune; /* store_prune */
    const struct campaign *c;
    const struct scenario *s;
    const struct scenario_run *run;
    const struct unit *u;
    struct pt_trace *t;
    char udir[600], store[640], sdir[700], errp[700];
    bool exited0;     /* the recorded step exited 0 */
    unsigned seq;     /* states written so far */
    unsigned model;   /* the model being enumerated */
    unsigned cut;     /* the cut being enumerated */
    struct seen dedup[PT_MODEL_COUNT];
    struct verdicts v;
    struct seen exported;
    struct seen sigs; /* minimal counterexamples reported */
    double prof[6];   /* seconds: build, write, load, base, recovery, cleanup */
    struct memo *memo;
    unsigned n_memo, cap_memo;
    unsigned long memo_hits;
    bool no_memo;                   /* SNAPCHECK_CRASH_NO_MEMO=1: judge every state */
    int ifd;                        /* inotify */
    const struct pt_state *tpl_state; /* the template as a state (base files' digests) */
    struct unit_result *res;
    struct crash_finding *found;
    unsigned n_found;
    uint64_t final_digests[64]; /* the complete run's files (not partial) */
    unsigned n_final;
    char tpl_dir[640]; /* the unit's copy of the template (tpl_make) */
    const char *case_set; /* --case: the state's set ("lost=..."), else NULL */
    bool list;
    int err;
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Calls a and b continue one run: the same call on the same file (docs/CRASH.md 4). */
static bool same_run(const struct pt_op *a, const struct pt_op *b)
{
    return a && b && a->kind == b->kind && a->ino == b->ino && !strcmp(a->call, b->call) &&
           (a->name == b->name || (a->name && b->name && !strcmp(a->name, b->name)));
}

/* Run reduction of the cuts, as snapcheck faults reduces its cases: inside a run of like calls
 * (a save writing a large image page by page before one fsync), only the cuts after the run's
 * first, second, middle and second-to-last call are taken, and always the one after its last.
 * The states of a skipped cut are those of the run's last cut with a suffix of the run lost,
 * which the enumeration there includes (each suffix lost), unless the run is longer than the
 * exhaustive bound and the seeded sample misses one. --tier all takes every cut. */
static bool cut_taken(const struct pt_trace *t, unsigned cut, unsigned last)
{
    const struct pt_op *o = pt_trace_op(t, cut);
    if (cut >= last || !same_run(o, pt_trace_op(t, cut + 1)))
        return true;
    unsigned first = cut, end = cut;
    while (first > 1 && same_run(pt_trace_op(t, first - 1), o))
        first--;
    while (end < last && same_run(pt_trace_op(t, end + 1), o))
        end++;
    unsigned len = end - first + 1, k = cut - first;
    return k == 0 || k == 1 || k == (len - 1) / 2 || k + 2 == len;
}

static bool is_exit_cut(const struct uctx *x, unsigned cut)
{
    return cut >= pt_trace_last(x->t);
}

static void state_id(char *dst, size_t cap, const struct uctx *x, unsigned model, unsigned cut,
                     const unsigned *lost, unsigned n_lost, unsigned torn)
{
    char cutb[24], modelb[48], set[96] = "";
    if (is_exit_cut(x, cut))
        say(cutb, sizeof cutb, "exit");
    else
        say(cutb, sizeof cutb, "%u", cut);
    if (x->u->fail_at)
        say(modelb, sizeof modelb, "%s+eio@%u", pt_model_name(model), x->u->fail_at);
    else
        say(modelb, sizeof modelb, "%s", pt_model_name(model));
    if (torn)
        say(set, sizeof set, "torn=%u", torn);
    else if (!n_lost)
        say(set, sizeof set, "lost=none");
    else {
        size_t used = (size_t)snprintf(set, sizeof set, "lost=");
        for (unsigned i = 0; i < n_lost && used < sizeof set; i++) {
            int w = snprintf(set + used, sizeof set - used, "%s%u", i ? "," : "", lost[i]);
            if (w < 0 || (size_t)w >= sizeof set - used) {
                say(set + (sizeof set - 4), 4, "...");
                break;
            }
            used += (size_t)w;
        }
    }
    say(dst, cap, "%s/%s/%s/%s", x->s->name, cutb, modelb, set);
}

/* The unit's own copy of the template, which the states hard-link (the scenario's template
 * stays untouched: it is the image's root). Its files carry a fixed mtime, so a judging run
 * that writes one in place (an IUT that writes over an existing file) is seen, and the copy is
 * made again before the next state. */
static int tpl_make(struct uctx *x)
{
    path_remove_tree(x->tpl_dir);
    if (dir_image_write_stamped(&x->run->tpl, x->tpl_dir) != 0) {
        x->err = 1;
        say(x->res->setup_why, sizeof x->res->setup_why, "cannot copy the template to %s: %s",
            x->tpl_dir, strerror(errno));
        return -1;
    }
    return 0;
}

static void tpl_repair(struct uctx *x)
{
    if (!dir_image_pristine(&x->run->tpl, x->tpl_dir))
        tpl_make(x);
}

static void export_state(struct uctx *x, const struct pt_state *st)
{
    const char *root = x->c->opt.export_corpus;
    for (unsigned i = 0; i < pt_state_files(st); i++) {
        const char *name;
        uint64_t size, dg;
        bool untouched;
        pt_state_file(st, i, &name, &size, &dg, &untouched);
        if (untouched || !size)
            continue;
        bool complete = false;
        for (unsigned k = 0; k < x->n_final; k++)
            complete |= x->final_digests[k] == dg;
        if (complete || seen_add(&x->exported, dg))
            continue;
        const char *kind = strstr(name, ".mem") ? "memory" : strstr(name, ".snap") ? "state" : NULL;
        if (!kind)
            continue;
        char d[1200], p[1300];
        say(d, sizeof d, "%s/%s", root, kind);
        mkdir(root, 0755);
        mkdir(d, 0755);
        say(p, sizeof p, "%s/crash-%016" PRIx64, d, dg);
        if (access(p, F_OK) != 0)
            pt_state_write_file(st, i, p);
    }
}

/* The base pair's files are the template's, untouched, under their names: its load would
 * repeat the one verified at set-up (the assumption snapcheck faults makes too). */
static bool base_intact(const struct uctx *x, const struct pt_state *st)
{
    for (unsigned i = 0; i < x->run->tpl.n; i++) {
        const struct dir_file *f = &x->run->tpl.files[i];
        if (!f->marked)
            continue;
        bool ok = false;
        for (unsigned k = 0; k < pt_state_files(st) && !ok; k++) {
            const char *name;
            uint64_t size, dg;
            bool untouched;
            pt_state_file(st, k, &name, &size, &dg, &untouched);
            ok = untouched && !strcmp(name, f->name) && size == f->len &&
                 dg == pt_state_name_digest(x->tpl_state, f->name);
        }
        if (!ok)
            return false;
    }
    return true;
}

/* The files the judging runs opened in the state directory (and its subdirectories), seen
 * through inotify. */
struct opened {
    int fd; /* the unit's inotify descriptor (closing one waits for the kernel: keep it) */
    int *wd;
    char **prefix; /* per watch: the directory's path in the state, "" for the top */
    unsigned n_wd;
    bool overflow;
    char **names;
    unsigned n;
};

static void opened_watch(struct opened *o, const char *dir, const char *rel)
{
    char p[1400];
    say(p, sizeof p, "%s%s%s", dir, *rel ? "/" : "", rel);
    int wd = inotify_add_watch(o->fd, p, IN_OPEN);
    if (wd < 0) {
        o->overflow = true; /* unwatched: no memo entry */
        return;
    }
    o->wd = realloc(o->wd, (o->n_wd + 1) * sizeof *o->wd);
    o->prefix = realloc(o->prefix, (o->n_wd + 1) * sizeof *o->prefix);
    if (!o->wd || !o->prefix) {
        o->overflow = true;
        o->n_wd = 0;
        return;
    }
    o->wd[o->n_wd] = wd;
    o->prefix[o->n_wd++] = xstrdup(rel);
}

static void opened_start(struct opened *o, int ifd, const char *dir, const struct pt_state *st)
{
    memset(o, 0, sizeof *o);
    o->fd = ifd;
    if (ifd < 0) {
        o->overflow = true;
        return;
    }
    opened_watch(o, dir, "");
    for (unsigned i = 0; i < pt_state_files(st); i++) {
        const char *name;
        uint64_t size, dg;
        bool un;
        pt_state_file(st, i, &name, &size, &dg, &un);
        if (pt_state_is_dir(st, i))
            opened_watch(o, dir, name);
    }
}

static void opened_collect(struct opened *o)
{
    if (o->fd < 0 || !o->n_wd) {
        o->overflow = true;
        return;
    }
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(o->fd, buf, sizeof buf);
        if (n <= 0)
            break;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            p += sizeof *ev + ev->len;
            if (ev->mask & IN_Q_OVERFLOW)
                o->overflow = true;
            if (!(ev->mask & IN_OPEN) || !ev->len || !ev->name[0])
                continue;
            const char *prefix = NULL;
            for (unsigned k = 0; k < o->n_wd && !prefix; k++)
                if (o->wd[k] == ev->wd)
                    prefix = o->prefix[k];
            if (!prefix)
                continue;
            char name[1400];
            say(name, sizeof name, "%s%s%s", prefix, *prefix ? "/" : "", ev->name);
            bool dup = false;
            for (unsigned i = 0; i < o->n && !dup; i++)
                dup = !strcmp(o->names[i], name);
            if (dup)
                continue;
            char **nn = realloc(o->names, (o->n + 1) * sizeof *o->names);
            if (!nn) {
                o->overflow = true;
                continue;
            }
            o->names = nn;
            o->names[o->n++] = xstrdup(name);
        }
    }
    for (unsigned k = 0; k < o->n_wd; k++)
        inotify_rm_watch(o->fd, o->wd[k]);
}

static void opened_finish(struct opened *o)
{
    for (unsigned k = 0; k < o->n_wd; k++)
        free(o->prefix[k]);
    free(o->prefix);
    free(o->wd);
    for (unsigned i = 0; i < o->n; i++)
        free(o->names[i]);
    free(o->names);
}

/* Memo of verdicts by what the judging runs could see: the names in the directory and the
 * bytes of the files they opened (inotify). A state with the same names and the same bytes in
 * those files gets the same verdict without running the IUT: its runs would read exactly the
 * same things. The assumption (docs/CRASH.md): the IUT's judging runs are a function of the
 * directory's names and of the bytes of the files they open. */
struct memo {
    uint64_t names_hash;
    bool exit_kind;
    unsigned n;
    char **names;
    uint64_t *digests;
    int bad;
    char oracle[24], detail[400], load[320];
};

static uint64_t names_hash(const struct pt_state *st)
{
    uint64_t h = 1469598103934665603ull;
    for (unsigned i = 0; i < pt_state_files(st); i++) {
        const char *name;
        uint64_t size, dg;
        bool un;
        pt_state_file(st, i, &name, &size, &dg, &un);
        for (const char *p = name; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ull;
        h = (h ^ 0x2f) * 1099511628211ull;
    }
    return h;
}

static const struct memo *memo_find(const struct uctx *x, const struct pt_state *st,
                                    bool exit_kind)
{
    uint64_t nh = names_hash(st);
    for (unsigned i = 0; i < x->n_memo; i++) {
        const struct memo *m = &x->memo[i];
        if (m->names_hash != nh || m->exit_kind != exit_kind)
            continue;
        bool same = true;
        for (unsigned k = 0; k < m->n && same; k++)
            same = pt_state_name_digest(st, m->names[k]) == m->digests[k];
        if (same)
            return m;
    }
    return NULL;
}

static void memo_add(struct uctx *x, const struct pt_state *st, bool exit_kind,
                     const struct opened *op, int bad, const char *oracle, const char *detail,
                     const char *load)
{
    if (op->overflow || x->no_memo)
        return;
    if (x->n_memo == x->cap_memo) {
        x->cap_memo = x->cap_memo ? x->cap_memo * 2 : 64;
        x->memo = realloc(x->memo, x->cap_memo * sizeof *x->memo);
        if (!x->memo) {
            x->n_memo = x->cap_memo = 0;
            return;
        }
    }
    struct memo *m = &x->memo[x->n_memo];
    memset(m, 0, sizeof *m);
    m->names_hash = names_hash(st);
    m->exit_kind = exit_kind;
    m->names = xcalloc(op->n ? op->n : 1, sizeof *m->names);
    m->digests = xcalloc(op->n ? op->n : 1, sizeof *m->digests);
    for (unsigned i = 0; i < op->n; i++) {
        uint64_t d = pt_state_name_digest(st, op->names[i]);
        if (!d)
            continue; /* created by the judging runs themselves */
        m->names[m->n] = xstrdup(op->names[i]);
        m->digests[m->n++] = d;
    }
    m->bad = bad;
    say(m->oracle, sizeof m->oracle, "%s", oracle);
    say(m->detail, sizeof m->detail, "%s", detail);
    say(m->load, sizeof m->load, "%s", load);
    x->n_memo++;
}

/* The content store only saves rewriting a file that consecutive states share; nothing needs
 * it once a state's directory is gone. Every 32 judged states, when the store holds more than
 * STORE_CAP bytes, its files that no state directory links any more (link count 1) are
 * removed, so a step of many calls on a large image cannot fill a tmpfs. */
enum { STORE_PRUNE_EVERY = 32 };
#define STORE_CAP ((uint64_t)256 << 20)

static void store_prune(struct uctx *x)
{
    if (++x->judged_since_prune < STORE_PRUNE_EVERY)
        return;
    x->judged_since_prune = 0;
    DIR *d = opendir(x->store);
    if (!d)
        return;
    uint64_t bytes = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        struct stat st;
        if (de->d_name[0] != '.' && fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            bytes += (uint64_t)st.st_blocks * 512;
    }
    if (bytes > STORE_CAP) {
        rewinddir(d);
        while ((de = readdir(d))) {
            struct stat st;
            if (de->d_name[0] != '.' &&
                fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISREG(st.st_mode) && st.st_nlink == 1)
                unlinkat(dirfd(d), de->d_name, 0);
        }
    }
    closedir(d);
}

/* Judge the state: 0 held, 1 broke an oracle (oracle, detail, load filled). full: also the
 * recovery save and the leftovers count (not needed while shrinking). */
static int judge(struct uctx *x, const struct pt_state *st, unsigned cut, bool full,
                 char *oracle, size_t ocap, char *detail, size_t dcap, char *load, size_t lcap,
                 struct opened *op)
{
    const struct campaign *c = x->c;
    const struct scenario *s = x->s;
    char err[400];
    double t0 = mono();
    oracle[0] = detail[0] = load[0] = 0;
    if (op)
        memset(op, 0, sizeof *op);
    say(x->sdir, sizeof x->sdir, "%s/s%u", x->udir, x->seq++);
    if (pt_state_write(st, x->sdir, x->store, err, sizeof err) != 0) {
        x->err = 1;
        say(x->res->setup_why, sizeof x->res->setup_why, "%s", err);
        path_remove_tree(x->sdir);
        return 0;
    }
    const struct payload *prior = s->prior >= 0 ? &c->data.p[s->prior] : NULL;
    const struct payload *fresh = &c->data.p[s->expect_new];
    struct load_outcome lo;
    double t1 = mono();
    x->prof[1] += t1 - t0;
    if (op)
        opened_start(op, x->ifd, x->sdir, st);
    c->drv->load(&lo, c, x->sdir, s->id, x->udir, prior, fresh, x->errp);
    say(load, lcap, "%s", lo.text);
    double t2 = mono();
    x->prof[2] += t2 - t1;
    int bad = 0;
    bool durable = is_exit_cut(x, cut) && x->exited0;
    if (durable) {
        bool ok = lo.match == LOAD_NEW || (s->prior == s->expect_new && lo.match == LOAD_PRIOR);
        if (!ok) {
            bad = 1;
            say(oracle, ocap, "%s", x->u->fail_at ? "fsync-failure" : "durable");
            if (x->u->fail_at)
                say(detail, dcap,
                         "the step exited 0 after fsync #%u failed, yet after a power cut the "
                         "new pair does not load: data the save relied on was dropped with the "
                         "failed fsync",
                         x->u->fail_at);
            else
                say(detail, dcap,
                         "the step exited 0 (the save reported success), yet after a power cut "
                         "the new pair does not load");
        }
    } else {
        const char *why = NULL;
        if (lo.match == LOAD_NONE && prior)
            why = "no pair loads although a prior pair existed (prior pair lost)";
        else if (lo.match == LOAD_OTHER)
            why = "load returned bytes that are neither the prior nor the new pair";
        else if (lo.match == LOAD_BROKEN)
            why = "load did not exit normally";
        if (why) {
            bad = 1;
            say(oracle, ocap, "prior-pair");
            say(detail, dcap, "after a power cut %s %s",
                     is_exit_cut(x, cut) ? "after the failed step" : "during the step", why);
        }
    }
    if (!bad && s->base_payload >= 0 && !base_intact(x, st)) {
        const struct payload *bp = &c->data.p[s->base_payload];
        struct load_outcome bl;
        c->drv->load(&bl, c, x->sdir, s->base_id, x->udir, bp, bp, x->errp);
        if (bl.match != LOAD_PRIOR) {
            bad = 1;
            say(oracle, ocap, "prior-pair");
            say(detail, dcap, "after a power cut the base pair '%s' no longer loads intact",
                     s->base_id);
            say(load, lcap, "%s", bl.text);
        }
    }
    double t3 = mono();
    x->prof[3] += t3 - t2;
    if (!bad && full) {
        struct impl_result r;
        struct step_req req = {
            .op = OP_SAVE_FULL, .dir = x->sdir, .id = s->id, .payload = P_RECOVERY};
        c->drv->step(&r, c, &req, NULL, x->errp);
        struct load_outcome rl;
        if (r.end == IMPL_EXITED && r.code == 0)
            c->drv->load(&rl, c, x->sdir, s->id, x->udir, NULL, &c->data.p[P_RECOVERY], x->errp);
        if (r.end != IMPL_EXITED || r.code != 0 || rl.match != LOAD_NEW) {
            char t[240];
            impl_result_text(t, sizeof t, &r);
            bad = 1;
            say(oracle, ocap, "recovery");
            say(detail, dcap, "after a power cut the clean recovery save (1 MiB) %s",
                     r.end == IMPL_EXITED && r.code == 0 ? "exited 0 but does not load back"
                                                         : "failed");
            say(load, lcap, "%s", r.end == IMPL_EXITED && r.code == 0 ? rl.text : t);
        } else {
            char names[600];
            int n = dir_list(names, sizeof names, x->sdir);
            if (n > x->run->baseline_files) {
                bad = 1;
                say(oracle, ocap, "leftovers");
                say(detail, dcap,
                         "after the recovery save the directory holds %d files where a clean "
                         "run leaves %d: %s",
                         n, x->run->baseline_files, names);
            }
        }
    }
    double t4 = mono();
    x->prof[4] += t4 - t3;
    if (op)
        opened_collect(op);
    tpl_repair(x);
    pt_state_store_check(st, x->store);
    if (!x->c->opt.keep_dir || !bad)
        path_remove_tree(x->sdir);
    store_prune(x);
    x->prof[5] += mono() - t4;
    str_replace_all(detail, dcap, x->sdir, "<state>");
    str_replace_all(load, lcap, x->sdir, "<state>");
    return bad;
}

/* One sentence per lost operation (why it could be lost), then the kept unsynced namespace
 * operations, then what a failed fsync dropped. */
static void describe(char *dst, size_t cap, const struct uctx *x, unsigned model, unsigned cut,
                     const unsigned *lost, unsigned n_lost, unsigned torn)
{
    dst[0] = 0;
    char d[300], line[500];
    const struct pt_trace *t = x->t;
    if (torn) {
        pt_op_describe(d, sizeof d, t, torn);
        say(line, sizeof line, "torn: %s (kept up to its middle sector, no fsync after it)",
                 d);
        str_append(dst, cap, line);
    }
    for (unsigned i = 0; i < n_lost; i++) {
        const struct pt_op *o = pt_trace_op(t, lost[i]);
        pt_op_describe(d, sizeof d, t, lost[i]);
        const char *why = "no fsync of the directory after it";
        char whyb[120];
        if (o && (o->kind == PK_WRITE || o->kind == PK_TRUNC || o->kind == PK_ALLOC)) {
            why = "no fsync of the file before the cut";
            for (unsigned k = o->ordinal + 1; k <= cut; k++) {
                const struct pt_op *r = pt_trace_op(t, k);
                if (r && r->kind == PK_RENAME && r->ino == o->ino) {
                    say(whyb, sizeof whyb, "no fsync before the rename #%u", k);
                    why = whyb;
                    break;
                }
            }
        }
        say(line, sizeof line, "%s%s (%s)", i ? "; " : (dst[0] ? "; lost: " : "lost: "), d,
                 why);
        str_append(dst, cap, line);
    }
    unsigned *u = NULL;
    unsigned n = pt_unsynced(&u, t, model, cut);
    bool first = true;
    for (unsigned i = 0; u && i < n; i++) {
        const struct pt_op *o = pt_trace_op(t, u[i]);
        bool is_lost = false;
        for (unsigned k = 0; k < n_lost; k++)
            is_lost |= lost[k] == u[i];
        if (is_lost || !o || (o->kind != PK_RENAME && o->kind != PK_UNLINK && o->kind != PK_CREATE))
            continue;
        pt_op_describe(d, sizeof d, t, u[i]);
        say(line, sizeof line, "%s%s", first ? (dst[0] ? "; kept: " : "nothing lost; kept: ") : ", ",
            d);
        str_append(dst, cap, line);
        first = false;
    }
    free(u);
    if (x->u->fail_at) {
        first = true;
        for (unsigned k = 1; k < x->u->fail_at; k++) {
            const struct pt_op *o = pt_trace_op(t, k);
            const struct pt_op *f = pt_trace_op(t, x->u->fail_at);
            if (!o || !f || o->kind != PK_WRITE || o->ino != f->ino)
                continue;
            pt_op_describe(d, sizeof d, t, k);
            say(line, sizeof line, ", %s", d);
            if (first) {
                char fs[120];
                pt_op_describe(fs, sizeof fs, t, x->u->fail_at);
                say(line, sizeof line, "%sdropped by %s, Linux errseq: %s", dst[0] ? "; " : "",
                    fs, d);
            }
            str_append(dst, cap, line);
            first = false;
        }
    }
    if (!dst[0])
        say(dst, cap, "nothing lost: the state every call up to the cut leaves");
}

/* Delta debugging (one element at a time, to a 1-minimal set): drop each lost operation whose
 * loss is not needed for the same oracle to break. */
static unsigned shrink(struct uctx *x, unsigned model, unsigned cut, unsigned *lost, unsigned n,
                       const char *oracle)
{
    unsigned *trial = xmalloc((n ? n : 1) * sizeof *trial);
    for (unsigned i = 0; i < n;) {
        unsigned k = 0;
        for (unsigned j = 0; j < n; j++)
            if (j != i)
                trial[k++] = lost[j];
        bool still = false;
        if (pt_choice_allowed(x->t, model, cut, trial, k)) {
            struct pt_state *st = pt_state_build(x->t, model, cut, trial, k, 0);
            char o2[24], d2[400], l2[320];
            if (st && judge(x, st, cut, false, o2, sizeof o2, d2, sizeof d2, l2, sizeof l2, NULL) &&
                !strcmp(o2, oracle))
                still = true;
            pt_state_destroy(st);
        }
        if (still) {
            memcpy(lost, trial, k * sizeof *lost);
            n = k;
        } else {
            i++;
        }
    }
    free(trial);
    return n;
}

static int on_choice(void *arg, const unsigned *lost, unsigned n_lost, unsigned torn)
{
    struct uctx *x = arg;
    if (x->err)
        return 1;
    struct model_stats *ms = &x->res->m[x->model];
    ms->choices++;
    double tb = mono();
    struct pt_state *st = pt_state_build(x->t, x->model, x->cut, lost, n_lost, torn);
    x->prof[0] += mono() - tb;
    if (!st) {
        x->err = 1;
        say(x->res->setup_why, sizeof x->res->setup_why, "out of memory building a state");
        return 1;
    }
    char id[160];
    state_id(id, sizeof id, x, x->model, x->cut, lost, n_lost, torn);
    if (x->case_set) {
        const char *set = strrchr(id, '/') + 1;
        if (strcmp(set, x->case_set) != 0) {
            pt_state_destroy(st);
            return 0;
        }
    }
    bool exit_kind = is_exit_cut(x, x->cut) && x->exited0;
    uint64_t key = pt_state_digest(st) ^ (exit_kind ? 0x5a5a5a5a5a5a5a5aull : 0);
    if (seen_add(&x->dedup[x->model], key)) {
        pt_state_destroy(st);
        return 0;
    }
    ms->states++;
    if (x->list) {
        printf("%s\n", id);
        pt_state_destroy(st);
        return 0;
    }
    if (x->c->opt.export_corpus)
        export_state(x, st);
    if (seen_has(&x->v.held, key)) {
        pt_state_destroy(st);
        return 0; /* judged under another model: held */
    }
    if (seen_has(&x->v.failed, key)) {
        ms->findings++;
        pt_state_destroy(st);
        return 0; /* judged under another model: a finding already reported */
    }
    ms->judged++;
    char oracle[24], detail[400], load[320];
    int bad;
    const struct memo *hit = memo_find(x, st, exit_kind);
    if (hit) {
        ms->judged--;
        x->memo_hits++;
        bad = hit->bad;
        say(oracle, sizeof oracle, "%s", hit->oracle);
        say(detail, sizeof detail, "%s", hit->detail);
        say(load, sizeof load, "%s", hit->load);
    } else {
        /* judge may return before it watches anything: then nothing may be memoised */
        struct opened op = {.fd = -1, .overflow = true};
        bad = judge(x, st, x->cut, true, oracle, sizeof oracle, detail, sizeof detail, load,
                    sizeof load, &op);
        memo_add(x, st, exit_kind, &op, bad, oracle, detail, load);
        opened_finish(&op);
    }
    pt_state_destroy(st);
    if (!bad) {
        seen_add(&x->v.held, key);
        return x->err;
    }
    seen_add(&x->v.failed, key);
    ms->findings++;
    x->res->n_findings++;
    unsigned *l = xmalloc((n_lost ? n_lost : 1) * sizeof *l);
    memcpy(l, lost, n_lost * sizeof *l);
    unsigned n = n_lost;
    bool shrunk = n <= 1; /* one lost call (or none, or one torn write) is minimal already */
    if (n > 1 && !x->case_set) {
        n = shrink(x, x->model, x->cut, l, n, oracle);
        shrunk = true;
    }
    /* One report per distinct minimal counterexample (oracle, lost set, torn write). */
    uint64_t sig = 0x51u + torn * 0x9e3779b97f4a7c15ull;
    for (const char *p = oracle; *p; p++)
        sig = sig * 131 + (unsigned char)*p;
    for (unsigned i = 0; i < n; i++)
        sig = (sig ^ l[i]) * 0x100000001b3ull;
    if (seen_add(&x->sigs, sig) || x->n_found >= MAX_FINDINGS) {
        free(l);
        return x->err;
    }
    struct crash_finding *f = &x->found[x->n_found++];
    memset(f, 0, sizeof *f);
    f->shrunk = shrunk;
    say(f->oracle, sizeof f->oracle, "%s", oracle);
    say(f->detail, sizeof f->detail, "%s", detail);
    say(f->load, sizeof f->load, "%s", load);
    state_id(f->id, sizeof f->id, x, x->model, x->cut, l, n, torn);
    describe(f->minimal, sizeof f->minimal, x, x->model, x->cut, l, n, torn);
    free(l);
    return x->err;
}

/* Record the unit's step with the data trace into udir/rec. @return 0, or -1 (setup_why). */
static int record(struct uctx *x, char *trace, char *data, char *dir, size_t cap)
{
    const struct campaign *c = x->c;
    say(dir, cap, "%s/rec", x->udir);
    say(trace, cap, "%s/trace", x->udir);
    say(data, cap, "%s/trace.data", x->udir);
    if (dir_image_write(&x->run->tpl, dir) != 0) {
        say(x->res->setup_why, sizeof x->res->setup_why, "cannot create %s: %s", dir,
                 strerror(errno));
        return -1;
    }
    char fcase[48];
    /* a failed directory fsync shuts the file system down (faults/model.h, CRASH.md 3) */
    say(fcase, sizeof fcase, "%u:errno=EIO,dirsync-shutdown", x->u->fail_at);
    struct step_faults f = {
        .trace = trace, .trace_data = data, .fault_case = x->u->fail_at ? fcase : NULL};
    struct step_req req = {.op = x->s->op,
                           .dir = dir,
                           .id = x->s->id,
                           .payload = x->s->step_payload,
                           .base_id = x->s->op == OP_SAVE_DIFF ? x->s->base_id : NULL};
    struct impl_result r;
    c->drv->step(&r, c, &req, &f, x->errp);
    impl_result_text(x->res->step, sizeof x->res->step, &r);
    x->exited0 = r.end == IMPL_EXITED && r.code == 0;
    if (r.end != IMPL_EXITED) {
        say(x->res->setup_why, sizeof x->res->setup_why,
                 "the recorded step of scenario %s did not exit normally: %s", x->s->name,
                 x->res->step);
        return -1;
    }
    if (!x->u->fail_at && !x->exited0) {
        say(x->res->setup_why, sizeof x->res->setup_why,
                 "the clean recorded step of scenario %s failed: %s", x->s->name, x->res->step);
        return -1;
    }
    return 0;
}

int crash_audit(const char *trace, const char *trace_data, const char *dir,
                const char *template_dir, char *diff, size_t diff_cap)
{
    struct pt_trace *t = NULL;
    if (pt_trace_load(&t, trace, trace_data, dir, template_dir, diff, diff_cap) != 0)
        return -1;
    struct pt_state *st = pt_state_build_traced(t);
    int rc = -1;
    if (!st)
        say(diff, diff_cap, "out of memory");
    else
        rc = pt_state_compare(st, dir, diff, diff_cap) > 0 ? 1 : 0;
    pt_state_destroy(st);
    pt_trace_destroy(t);
    return rc;
}

static void run_unit(const struct campaign *c, const struct unit *u, unsigned index,
                     struct unit_result *res, struct crash_finding *found)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    memset(res, 0, sizeof *res);
    struct uctx *x = xcalloc(1, sizeof *x);
    unsigned n_sc;
    x->c = c;
    x->run = &c->runs[u->run];
    x->s = &scenario_table(&n_sc)[x->run->scenario];
    x->u = u;
    x->res = res;
    x->found = found;
    x->list = c->opt.list;
    x->ifd = -1;
    say(x->udir, sizeof x->udir, "%s/crash-%u", c->workdir, index);
    say(x->store, sizeof x->store, "%s/store", x->udir);
    say(x->tpl_dir, sizeof x->tpl_dir, "%s/tpl", x->udir);
    say(x->errp, sizeof x->errp, "%s/iut.err", x->udir);
    char trace[700], data[700], rec[700], err[900];
    if (mkdir(x->udir, 0755) != 0 || mkdir(x->store, 0755) != 0) {
        res->setup_error = 1;
        say(res->setup_why, sizeof res->setup_why, "cannot create %s: %s", x->udir,
                 strerror(errno));
        goto out;
    }
    if (record(x, trace, data, rec, sizeof trace) != 0) {
        res->setup_error = 1;
        goto out;
    }
    if (tpl_make(x) != 0) {
        res->setup_error = 1;
        goto out;
    }
    if (pt_trace_load(&x->t, trace, data, rec, x->tpl_dir, err, sizeof err) != 0) {
        res->unchecked = true;
        say(res->unchecked_why, sizeof res->unchecked_why,
                 "the trace cannot be replayed: %s", err);
        goto out;
    }
    /* The audit: the replayed trace must give exactly what the run left. */
    struct pt_state *whole = pt_state_build_traced(x->t);
    if (!whole) {
        res->setup_error = 1;
        say(res->setup_why, sizeof res->setup_why, "out of memory");
        goto out;
    }
    {
        char diff[700];
        int nd = pt_state_compare(whole, rec, diff, sizeof diff);
        if (nd != 0) {
            res->unchecked = true;
            say(res->unchecked_why, sizeof res->unchecked_why,
                     "the directory the step left differs from its replayed trace: %s: the IUT "
                     "changed files through calls the interposer does not see (stdio, mmap, "
                     "copy_file_range, O_TMPFILE, io_uring, raw system calls)",
                     nd < 0 ? "unreadable" : diff);
            pt_state_destroy(whole);
            goto out;
        }
    }
    for (unsigned i = 0; i < pt_state_files(whole) && x->n_final < 64; i++) {
        const char *name;
        uint64_t size, dg;
        bool un;
        pt_state_file(whole, i, &name, &size, &dg, &un);
        x->final_digests[x->n_final++] = dg;
    }
    pt_state_destroy(whole);
    double explore0 = mono();
    x->tpl_state = pt_state_build(x->t, PT_PREFIX, 0, NULL, 0, 0);
    x->no_memo = getenv("SNAPCHECK_CRASH_NO_MEMO") && atoi(getenv("SNAPCHECK_CRASH_NO_MEMO"));
    x->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    unsigned last = pt_trace_last(x->t);
    unsigned exhaustive = c->opt.tier == TIER_FULL ? 10 : 8;
    unsigned budget = c->opt.budget ? c->opt.budget : c->opt.tier == TIER_FULL ? 256 : 64;
    unsigned case_cut = 0;
    int case_model = -1;
    if (c->opt.case_id) {
        /* <scenario>/<cut>/<model>[+eio@F]/<set> */
        char buf[200];
        say(buf, sizeof buf, "%s", c->opt.case_id);
        char *p1 = strchr(buf, '/'), *p2 = p1 ? strchr(p1 + 1, '/') : NULL;
        char *p3 = p2 ? strchr(p2 + 1, '/') : NULL;
        if (p3) {
            *p2 = *p3 = 0;
            char *plus = strchr(p2 + 1, '+');
            if (plus)
                *plus = 0;
            case_cut = !strcmp(p1 + 1, "exit") ? last : (unsigned)strtoul(p1 + 1, NULL, 10);
            case_model = pt_model_find(p2 + 1);
            x->case_set = c->opt.case_id + (p3 + 1 - buf);
        }
    }
    for (unsigned m = 0; m < PT_MODEL_COUNT && !x->err; m++) {
        if (!(c->opt.models & (1u << m)) || (case_model >= 0 && (int)m != case_model))
            continue;
        x->model = m;
        /* A failure recording: cuts from the failed fsync on (before it, the clean one). */
        unsigned from = u->fail_at ? u->fail_at : 1;
        for (unsigned cut = from; cut <= last && !x->err; cut++) {
            if (case_cut && cut != case_cut)
                continue;
            if (!case_cut && c->opt.tier != TIER_ALL && !cut_taken(x->t, cut, last))
                continue;
            x->cut = cut;
            if (pt_enumerate(x->t, m, cut, exhaustive, budget, c->opt.seed, on_choice, x) < 0)
                x->err = 1;
        }
    }
    res->explore_seconds = mono() - explore0;
    if (x->err) {
        res->setup_error = 1;
        if (!res->setup_why[0])
            say(res->setup_why, sizeof res->setup_why, "the exploration failed");
    }
out:
    res->done = 1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    res->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (getenv("SNAPCHECK_CRASH_PROFILE"))
        fprintf(stderr,
                "profile unit %u: build %.3f s, write %.3f s, load %.3f s, base load %.3f s, "
                "recovery %.3f s, cleanup %.3f s, memo hits %lu, total %.3f s\n",
                index, x->prof[0], x->prof[1], x->prof[2], x->prof[3], x->prof[4], x->prof[5],
                x->memo_hits,
                mono() - (double)t0.tv_sec - (double)t0.tv_nsec / 1e9);
    pt_state_destroy((struct pt_state *)x->tpl_state);
    if (x->tpl_state && x->ifd >= 0)
        close(x->ifd);
    for (unsigned i = 0; i < x->n_memo; i++) {
        for (unsigned k = 0; k < x->memo[i].n; k++)
            free(x->memo[i].names[k]);
        free(x->memo[i].names);
        free(x->memo[i].digests);
    }
    free(x->memo);
    pt_trace_destroy(x->t);
    for (unsigned m = 0; m < PT_MODEL_COUNT; m++)
        free(x->dedup[m].keys);
    free(x->v.held.keys);
    free(x->v.failed.keys);
    free(x->exported.keys);
    free(x->sigs.keys);
    unsigned kept = x->n_found;
    free(x);
    /* stash the kept count where the parent finds it: after the findings themselves */
    found[MAX_FINDINGS].shrunk = false;
    say(found[MAX_FINDINGS].id, sizeof found[MAX_FINDINGS].id, "%u", kept);
    if (!c->opt.keep_dir) {
        char d[700];
        say(d, sizeof d, "%s/crash-%u", c->workdir, index);
        path_remove_tree(d);
    }
}

/* ---- the campaign ---- */

static unsigned kept_findings(const struct crash_finding *found)
{
    return (unsigned)strtoul(found[MAX_FINDINGS].id, NULL, 10);
}

static bool is_fsync(const char *call)
{
    return !strcmp(call, "fsync") || !strcmp(call, "fdatasync");
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A JSON string through json-c, from text cleaned to UTF-8 (utf8_clean): valid whatever the
 * IUT wrote. */
static void json_s(FILE *f, const char *s)
{
    char *t = utf8_clean(s);
    json_object *o = json_object_new_string(t);
    fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
          f);
    json_object_put(o);
    free(t);
}


struct report {
    const struct campaign *c;
    const struct unit *units;
    unsigned n_units;
    const struct unit_result *res;
    const struct crash_finding *found; /* (MAX_FINDINGS + 1) per unit */
    double seconds;
    unsigned long states, judged, findings, choices;
    unsigned unchecked;
};

/* true when unit i is the first UNCHECKED unit of its scenario (one report per scenario). */
static bool first_unchecked(const struct report *r, unsigned i)
{
    if (!r->res[i].unchecked)
        return false;
    for (unsigned k = 0; k < i; k++)
        if (r->res[k].unchecked && r->units[k].run == r->units[i].run)
            return false;
    return true;
}

static void reproducer(char *dst, size_t cap, const struct campaign *c, const char *id)
{
    say(dst, cap, "snapcheck crash --impl '%s'%s --case '%s'", c->opt.impl_cmd,
             c->opt.in_process ? " --in-process" : "", id);
}

static const char *verdict_word(const struct report *r)
{
    return r->findings ? "FAIL" : r->unchecked ? "UNCHECKED" : "PASS";
}

static void models_text(char *dst, size_t cap, unsigned models)
{
    dst[0] = 0;
    for (unsigned m = 0; m < PT_MODEL_COUNT; m++)
        if (models & (1u << m)) {
            if (dst[0])
                str_append(dst, cap, ",");
            str_append(dst, cap, pt_model_name(m));
        }
}

static void report_text_crash(FILE *out, const struct report *r)
{
    const struct campaign *c = r->c;
    unsigned n_sc, printed = 0;
    const struct scenario *tab = scenario_table(&n_sc);
    for (unsigned i = 0; i < r->n_units; i++) {
        const struct unit_result *u = &r->res[i];
        const struct crash_finding *fs = &r->found[i * (MAX_FINDINGS + 1)];
        for (unsigned k = 0; k < kept_findings(fs) && printed < 50; k++, printed++) {
            char rep[800];
            reproducer(rep, sizeof rep, c, fs[k].id);
            fprintf(out,
                    "FINDING %s\n  oracle:  %s\n  detail:  %s\n  step:    %s\n  load:    %s\n"
                    "  %s %s\n  reproduce: %s\n\n",
                    fs[k].id, fs[k].oracle, fs[k].detail, u->step, fs[k].load,
                    fs[k].shrunk ? "minimal:" : "state:  ", fs[k].minimal, rep);
        }
    }
    for (unsigned i = 0; i < r->n_units; i++)
        if (first_unchecked(r, i))
            fprintf(out, "UNCHECKED %s: %s\n\n", tab[c->runs[r->units[i].run].scenario].name,
                    r->res[i].unchecked_why);
    fprintf(out, "%-16s %-14s %8s %8s %8s %8s\n", "scenario", "model", "choices", "states",
            "judged", "findings");
    for (unsigned ri = 0; ri < c->n_runs; ri++) {
        const struct scenario *s = &tab[c->runs[ri].scenario];
        for (unsigned m = 0; m < PT_MODEL_COUNT; m++) {
            if (!(c->opt.models & (1u << m)))
                continue;
            struct model_stats t = {0};
            bool unchecked = false, any = false;
            for (unsigned i = 0; i < r->n_units; i++) {
                if (r->units[i].run != ri)
                    continue;
                any = true;
                t.choices += r->res[i].m[m].choices;
                t.states += r->res[i].m[m].states;
                t.judged += r->res[i].m[m].judged;
                t.findings += r->res[i].m[m].findings;
                unchecked |= r->res[i].unchecked;
            }
            if (!any)
                continue;
            if (unchecked)
                fprintf(out, "%-16s %-14s %8s\n", s->name, pt_model_name(m), "UNCHECKED");
            else
                fprintf(out, "%-16s %-14s %8lu %8lu %8lu %8lu\n", s->name, pt_model_name(m),
                        t.choices, t.states, t.judged, t.findings);
        }
    }
    char models[64];
    models_text(models, sizeof models, c->opt.models);
    fprintf(out,
            "\nnotes: %u recordings (each scenario clean, and once per fsync with that fsync "
            "failing); states are deduplicated by content per model; 'judged' ran the IUT\n",
            r->n_units);
    if (r->findings > printed)
        fprintf(out, "notes: %lu findings, %u printed in full (all counted above)\n", r->findings,
                printed);
    double rate = r->seconds > 0 ? (double)r->states / r->seconds : 0;
    fprintf(out, "VERDICT: %s (%lu states, %lu findings, %u unchecked, %.1f s, %.0f states/s, "
                 "model %s, impl: %s)%s\n",
            verdict_word(r), r->states, r->findings, r->unchecked, r->seconds, rate, models,
            c->opt.impl_cmd,
            r->unchecked && !r->findings
                ? " -- the IUT changed files the interposer did not see: no verdict can be "
                  "given for those scenarios"
                : "");
}

static int report_json_crash(struct report_out *o, const struct report *r)
{
    const struct campaign *c = r->c;
    FILE *f = report_out_stream(o);
    if (!f)
        return -1;
    unsigned n_sc;
    const struct scenario *tab = scenario_table(&n_sc);
    char models[64];
    models_text(models, sizeof models, c->opt.models);
    fprintf(f, "{\"tool\":\"snapcheck\",\"command\":\"crash\",\"version\":\"%s\",\"impl\":",
            SNAPCHECK_VERSION);
    json_s(f, c->opt.impl_cmd);
    fprintf(f, ",\"models\":");
    json_s(f, models);
    fprintf(f,
            ",\"seed\":%" PRIu64 ",\"seconds\":%.3f,\"verdict\":\"%s\",\"states\":%lu,"
            "\"judged\":%lu,\"findings_total\":%lu,\"unchecked_total\":%u,\"units\":[",
            c->opt.seed, r->seconds,
            r->findings ? "fail" : r->unchecked ? "unchecked" : "pass", r->states, r->judged,
            r->findings, r->unchecked);
    for (unsigned i = 0; i < r->n_units; i++) {
        const struct unit_result *u = &r->res[i];
        fprintf(f, "%s{\"scenario\":\"%s\",\"fsync_fails\":%u,\"step\":", i ? "," : "",
                tab[c->runs[r->units[i].run].scenario].name, r->units[i].fail_at);
        json_s(f, u->step);
        fprintf(f, ",\"seconds\":%.3f,\"explore_seconds\":%.3f,\"models\":{", u->seconds,
                u->explore_seconds);
        bool first = true;
        for (unsigned m = 0; m < PT_MODEL_COUNT; m++) {
            if (!(c->opt.models & (1u << m)))
                continue;
            fprintf(f, "%s\"%s\":{\"choices\":%lu,\"states\":%lu,\"judged\":%lu,\"findings\":%lu}",
                    first ? "" : ",", pt_model_name(m), u->m[m].choices, u->m[m].states,
                    u->m[m].judged, u->m[m].findings);
            first = false;
        }
        fprintf(f, "},\"unchecked\":");
        if (u->unchecked)
            json_s(f, u->unchecked_why);
        else
            fputs("null", f);
        fputc('}', f);
    }
    fputs("],\"findings\":[", f);
    bool first = true;
    for (unsigned i = 0; i < r->n_units; i++) {
        const struct crash_finding *fs = &r->found[i * (MAX_FINDINGS + 1)];
        for (unsigned k = 0; k < kept_findings(fs); k++) {
            char rep[800];
            reproducer(rep, sizeof rep, c, fs[k].id);
            fprintf(f, "%s{\"id\":", first ? "" : ",");
            json_s(f, fs[k].id);
            fprintf(f, ",\"scenario\":\"%s\",\"oracle\":\"%s\",\"detail\":",
                    tab[c->runs[r->units[i].run].scenario].name, fs[k].oracle);
            json_s(f, fs[k].detail);
            fprintf(f, ",\"minimal\":");
            json_s(f, fs[k].minimal);
            fprintf(f, ",\"shrunk\":%s,\"load\":", fs[k].shrunk ? "true" : "false");
            json_s(f, fs[k].load);
            fprintf(f, ",\"reproducer\":");
            json_s(f, rep);
            fputc('}', f);
            first = false;
        }
    }
    fputs("],\"unchecked\":[", f);
    first = true;
    for (unsigned i = 0; i < r->n_units; i++)
        if (first_unchecked(r, i)) {
            fprintf(f, "%s{\"scenario\":\"%s\",\"why\":", first ? "" : ",",
                    tab[c->runs[r->units[i].run].scenario].name);
            json_s(f, r->res[i].unchecked_why);
            fputc('}', f);
            first = false;
        }
    fputs("]}\n", f);
    return report_out_close(o, f);
}

static int report_junit_crash(struct report_out *o, const struct report *r)
{
    const struct campaign *c = r->c;
    FILE *f = report_out_stream(o);
    if (!f)
        return -1;
    unsigned n_sc;
    const struct scenario *tab = scenario_table(&n_sc);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"snapcheck crash\" "
               "time=\"%.3f\">\n",
            r->seconds);
    for (unsigned i = 0; i < r->n_units; i++) {
        const struct unit_result *u = &r->res[i];
        const struct crash_finding *fs = &r->found[i * (MAX_FINDINGS + 1)];
        const char *name = tab[c->runs[r->units[i].run].scenario].name;
        fprintf(f, "  <testsuite name=\"%s%s%u\" tests=\"1\" failures=\"%u\" time=\"%.3f\">\n",
                name, r->units[i].fail_at ? "/eio@" : "/clean", r->units[i].fail_at,
                (u->n_findings || u->unchecked) ? 1u : 0u, u->seconds);
        fprintf(f, "    <testcase classname=\"%s\" name=\"%s%s%u\">\n", name, name,
                r->units[i].fail_at ? "/eio@" : "/clean", r->units[i].fail_at);
        if (u->unchecked) {
            fputs("      <failure type=\"unchecked\" message=\"", f);
            xml_escape(f, u->unchecked_why);
            fputs("\"/>\n", f);
        }
        for (unsigned k = 0; k < kept_findings(fs); k++) {
            fprintf(f, "      <failure type=\"%s\" message=\"", fs[k].oracle);
            xml_escape(f, fs[k].id);
            fputs(": ", f);
            xml_escape(f, fs[k].detail);
            fputs("\">", f);
            xml_escape(f, fs[k].minimal);
            fputs("</failure>\n", f);
        }
        fputs("    </testcase>\n  </testsuite>\n", f);
    }
    fputs("</testsuites>\n", f);
    return report_out_close(o, f);
}

/* true when crash state id (<scenario>/<cut>/<model>[+eio@F]/<set>) is of model m. */
static bool id_of_model(const char *id, unsigned m)
{
    const char *p = strchr(id, '/');
    p = p ? strchr(p + 1, '/') : NULL;
    if (!p)
        return false;
    const char *name = pt_model_name(m);
    size_t n = strlen(name);
    return !strncmp(p + 1, name, n) && (p[1 + n] == '/' || p[1 + n] == '+');
}

/* One finding in full, for the HTML page. */
static void html_finding(FILE *f, const struct report *r, const struct unit_result *u,
                         const struct crash_finding *k)
{
    char rep[800];
    reproducer(rep, sizeof rep, r->c, k->id);
    fputs("<div class=\"case\"><b>", f);
    xml_escape(f, k->id);
    fputs("</b> <span class=\"tag finding\">finding</span> oracle <b>", f);
    xml_escape(f, k->oracle);
    fputs("</b><br/>", f);
    xml_escape(f, k->detail);
    fputs("<br/>step: ", f);
    xml_escape(f, u->step);
    fputs("<br/>load: ", f);
    xml_escape(f, k->load);
    fprintf(f, "<br/>%s<pre>", k->shrunk ? "minimal counterexample:" : "state:");
    xml_escape(f, k->minimal);
    fputs("</pre>reproduce: <code>", f);
    xml_escape(f, rep);
    fputs("</code></div>\n", f);
}

/* The HTML page: the verdict, then the picture: a row per recording (each scenario clean, and
 * with each of its fsyncs failing), a column per persistence model, each cell coloured by what
 * its states did (every oracle held, a finding, unchecked, nothing enumerated) and showing how
 * many states it judged; a cell with findings links to them; then every finding in full. */
static int report_html_crash(struct report_out *o, const struct report *r)
{
    const struct campaign *c = r->c;
    FILE *f = report_out_stream(o);
    if (!f)
        return -1;
    unsigned n_sc;
    const struct scenario *tab = scenario_table(&n_sc);
    char models[64], vline[32];
    models_text(models, sizeof models, c->opt.models);
    snprintf(vline, sizeof vline, "VERDICT: %s", verdict_word(r));
    html_begin(f, "crash", vline, r->findings || r->unchecked);
    fprintf(f,
            "<p class=\"meta\">%lu states, %lu judged, %lu findings, %u unchecked, %.1f s; "
            "%u recordings; model %s; impl: <code>",
            r->states, r->judged, r->findings, r->unchecked, r->seconds, r->n_units, models);
    xml_escape(f, c->opt.impl_cmd);
    fputs("</code></p>\n<p class=\"legend\"><span><i class=\"sw pass\"></i>every oracle held</span>"
          "<span><i class=\"sw finding\"></i>finding</span>"
          "<span><i class=\"sw unchecked\"></i>unchecked (files changed behind the "
          "interposer)</span><span><i class=\"sw notrun\"></i>no state</span> "
          "Rows: the recordings of each scenario (clean, and with fsync N failing); columns: "
          "persistence models; a cell: findings / distinct states. Click a red cell for its "
          "findings.</p>\n",
          f);
    fputs("<div class=\"scroll\"><table class=\"matrix\"><thead><tr><th>recording</th>", f);
    for (unsigned m = 0; m < PT_MODEL_COUNT; m++)
        if (c->opt.models & (1u << m))
            fprintf(f, "<th>%s</th>", pt_model_name(m));
    fputs("</tr></thead><tbody>\n", f);
    for (unsigned i = 0; i < r->n_units; i++) {
        const struct unit_result *u = &r->res[i];
        const char *name = tab[c->runs[r->units[i].run].scenario].name;
        char row[96];
        if (r->units[i].fail_at)
            snprintf(row, sizeof row, "%s, fsync %u fails", name, r->units[i].fail_at);
        else
            snprintf(row, sizeof row, "%s, clean", name);
        fputs("<tr><th>", f);
        xml_escape(f, row);
        fputs("</th>", f);
        for (unsigned m = 0; m < PT_MODEL_COUNT; m++) {
            if (!(c->opt.models & (1u << m)))
                continue;
            const struct model_stats *st = &u->m[m];
            const char *cls = u->unchecked        ? "unchecked"
                              : st->findings      ? "finding"
                              : st->states        ? "pass"
                                                  : "notrun";
            fprintf(f, "<td><a class=\"cell wide %s\"", cls);
            if (st->findings && !u->unchecked)
                fprintf(f, " href=\"#u-%u-%s\"", i, pt_model_name(m));
            fputs(" title=\"", f);
            xml_escape(f, row);
            fprintf(f, ", %s: %lu choices, %lu states, %lu judged, %lu findings", pt_model_name(m),
                    st->choices, st->states, st->judged, st->findings);
            if (u->unchecked) {
                fputs("&#10;UNCHECKED: ", f);
                xml_escape(f, u->unchecked_why);
            }
            if (u->unchecked)
                fputs("\">unchecked</a></td>", f);
            else
                fprintf(f, "\">%lu / %lu</a></td>", st->findings, st->states);
        }
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table></div>\n", f);
    for (unsigned i = 0; i < r->n_units; i++) {
        const struct crash_finding *fs = &r->found[i * (MAX_FINDINGS + 1)];
        for (unsigned m = 0; m < PT_MODEL_COUNT; m++) {
            if (!(c->opt.models & (1u << m)) || !r->res[i].m[m].findings || r->res[i].unchecked)
                continue;
            fprintf(f, "<div class=\"cases\" id=\"u-%u-%s\"><h3>", i, pt_model_name(m));
            xml_escape(f, tab[c->runs[r->units[i].run].scenario].name);
            fprintf(f, " (fsync %u fails), %s: %lu findings</h3>\n", r->units[i].fail_at,
                    pt_model_name(m), r->res[i].m[m].findings);
            unsigned shown = 0;
            for (unsigned k = 0; k < kept_findings(fs); k++)
                if (id_of_model(fs[k].id, m)) {
                    html_finding(f, r, &r->res[i], &fs[k]);
                    shown++;
                }
            if (!shown)
                fprintf(f,
                        "<p>No counterexample of its own: each minimal counterexample of this "
                        "recording is kept once, under the first model that met it (see the "
                        "other columns of this row), and at most %d per recording.</p>\n",
                        MAX_FINDINGS);
            fputs("</div>\n", f);
        }
    }
    for (unsigned i = 0; i < r->n_units; i++)
        if (first_unchecked(r, i)) {
            fputs("<p><b>UNCHECKED ", f);
            xml_escape(f, tab[c->runs[r->units[i].run].scenario].name);
            fputs(":</b> ", f);
            xml_escape(f, r->res[i].unchecked_why);
            fputs("</p>\n", f);
        }
    fprintf(f, "<h2 id=\"findings\">Findings (%lu)</h2>\n<div class=\"findings\">\n",
            r->findings);
    for (unsigned i = 0; i < r->n_units; i++) {
        const struct crash_finding *fs = &r->found[i * (MAX_FINDINGS + 1)];
        for (unsigned k = 0; k < kept_findings(fs); k++) {
            fputs("<div>", f);
            html_finding(f, r, &r->res[i], &fs[k]);
            fputs("</div>\n", f);
        }
    }
    fputs("</div>\n", f);
    html_end(f);
    return report_out_close(o, f);
}

int crash_run(struct campaign *c, double t0, struct report_out *json, struct report_out *junit,
              struct report_out *html)
{
    if (!c->opt.models)
        c->opt.models = 1u << PT_POSIX;
    if (c->opt.case_id) { /* the model is the id's: <scenario>/<cut>/<model>[+eio@F]/<set> */
        char buf[200];
        say(buf, sizeof buf, "%s", c->opt.case_id);
        char *p = strchr(buf, '/');
        p = p ? strchr(p + 1, '/') : NULL;
        char *end = p ? strpbrk(p + 1, "+/") : NULL;
        if (end)
            *end = 0;
        int m = p && end ? pt_model_find(p + 1) : -1;
        if (m < 0) {
            fprintf(stderr,
                    "snapcheck: set-up error: bad --case '%s': a crash state id is "
                    "<scenario>/<cut|exit>/<model>[+eio@F]/<lost=...|torn=N>\n",
                    c->opt.case_id);
            return EXIT_SETUP;
        }
        c->opt.models = 1u << m;
    }
    unsigned n_sc;
    const struct scenario *tab = scenario_table(&n_sc);
    /* units: each scenario (a load writes nothing: no power cut can lose anything of it) with
     * its clean recording and one per fsync of its census */
    struct unit *units = xcalloc(1, sizeof *units);
    unsigned n_units = 0, cap = 1;
    for (unsigned r = 0; r < c->n_runs; r++) {
        const struct scenario_run *run = &c->runs[r];
        if (tab[run->scenario].op == OP_LOAD)
            continue;
        for (unsigned k = 0; k <= run->n_calls; k++) {
            if (k && !is_fsync(run->calls[k - 1]))
                continue;
            if (c->opt.case_id) {
                const char *eio = strstr(c->opt.case_id, "+eio@");
                unsigned want = eio ? (unsigned)strtoul(eio + 5, NULL, 10) : 0;
                if (want != k)
                    continue;
            }
            if (n_units == cap)
                units = realloc(units, (cap *= 2) * sizeof *units);
            if (!units) {
                fprintf(stderr, "snapcheck: out of memory\n");
                return EXIT_SETUP;
            }
            units[n_units].run = r;
            units[n_units].fail_at = k;
            n_units++;
        }
    }
    /* shard */
    unsigned n_mine = 0;
    for (unsigned i = 0; i < n_units; i++)
        if (i % c->opt.shard_n == c->opt.shard_k - 1)
            units[n_mine++] = units[i];
    n_units = n_mine;
    if (!n_units) {
        free(units);
        fprintf(stderr, "snapcheck: set-up error: no scenario to explore (the load scenario "
                        "writes nothing)\n");
        return EXIT_SETUP;
    }
    size_t per = sizeof(struct unit_result) + (MAX_FINDINGS + 1) * sizeof(struct crash_finding);
    struct unit_result *res = xcalloc(n_units, sizeof *res);
    struct crash_finding *found = xcalloc((size_t)n_units * (MAX_FINDINGS + 1), sizeof *found);
    if (!c->opt.quiet && !c->opt.list)
        fprintf(stderr, "snapcheck crash: %u recordings over %u scenarios, %u workers\n", n_units,
                c->n_runs, c->opt.jobs);
    if (c->opt.list || c->opt.jobs <= 1) {
        for (unsigned i = 0; i < n_units; i++) {
            run_unit(c, &units[i], i, &res[i], &found[i * (MAX_FINDINGS + 1)]);
            if (!c->opt.quiet && !c->opt.list)
                fprintf(stderr, "[%u/%u recordings]\n", i + 1, n_units);
        }
    } else {
        /* Workers take units i = w, w + jobs, ...; each unit's result goes to a file. */
        pid_t *pids = xcalloc(c->opt.jobs, sizeof *pids);
        for (unsigned w = 0; w < c->opt.jobs; w++) {
            pids[w] = fork();
            if (pids[w] == 0) {
                for (unsigned i = w; i < n_units; i += c->opt.jobs) {
                    run_unit(c, &units[i], i, &res[i], &found[i * (MAX_FINDINGS + 1)]);
                    char p[700];
                    say(p, sizeof p, "%s/unit-%u.res", c->workdir, i);
                    FILE *f = fopen(p, "wb");
                    if (f) {
                        fwrite(&res[i], sizeof res[i], 1, f);
                        fwrite(&found[i * (MAX_FINDINGS + 1)], sizeof *found, MAX_FINDINGS + 1,
                               f);
                        fclose(f);
                    }
                }
                _exit(0);
            }
        }
        for (unsigned w = 0; w < c->opt.jobs; w++) {
            int st;
            if (pids[w] > 0)
                waitpid(pids[w], &st, 0);
        }
        free(pids);
        for (unsigned i = 0; i < n_units; i++) {
            char p[700];
            say(p, sizeof p, "%s/unit-%u.res", c->workdir, i);
            FILE *f = fopen(p, "rb");
            if (!f || fread(&res[i], sizeof res[i], 1, f) != 1 ||
                fread(&found[i * (MAX_FINDINGS + 1)], sizeof *found, MAX_FINDINGS + 1, f) !=
                    MAX_FINDINGS + 1) {
                res[i].setup_error = 1;
                say(res[i].setup_why, sizeof res[i].setup_why,
                         "a worker died before finishing this recording");
            }
            if (f)
                fclose(f);
        }
    }
    (void)per;
    int rc = EXIT_HELD;
    if (c->opt.list)
        goto out;
    struct report r = {.c = c, .units = units, .n_units = n_units, .res = res, .found = found};
    for (unsigned i = 0; i < n_units; i++) {
        if (res[i].setup_error) {
            fprintf(stderr, "snapcheck: set-up error: %s\n", res[i].setup_why);
            rc = EXIT_SETUP;
            goto out;
        }
        for (unsigned m = 0; m < PT_MODEL_COUNT; m++) {
            r.states += res[i].m[m].states;
            r.judged += res[i].m[m].judged;
            r.findings += res[i].m[m].findings;
            r.choices += res[i].m[m].choices;
        }
        r.unchecked += first_unchecked(&r, i);
    }
    r.seconds = now_mono() - t0;
    if (c->opt.case_id && !r.states && !r.unchecked) {
        fprintf(stderr,
                "snapcheck: set-up error: no state '%s' (list the states with --list and the "
                "same --model)\n",
                c->opt.case_id);
        rc = EXIT_SETUP;
        goto out;
    }
    report_text_crash(stdout, &r);
    fflush(stdout);
    if (c->opt.json_path && report_json_crash(json, &r) != 0)
        rc = EXIT_SETUP;
    else if (c->opt.junit_path && report_junit_crash(junit, &r) != 0)
        rc = EXIT_SETUP;
    else if (c->opt.html_path && report_html_crash(html, &r) != 0)
        rc = EXIT_SETUP;
    else
        rc = r.findings || r.unchecked ? EXIT_FINDINGS : EXIT_HELD;
out:
    free(units);
    free(res);
    free(found);
    return rc;
}
