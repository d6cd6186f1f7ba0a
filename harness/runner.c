/* The parallel runner (see runner.h). Method: the results array and a next-case counter live
 * in one anonymous shared mapping; N forked workers take groups of cases with an atomic fetch-add (so a
 * slow case does not stall a static partition) and write the fixed part of each result in
 * place; the texts of a result (any length) go to the worker's own file, one record per case,
 * which the parent reads once the workers are gone. The parent only watches the done counter
 * for the progress line and reaps the workers. Results are indexed by case, so the report does
 * not depend on which worker ran what: runs are deterministic. */
#include "runner.h"
#include "driver_serve.h"
#include "oracle.h"
#include "scenario.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct shared_head {
    atomic_uint next;
    atomic_uint done;
};

static struct shared_head *head;
static size_t mapping_len;

void runner_alloc_results(struct campaign *c)
{
    _Static_assert(sizeof(struct shared_head) <= 64, "counters fit one line");
    mapping_len = 64 + (size_t)c->n_cases * sizeof *c->results;
    void *m = mmap(NULL, mapping_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        perror("snapcheck: mmap");
        abort();
    }
    head = m;
    atomic_init(&head->next, 0);
    atomic_init(&head->done, 0);
    /* Results start one cache line after the counters. */
    c->results = (struct case_result *)(void *)((char *)m + 64);
}

void runner_free_results(struct campaign *c)
{
    if (c->results)
        for (unsigned i = 0; i < c->n_cases; i++)
            case_result_finish(&c->results[i]);
    if (head)
        munmap(head, mapping_len);
    head = NULL;
    c->results = NULL;
}

static void case_dir_name(char *dst, size_t cap, const struct campaign *c, unsigned idx,
                          unsigned worker)
{
    if (c->opt.keep_dir) {
        /* Kept directories are named after the case id ('/' -> '_'). */
        int n = snprintf(dst, cap, "%s/%s", c->casesdir, c->cases[idx].id);
        for (char *p = dst + strlen(c->casesdir) + 1; n > 0 && *p; p++)
            if (*p == '/')
                *p = '_';
    } else {
        snprintf(dst, cap, "%s/w%u", c->casesdir, worker);
    }
}

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    interrupted = sig;
    impl_stop(sig); /* the IUT of a set-up step, at once */
}

/* In a worker: kill its IUT's process group (and its fork server's), then go. */
static void on_worker_signal(int sig)
{
    impl_stop(sig);
    _exit(EXIT_SETUP);
}

void runner_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static char *texts_path(const struct campaign *c, unsigned w)
{
    return xasprintf("%s/texts-w%u", c->casesdir, w);
}

/* One record per case in the worker's texts file: u32 case index, then each text as u64
 * length and bytes. */
static void put_texts(FILE *f, unsigned idx, const struct case_result *r)
{
    const char *t[] = {r->detail, r->step, r->load, r->left, r->trace};
    uint32_t i32 = idx;
    fwrite(&i32, sizeof i32, 1, f);
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
        uint64_t len = t[k] ? strlen(t[k]) : 0;
        fwrite(&len, sizeof len, 1, f);
        if (len)
            fwrite(t[k], 1, (size_t)len, f);
    }
}

static char *get_text(FILE *f, bool *ok)
{
    uint64_t len;
    if (!*ok || fread(&len, sizeof len, 1, f) != 1 || len > ((uint64_t)1 << 32)) {
        *ok = false;
        return NULL;
    }
    char *s = xmalloc((size_t)len + 1);
    if (len && fread(s, 1, (size_t)len, f) != len) {
        free(s);
        *ok = false;
        return NULL;
    }
    s[len] = 0;
    return s;
}

/* Hand the texts the workers wrote over to the results (texts of a torn record stay NULL). */
static void collect_texts(struct campaign *c, unsigned jobs)
{
    for (unsigned w = 0; w < jobs; w++) {
        char *path = texts_path(c, w);
        FILE *f = fopen(path, "rb");
        uint32_t idx;
        while (f && fread(&idx, sizeof idx, 1, f) == 1 && idx < c->n_cases) {
            struct case_result *r = &c->results[idx];
            bool ok = true;
            char **t[] = {&r->detail, &r->step, &r->load, &r->left, &r->trace};
            for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
                free(*t[k]);
                *t[k] = get_text(f, &ok);
            }
            if (!ok)
                break;
        }
        if (f)
            fclose(f);
        unlink(path);
        free(path);
    }
    for (unsigned i = 0; i < c->n_cases; i++) {
        struct case_result *r = &c->results[i];
        char **t[] = {&r->detail, &r->step, &r->load, &r->left, &r->trace};
        for (size_t k = 0; k < sizeof t / sizeof t[0]; k++)
            if (!*t[k])
                *t[k] = xstrdup("");
    }
}

