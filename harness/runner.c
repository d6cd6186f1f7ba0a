/* The parallel runner (see runner.h). Method: the results array and a next-case counter live
 * in one anonymous shared mapping; N forked workers take cases with an atomic fetch-add (so a
 * slow case does not stall a static partition) and write each result in place; the parent only
 * watches the done counter for the progress line and reaps the workers. Results are indexed by
 * case, so the report does not depend on which worker ran what: runs are deterministic. */
#include "runner.h"
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
        char id[128];
        snprintf(id, sizeof id, "%s", c->cases[idx].id);
        for (char *p = id; *p; p++)
            if (*p == '/')
                *p = '_';
        snprintf(dst, cap, "%s/%s", c->casesdir, id);
    } else {
        snprintf(dst, cap, "%s/w%u", c->casesdir, worker);
    }
}

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    interrupted = sig;
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

static void worker(struct campaign *c, unsigned w)
{
    /* A worker must not outlive the campaign (e.g. when `timeout` kills only the parent). */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    impl_init_signals();
    for (unsigned r = 0; r < c->n_runs; r++)
        dir_image_dontfork(&c->runs[r].tpl);
    for (;;) {
        unsigned i = atomic_fetch_add(&head->next, 1);
        if (i >= c->n_cases)
            break;
        char dir[700];
        case_dir_name(dir, sizeof dir, c, i, w);
        path_remove_tree(dir);
        scenario_run_case(c, &c->cases[i], dir, &c->results[i]);
        if (!c->opt.keep_dir)
            path_remove_tree(dir);
        c->results[i].done = 1;
        atomic_fetch_add(&head->done, 1);
    }
}

static void progress(const struct campaign *c, unsigned done, bool tty, bool final)
{
    unsigned findings = 0;
    for (unsigned i = 0; i < c->n_cases; i++)
        if (c->results[i].done && c->results[i].verdict == V_FINDING)
            findings++;
    if (tty)
        fprintf(stderr, "\r[%u/%u cases] findings: %u%s", done, c->n_cases, findings,
                final ? "\n" : "   ");
    else
        fprintf(stderr, "snapcheck: %u/%u cases done, %u findings\n", done, c->n_cases, findings);
}

int runner_run(struct campaign *c)
{
    if (interrupted) {
        fprintf(stderr, "snapcheck: interrupted (signal %d)\n", (int)interrupted);
        return -1;
    }
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
            _exit(0);
        }
        pids[w] = p;
    }
    bool tty = isatty(2) && !c->opt.quiet;
    struct timespec last;
    clock_gettime(CLOCK_MONOTONIC, &last);
    unsigned alive = jobs;
    int rc = 0;
    while (alive) {
        if (interrupted) {
            for (unsigned w = 0; w < jobs; w++)
                kill(pids[w], SIGKILL);
            while (waitpid(-1, NULL, 0) > 0)
                ;
            fprintf(stderr, "\nsnapcheck: interrupted (signal %d): stopped the workers\n",
                    (int)interrupted);
            return -1;
        }
        int status;
        pid_t p = waitpid(-1, &status, WNOHANG);
        if (p > 0) {
            for (unsigned w = 0; w < jobs; w++)
                if (pids[w] == p) {
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
            progress(c, atomic_load(&head->done), tty, false);
            last = now;
        }
    }
    if (tty)
        progress(c, atomic_load(&head->done), tty, true);
    for (unsigned i = 0; i < c->n_cases; i++)
        if (!c->results[i].done) {
            struct case_result *r = &c->results[i];
            r->verdict = V_FINDING;
            snprintf(r->oracle, sizeof r->oracle, "setup");
            snprintf(r->detail, sizeof r->detail, "the case was not run (a worker died)");
            rc = -1;
        }
    return rc;
}
