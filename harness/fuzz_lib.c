/* `snapcheck fuzz --lib 'PATH [WORD...]'`: fuzzing another implementation's loader in process,
 * through the C ABI of <snapcheck/adapter.h>. The work is done by the libFuzzer driver
 * snapcheck-fuzz-lib (fuzz/lib_load.c, built with ASan, UBSan and the structure-aware mutator):
 * it writes each input out as a snapshot directory, has the library load it, and checks for a
 * crash, a hang, an allocation out of proportion to the input and, for implementations of
 * docs/FORMAT.md, any disagreement with libsnapref. This file runs it with the corpus and the
 * dictionary, keeps its log and what it finds in --out, and turns its ending into a verdict:
 * exit 0 no finding, 1 a finding (with the input and a reproducer), 2 a usage or set-up error. */
#include "campaign.h"
#include "conform.h"
#include "report.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SNAPCHECK_FUZZ_DIR
#define SNAPCHECK_FUZZ_DIR ""
#endif
#ifndef SNAPCHECK_FUZZ_LIB_DRIVER
#define SNAPCHECK_FUZZ_LIB_DRIVER ""
#endif

extern char **environ;

struct lib_opts {
    const char *lib, *corpus, *dict, *out_dir, *driver, *format, *html;
    uint64_t seed, runs, seconds, timeout;
    bool leaks, quiet;
};

void fuzz_lib_usage(FILE *f)
{
    fputs("usage: snapcheck fuzz --lib 'PATH [WORD...]' [options]\n\n"
          "Fuzzes the load of an adapter library (<snapcheck/adapter.h>, docs/ADAPTER.md 10) in\n"
          "process with libFuzzer: each input (fuzz/corpus/pair_load, the split format of\n"
          "fuzz/README.md) is written out as a snapshot directory and loaded by the library.\n"
          "A finding is a crash or sanitizer report, a hang, a single allocation larger than\n"
          "1 MiB + 4 x the input's files, a return code other than 0 or 1, or (reference format)\n"
          "any disagreement with libsnapref: accepting what it refuses, refusing what it loads,\n"
          "other bytes. Build the library with -fsanitize=address,undefined (clang) to have\n"
          "its memory errors reported where they happen.\n\n"
          "options:\n"
          "  --lib 'PATH [WORD...]'  the library, and the words for its snapcheck_adapter_init\n"
          "  --seconds S       stop after S seconds (default 60; 0: no time limit, give --runs)\n"
          "  --runs N          stop after N inputs (with --seed: a reproducible run)\n"
          "  --seed N          libFuzzer's seed (default 1)\n"
          "  --format F        reference (default: the differential check) or own (crashes,\n"
          "                    hangs and allocations only)\n"
          "  --out DIR         keep the log and the inputs of findings there (default:\n"
          "                    ./snapcheck-fuzz-lib)\n"
          "  --corpus DIR      seeds (default: the source tree's fuzz/corpus/pair_load)\n"
          "  --dict FILE       dictionary (default: fuzz/snapshot.dict)\n"
          "  --timeout S       one input taking longer is a hang (default 10)\n"
          "  --html FILE       write a self-contained HTML page (verdict, the finding)\n"
          "  --leaks           report memory the library leaks (off: the ABI lets it leak)\n"
          "  --driver PATH     the driver (default: snapcheck-fuzz-lib beside snapcheck, or\n"
          "                    the build's; $SNAPCHECK_FUZZ_DRIVER)\n"
          "  -q                no progress line\n\n"
          "exit status: 0 no finding, 1 a finding, 2 usage or set-up error\n",
          f);
}

static int setup_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int setup_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("snapcheck fuzz: set-up error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_SETUP;
}

static int bad(const char *fmt, const char *arg)
{
    fputs("snapcheck fuzz: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\n(see snapcheck fuzz --help)\n", stderr);
    return EXIT_SETUP;
}