static void worker(struct campaign *c, unsigned w)
{
    /* A worker must not outlive the campaign (e.g. when `timeout` kills only the parent). */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_worker_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    impl_init_signals();
    for (unsigned r = 0; r < c->n_runs; r++)
        dir_image_dontfork(&c->runs[r].tpl);
    char *path = texts_path(c, w);
    FILE *texts = fopen(path, "wbe"); /* e: not inherited by the IUT */
    if (!texts) {
        fprintf(stderr, "snapcheck: cannot create %s: %s\n", path, strerror(errno));
        _exit(1);
    }
    free(path);
    size_t cap = strlen(c->casesdir) + 64;
    for (unsigned i = 0; i < c->n_cases; i++)
        if (c->opt.keep_dir && strlen(c->casesdir) + strlen(c->cases[i].id) + 8 > cap)
            cap = strlen(c->casesdir) + strlen(c->cases[i].id) + 8;
    char *dir = xmalloc(cap);
    /* Workers take groups of consecutive cases that fault the same few calls (their errnos,
     * short writes and crashes), so that the judging memo of scenario.c sees the directories
     * that repeat: each errno of a call, a crash after call N and one before call N + 1. Group g
     * is cases starts[g] .. starts[g + 1] - 1; GROUP_CALLS calls keep the tail of a campaign
     * balanced between workers. */
    enum { GROUP_CALLS = 4 };
    unsigned *starts = xcalloc((size_t)c->n_cases + 1, sizeof *starts), n_groups = 0;
    for (unsigned i = 0, first = 0; i < c->n_cases; i++)
        if (i == 0 || c->cases[i].scenario != c->cases[i - 1].scenario ||
            c->cases[i].ordinal < c->cases[i - 1].ordinal ||
            c->cases[i].ordinal >= c->cases[first].ordinal + GROUP_CALLS) {
            starts[n_groups++] = i;
            first = i;
        }
    starts[n_groups] = c->n_cases;
    bool over = false;
    while (!over) {
        unsigned g = atomic_fetch_add(&head->next, 1);
        if (g >= n_groups)
            break;
        for (unsigned i = starts[g]; i < starts[g + 1]; i++) {
            if (c->deadline > 0) { /* --time-budget: start no case after it */
                struct timespec now;
                clock_gettime(CLOCK_MONOTONIC, &now);
                if ((double)now.tv_sec + (double)now.tv_nsec / 1e9 >= c->deadline) {
                    over = true;
                    break;
                }
            }
            case_dir_name(dir, cap, c, i, w);
            path_remove_tree(dir);
            struct case_result mine;
            scenario_run_case(c, &c->cases[i], dir, &mine);
            if (!c->opt.keep_dir)
                path_remove_tree(dir);
            put_texts(texts, i, &mine);
            struct case_result *r = &c->results[i];
            r->verdict = mine.verdict;
            memcpy(r->oracle, mine.oracle, sizeof r->oracle);
            r->fault_reached = mine.fault_reached;
            r->nondeterministic = mine.nondeterministic;
            r->memoized = mine.memoized;
            case_result_finish(&mine);
            r->done = 1;
            atomic_fetch_add(&head->done, 1);
        }
    }
    free(starts);
    free(dir);
    if (fclose(texts) != 0)
        _exit(1);
}

/* "ETA 1m05s" from the rate so far ("" before the first case is done). */
static void eta_text(char *dst, size_t cap, unsigned done, unsigned total, double elapsed)
{
    dst[0] = 0;
    if (!done || done >= total || elapsed <= 0)
        return;
    double left = elapsed / done * (total - done);
    unsigned long s = (unsigned long)(left + 0.5);
    if (s >= 3600)
        snprintf(dst, cap, ", ETA %luh%02lum", s / 3600, s / 60 % 60);
    else if (s >= 60)
        snprintf(dst, cap, ", ETA %lum%02lus", s / 60, s % 60);
    else
        snprintf(dst, cap, ", ETA %lus", s);
}