static int parse(struct lib_opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->seconds = 60;
    o->timeout = 10;
    o->format = "reference";
    o->out_dir = "snapcheck-fuzz-lib";
    bool seconds_given = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fuzz_lib_usage(stdout);
            return EXIT_HELD;
        }
        if (!strcmp(a, "-q")) {
            o->quiet = true;
            continue;
        }
        if (!strcmp(a, "--leaks")) {
            o->leaks = true;
            continue;
        }
        if (!v)
            return bad("option %s needs a value", a);
        i++;
        if (!strcmp(a, "--lib"))
            o->lib = v;
        else if (!strcmp(a, "--corpus"))
            o->corpus = v;
        else if (!strcmp(a, "--dict"))
            o->dict = v;
        else if (!strcmp(a, "--out"))
            o->out_dir = v;
        else if (!strcmp(a, "--driver"))
            o->driver = v;
        else if (!strcmp(a, "--html"))
            o->html = v;
        else if (!strcmp(a, "--format")) {
            if (strcmp(v, "reference") && strcmp(v, "own"))
                return bad("--format must be reference or own, not '%s'", v);
            o->format = v;
        } else if (!strcmp(a, "--seed")) {
            if (parse_uint(&o->seed, v, 0, UINT32_MAX))
                return bad("--seed: bad number '%s' (0 to 4294967295)", v);
        } else if (!strcmp(a, "--runs")) {
            if (parse_uint(&o->runs, v, 1, 1000000000000ull))
                return bad("--runs: bad number '%s' (1 or more)", v);
        } else if (!strcmp(a, "--seconds")) {
            if (parse_uint(&o->seconds, v, 0, 100000000))
                return bad("--seconds: bad number '%s'", v);
            seconds_given = true;
        } else if (!strcmp(a, "--timeout")) {
            if (parse_uint(&o->timeout, v, 1, 100000))
                return bad("--timeout: bad number '%s' (1 or more seconds)", v);
        } else if (!strcmp(a, "--impl")) {
            return bad("%s", "give --lib or --impl, not both");
        } else {
            return bad("unknown option '%s'", a);
        }
    }
    if (!o->lib)
        return bad("%s", "--lib 'PATH [WORD...]' is required");
    if (o->runs && !seconds_given)
        o->seconds = 0; /* --runs alone: run exactly that many */
    if (!o->runs && !o->seconds)
        return bad("%s", "--seconds 0 needs --runs N (the run must end)");
    return -1;
}

/* The driver: --driver, $SNAPCHECK_FUZZ_DRIVER, beside this executable, the build's. */
static int locate_driver(char *dst, size_t cap, const char *explicit_path)
{
    const char *e = explicit_path ? explicit_path : getenv("SNAPCHECK_FUZZ_DRIVER");
    if (e && *e) {
        if (access(e, X_OK) != 0)
            return setup_error("the fuzz driver %s is not an executable file (%s)", e,
                               strerror(errno));
        snprintf(dst, cap, "%s", e);
        return 0;
    }
    if (path_beside_self(dst, cap, "snapcheck-fuzz-lib", X_OK) == 0)
        return 0;
    if (SNAPCHECK_FUZZ_LIB_DRIVER[0] && access(SNAPCHECK_FUZZ_LIB_DRIVER, X_OK) == 0) {
        snprintf(dst, cap, "%s", SNAPCHECK_FUZZ_LIB_DRIVER);
        return 0;
    }
    return setup_error("fuzz --lib needs the libFuzzer driver snapcheck-fuzz-lib: found neither "
                       "beside snapcheck nor in the build (meson builds it when clang is "
                       "installed; or scripts/fuzz lib-driver OUT, then --driver OUT)");
}

/* The value after "key" in line (up to the end of the line), or NULL. */
static const char *after(const char *line, const char *key)
{
    const char *p = strstr(line, key);
    return p ? p + strlen(key) : NULL;
}

struct outcome {
    bool interrupted;   /* libFuzzer stopped on SIGINT or SIGTERM */
    char finding[1024]; /* what went wrong, "" when nothing did */
    char artifact[PATH_MAX];
    char setup[1024];
    unsigned long long runs, exec_per_sec, corpus_units;
};

static void set_once(char *dst, size_t cap, const char *src)
{
    if (dst[0])
        return;
    size_t n = strcspn(src, "\n");
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

/* Read the driver's log: the first finding wins (the driver stops there). */
static void read_log(struct outcome *r, const char *log)
{
    FILE *f = fopen(log, "r");
    if (!f)
        return;
    char line[4096], buf[1200];
    const char *v;
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "libFuzzer: run interrupted"))
            r->interrupted = true;
        else if ((v = after(line, "lib_load: FINDING: ")))
            set_once(r->finding, sizeof r->finding, v);
        else if ((v = after(line, "lib_load: set-up: ")))
            set_once(r->setup, sizeof r->setup, v);
        else if ((v = after(line, "ERROR: AddressSanitizer: requested allocation size "))) {
            snprintf(buf, sizeof buf, "load asked for an allocation of %.*s bytes "
                                      "(AddressSanitizer: allocation-size-too-big)",
                     (int)strcspn(v, " "), v);
            set_once(r->finding, sizeof r->finding, buf);
        } else if ((v = after(line, "ERROR: AddressSanitizer: allocator is out of memory "
                                    "trying to allocate "))) {
            snprintf(buf, sizeof buf, "load asked for an allocation of %.*s bytes "
                                      "(AddressSanitizer: out of memory)",
                     (int)strcspn(v, " \n"), v);
            set_once(r->finding, sizeof r->finding, buf);
        } else if ((v = after(line, "ERROR: libFuzzer: out-of-memory (malloc("))) {
            snprintf(buf, sizeof buf, "load asked for an allocation of %.*s bytes (over "
                                      "libFuzzer's malloc limit)",
                     (int)strcspn(v, ")"), v);
            set_once(r->finding, sizeof r->finding, buf);
        } else if ((v = after(line, "ERROR: libFuzzer: timeout"))) {
            set_once(r->finding, sizeof r->finding, "load hung: one input ran past --timeout");
        } else if ((v = after(line, "ERROR: libFuzzer: out-of-memory"))) {
            set_once(r->finding, sizeof r->finding, "load ran out of memory (rss limit)");
        } else if ((v = after(line, "SUMMARY: AddressSanitizer: ")) ||
                   (v = after(line, "SUMMARY: UndefinedBehaviorSanitizer: ")) ||
                   (v = after(line, "SUMMARY: LeakSanitizer: "))) {
            snprintf(buf, sizeof buf, "%s in load: %s",
                     strstr(line, "Leak") ? "memory leaked" : "memory error", v);
            set_once(r->finding, sizeof r->finding, buf);
        } else if ((v = after(line, "ERROR: libFuzzer: deadly signal"))) {
            set_once(r->finding, sizeof r->finding, "load crashed (a deadly signal)");
        } else if ((v = after(line, "Test unit written to "))) {
            set_once(r->artifact, sizeof r->artifact, v);
        } else if (line[0] == '#' && line[1] >= '0' && line[1] <= '9') {
            /* progress lines: "#N\tNEW cov: ... corp: C/...", "#N\tDONE cov: ... corp: C/..." */
            r->runs = strtoull(line + 1, NULL, 10);
            const char *c = after(line, " corp: ");
            if (c)
                r->corpus_units = strtoull(c, NULL, 10);
        } else if ((v = after(line, "stat::number_of_executed_units: "))) {
            r->runs = strtoull(v, NULL, 10);
        } else if ((v = after(line, "stat::average_exec_per_sec: "))) {
            r->exec_per_sec = strtoull(v, NULL, 10);

        }
    }
    fclose(f);
}

static int fuzz_lib_run(const struct lib_opts *op, const char *driver, struct report_out *html);

/* The driver while it runs: Ctrl-C or a SIGTERM to snapcheck reaches it as SIGINT, on which
 * libFuzzer stops cleanly; snapcheck then says "interrupted", removes its work directory and
 * exits 2. */
static volatile sig_atomic_t driver_pid;

static void forward_stop(int sig)
{
    (void)sig;
    if (driver_pid > 0)
        kill((pid_t)driver_pid, SIGINT);
}

int fuzz_lib_main(int argc, char **argv)
{
    struct lib_opts o;
    int rc = parse(&o, argc, argv);
    if (rc >= 0)
        return rc;
    char driver[PATH_MAX];
    if (locate_driver(driver, sizeof driver, o.driver) != 0)
        return EXIT_SETUP;
    struct report_out html = {.fd = -1};
    if (o.html && report_out_open(&html, o.html, "HTML") != 0)
        return EXIT_SETUP;
    rc = fuzz_lib_run(&o, driver, &html);
    report_out_abandon(&html); /* a set-up error writes no report */
    return rc;
}