static void progress(const struct campaign *c, unsigned done, bool tty, bool final,
                     double elapsed)
{
    unsigned findings = 0;
    for (unsigned i = 0; i < c->n_cases; i++)
        if (c->results[i].done && c->results[i].verdict == V_FINDING)
            findings++;
    char eta[48];
    eta_text(eta, sizeof eta, done, c->n_cases, elapsed);
    if (tty)
        fprintf(stderr, "\r[%u/%u cases] findings: %u%s%s", done, c->n_cases, findings, eta,
                final ? "\n" : "   ");
    else
        fprintf(stderr, "snapcheck: %u/%u cases done, %u findings%s\n", done, c->n_cases,
                findings, eta);
}

int runner_run(struct campaign *c)
{
    if (interrupted) {
        fprintf(stderr, "snapcheck: interrupted (signal %d)\n", (int)interrupted);
        return -1;
    }
    serve_stop(); /* the set-up's server; each worker starts its own */
    unsigned jobs = c->opt.jobs ? c->opt.jobs : 1;
    if (jobs > c->n_cases)
        jobs = c->n_cases ? c->n_cases : 1;
    pid_t pids[256];
    if (jobs > 256)
        jobs = 256;
    fflush(NULL);
    for (unsigned w = 0; w < jobs; w++) {
        pid_t p = fork();
        if (p < 0) {
            fprintf(stderr, "snapcheck: cannot start worker: %s\n", strerror(errno));
            for (unsigned k = 0; k < w; k++)
                kill(pids[k], SIGKILL);
            return -1;
        }
        if (p == 0) {
            worker(c, w);
            serve_stop();
            _exit(0);
        }
        pids[w] = p;
    }
    bool tty = isatty(2) && !c->opt.quiet;
    struct timespec last, start;
    clock_gettime(CLOCK_MONOTONIC, &last);
    start = last;
    unsigned alive = jobs;
    int rc = 0;
    while (alive) {
        if (interrupted) {
            for (unsigned w = 0; w < jobs; w++) /* each kills its IUT's group, then exits */
                if (pids[w] > 0)
                    kill(pids[w], SIGTERM);
            for (unsigned w = 0; w < jobs; w++)
                while (pids[w] > 0 && waitpid(pids[w], NULL, 0) < 0 && errno == EINTR)
                    ;
            impl_kill_orphans(); /* adopted leftovers of IUTs (main is their subreaper) */
            fprintf(stderr, "\nsnapcheck: interrupted (signal %d): stopped the workers\n",
                    (int)interrupted);
            return -1;
        }
        int status;
        pid_t p = waitpid(-1, &status, WNOHANG);
        if (p > 0) {
            for (unsigned w = 0; w < jobs; w++)
                if (pids[w] == p) {
                    pids[w] = 0;
                    alive--;
                    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        fprintf(stderr, "snapcheck: worker %u died unexpectedly\n", w);
                        rc = -1;
                    }
                }
            continue;
        }
        struct timespec ts = {0, 50 * 1000 * 1000}, now;
        nanosleep(&ts, NULL);
        clock_gettime(CLOCK_MONOTONIC, &now);
        double since =
            (double)(now.tv_sec - last.tv_sec) + (double)(now.tv_nsec - last.tv_nsec) / 1e9;
        if (!c->opt.quiet && ((tty && since >= 0.2) || (!tty && since >= 10.0))) {
            double elapsed = (double)(now.tv_sec - start.tv_sec) +
                             (double)(now.tv_nsec - start.tv_nsec) / 1e9;
            progress(c, atomic_load(&head->done), tty, false, elapsed);
            last = now;
        }
    }
    if (tty)
        progress(c, atomic_load(&head->done), tty, true, 0);
    collect_texts(c, jobs);
    for (unsigned i = 0; i < c->n_cases && c->deadline <= 0; i++)
        if (!c->results[i].done) {
            struct case_result *r = &c->results[i];
            r->verdict = V_FINDING;
            snprintf(r->oracle, sizeof r->oracle, "setup");
            free(r->detail);
            r->detail = xstrdup("the case was not run (a worker died)");
            rc = -1;
        }
    return rc;
}