static int fuzz_lib_run(const struct lib_opts *op, const char *driver, struct report_out *html)
{
    struct lib_opts o = *op;
    int rc;
    char lib[PATH_MAX], corpus[PATH_MAX], dict[PATH_MAX];
    size_t skip = strspn(o.lib, " \t"), len = strcspn(o.lib + skip, " \t");
    if (len == 0 || len >= sizeof lib)
        return bad("--lib '%s': give the path of the adapter library", o.lib);
    memcpy(lib, o.lib + skip, len);
    lib[len] = 0;
    struct stat st;
    if (stat(lib, &st) != 0)
        return setup_error("--lib: %s: %s", lib, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return setup_error("--lib: %s: not a regular file", lib);
    snprintf(corpus, sizeof corpus, "%s",
             o.corpus ? o.corpus : SNAPCHECK_FUZZ_DIR "/corpus/pair_load");
    snprintf(dict, sizeof dict, "%s", o.dict ? o.dict : SNAPCHECK_FUZZ_DIR "/snapshot.dict");
    if (stat(corpus, &st) != 0 || !S_ISDIR(st.st_mode))
        return setup_error("--corpus %s: not a directory", corpus);
    if (access(dict, R_OK) != 0)
        return setup_error("--dict %s: %s", dict, strerror(errno));
    if (strlen(o.out_dir) > PATH_MAX - 64)
        return bad("--out '%s': path too long", o.out_dir);
    if (mkdir(o.out_dir, 0755) != 0 && errno != EEXIST)
        return setup_error("--out %s: %s", o.out_dir, strerror(errno));
    if (stat(o.out_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return setup_error("--out %s: not a directory", o.out_dir);

    /* The grown corpus goes to a work directory: the seeds are never written to. */
    char work[PATH_MAX], grown[PATH_MAX + 16], log[PATH_MAX + 32], prefix[PATH_MAX + 8];
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(work, sizeof work, "%s/snapcheck-fuzz-lib.XXXXXX", tmp);
    if (!mkdtemp(work))
        return setup_error("cannot create a work directory under %s: %s", tmp, strerror(errno));
    snprintf(grown, sizeof grown, "%s/corpus", work);
    snprintf(log, sizeof log, "%s/fuzz-lib.log", o.out_dir);
    snprintf(prefix, sizeof prefix, "%s/", o.out_dir);
    rc = EXIT_SETUP;
    if (mkdir(grown, 0700) != 0) {
        setup_error("cannot create %s: %s", grown, strerror(errno));
        goto out;
    }

    char a_dict[PATH_MAX + 8], a_seed[40], a_prefix[PATH_MAX + 32], a_time[48], a_runs[48],
        a_timeout[40], a_leaks[24];
    snprintf(a_dict, sizeof a_dict, "-dict=%s", dict);
    snprintf(a_seed, sizeof a_seed, "-seed=%llu", (unsigned long long)o.seed);
    snprintf(a_prefix, sizeof a_prefix, "-artifact_prefix=%s", prefix);
    snprintf(a_time, sizeof a_time, "-max_total_time=%llu", (unsigned long long)o.seconds);
    snprintf(a_runs, sizeof a_runs, "-runs=%llu", o.runs ? (unsigned long long)o.runs : (unsigned long long)-1);
    snprintf(a_timeout, sizeof a_timeout, "-timeout=%llu", (unsigned long long)o.timeout);
    snprintf(a_leaks, sizeof a_leaks, "-detect_leaks=%d", o.leaks ? 1 : 0);
    char drv[PATH_MAX];
    snprintf(drv, sizeof drv, "%s", driver);
    char *args[] = {drv,         grown,   corpus, a_dict,          a_seed,
                    a_prefix,    a_time,  a_runs, a_timeout,       a_leaks,
                    "-print_final_stats=1", "-rss_limit_mb=2048", NULL};
    if (!o.seconds) /* a time limit of 0 is none */
        memmove(&args[6], &args[7], sizeof args - 7 * sizeof args[0]);

    if (!o.quiet)
        fprintf(stderr, "snapcheck fuzz: %s: libFuzzer for %s%s%s (log: %s)\n", o.lib,
                o.seconds ? a_time + 16 : "", o.seconds ? " s" : "",
                o.runs ? (o.seconds ? " or the runs given" : "the runs given") : "", log);
    int logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (logfd < 0) {
        setup_error("cannot write %s: %s", log, strerror(errno));
        goto out;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    pid_t pid = fork();
    if (pid < 0) {
        close(logfd);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        setup_error("fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        dup2(logfd, STDOUT_FILENO);
        dup2(logfd, STDERR_FILENO);
        setenv("SNAPCHECK_FUZZ_LIB", o.lib, 1);
        setenv("SNAPCHECK_FUZZ_FORMAT", o.format, 1);
        setenv("SNAPCHECK_FUZZ_TMP", work, 1);
        setenv("FUZZ_MUTATOR_INPUT", "pair", 1);
        execve(driver, args, environ);
        fprintf(stderr, "lib_load: set-up: cannot run %s: %s\n", driver, strerror(errno));
        _exit(2);
    }
    driver_pid = pid;
    close(logfd);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    driver_pid = 0;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

    struct outcome r;
    memset(&r, 0, sizeof r);
    read_log(&r, log);
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (r.interrupted && !r.finding[0]) {
        fprintf(stderr, "snapcheck fuzz: interrupted after %llu inputs: no verdict (log: %s)\n",
                r.runs, log);
        goto out;
    }
    if (r.setup[0] || (!clean && !r.artifact[0] && !r.finding[0])) {
        setup_error("%s (log: %s)",
                    r.setup[0] ? r.setup : "the driver failed before fuzzing", log);
        goto out;
    }
    printf("snapcheck fuzz --lib %s: %llu inputs in %.1f s (%llu/s), %llu in the corpus\n",
           o.lib, r.runs, secs, r.exec_per_sec, r.corpus_units);
    if (clean && !r.finding[0]) {
        printf("VERDICT: PASS (no crash, hang, oversized allocation%s in %llu inputs)\n",
               strcmp(o.format, "reference") ? "" : " or disagreement with the reference",
               r.runs);
        rc = EXIT_HELD;
        if (o.html) {
            char *meta = xasprintf("%llu inputs in %.1f s (%llu/s), %llu in the corpus; seed "
                                   "%llu, format %s; library: %s",
                                   r.runs, secs, r.exec_per_sec, r.corpus_units, (unsigned long long)o.seed, o.format,
                                   o.lib);
            if (report_html_findings(html, "fuzz", "VERDICT: PASS", false, meta, NULL, 0, 0))
                rc = EXIT_SETUP;
            free(meta);
        }
        goto out;
    }
    char *qlib = shell_quote(o.lib), *qdriver = shell_quote(driver), *qin = shell_quote(r.artifact);
    printf("FINDING: %s\n", r.finding[0] ? r.finding : "the driver stopped on an input");
    if (r.artifact[0]) {
        printf("  input: %s\n", r.artifact);
        printf("  reproduce: SNAPCHECK_FUZZ_LIB=%s SNAPCHECK_FUZZ_FORMAT=%s %s %s\n", qlib,
               o.format, qdriver, qin);
    }
    printf("  log: %s\n", log);
    printf("VERDICT: FAIL (1 finding)\n");
    rc = EXIT_FINDINGS;
    if (o.html) {
        char *meta = xasprintf("%llu inputs in %.1f s; seed %llu, format %s; library: %s",
                               r.runs, secs, (unsigned long long)o.seed, o.format, o.lib);
        char *one = xasprintf("%s\ninput: %s\nreproduce: SNAPCHECK_FUZZ_LIB=%s "
                              "SNAPCHECK_FUZZ_FORMAT=%s %s %s\nlog: %s",
                              r.finding[0] ? r.finding : "the driver stopped on an input",
                              r.artifact, qlib, o.format, qdriver, qin, log);
        const char *list[1] = {one};
        if (report_html_findings(html, "fuzz", "VERDICT: FAIL", true, meta, list, 1, 1))
            rc = EXIT_SETUP;
        free(meta);
        free(one);
    }
    free(qlib);
    free(qdriver);
    free(qin);
out:
    path_remove_tree(work);
    return rc;
}
