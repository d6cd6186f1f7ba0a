/* snapcheck: the driver of a fault campaign. Parses the command line, locates the interposer,
 * generates the inputs, asks the IUT its capabilities, prepares and censuses each scenario,
 * enumerates the cases, runs them (runner.c) and reports (report.c). Exit 0/1/2 (campaign.h). */
#define _GNU_SOURCE /* unshare, CLONE_NEWNS */
#include "campaign.h"
#include "census.h"
#include "cli.h"
#include "conform.h"
#include "crash.h"
#include "driver.h"
#include "driver_lib.h"
#include "driver_serve.h"
#include "report.h"
#include "persist.h"
#include "runner.h"
#include "sample.h"
#include "scenario.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#ifndef SNAPCHECK_INTERPOSER_PATH
#define SNAPCHECK_INTERPOSER_PATH ""
#endif
#ifndef SNAPCHECK_BINDIR
#define SNAPCHECK_BINDIR ""
#endif
#ifndef SNAPCHECK_LIBDIR
#define SNAPCHECK_LIBDIR ""
#endif

static int setup_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int setup_error(const char *fmt, ...)
{
    if (impl_stopped()) {
        fprintf(stderr, "snapcheck: interrupted (signal %d) during set-up: stopped the IUT, "
                        "removed the work directory\n",
                impl_stopped());
        return EXIT_SETUP;
    }
    va_list ap;
    va_start(ap, fmt);
    fputs("snapcheck: set-up error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_SETUP;
}

static bool readable(const char *p)
{
    return p && *p && access(p, R_OK) == 0;
}

/* The installed libsnapfault.so: <prefix>/<libdir>/libsnapfault.so, where <prefix> is the
 * directory above this executable's <bindir>. Works under a DESTDIR or a moved prefix too.
 * @return 0 with the path in dst, -1 when this executable is not in an installed <bindir>. */
static int installed_interposer(char *dst, size_t cap)
{
    const char *bindir = SNAPCHECK_BINDIR, *libdir = SNAPCHECK_LIBDIR;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || !*bindir || !*libdir)
        return -1;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (!slash)
        return -1;
    *slash = 0; /* self: the directory of the executable */
    if (libdir[0] == '/')
        return fmt_path(dst, cap, "%s/libsnapfault.so", libdir);
    size_t sl = strlen(self), bl = strlen(bindir);
    if (bindir[0] == '/' || sl <= bl || strcmp(self + sl - bl, bindir) != 0 ||
        self[sl - bl - 1] != '/')
        return -1;
    self[sl - bl - 1] = 0; /* self: the prefix */
    return fmt_path(dst, cap, "%s/%s/libsnapfault.so", self, libdir);
}

/* --interposer, else $SNAPCHECK_INTERPOSER, else the installed one (<libdir>), else the build
 * path, else beside the executable. */
int snapcheck_locate_interposer(char *dst, size_t cap, const char *explicit_path)
{
    const char *cands[3] = {explicit_path, getenv("SNAPCHECK_INTERPOSER"),
                            SNAPCHECK_INTERPOSER_PATH};
    const char *explicit = explicit_path ? explicit_path : cands[1];
    if (explicit && *explicit) {
        if (!readable(explicit))
            return setup_error("the interposer %s does not exist or cannot be read (%s)", explicit,
                               explicit_path ? "--interposer" : "SNAPCHECK_INTERPOSER");
        return realpath(explicit, dst) ? 0 : setup_error("cannot resolve %s", explicit);
    }
    (void)cap;
    char inst[PATH_MAX];
    if (installed_interposer(inst, sizeof inst) == 0 && readable(inst))
        return realpath(inst, dst) ? 0 : setup_error("cannot resolve %s", inst);
    if (readable(cands[2]))
        return realpath(cands[2], dst) ? 0 : EXIT_SETUP;
    char self[PATH_MAX];
    if (path_beside_self(self, sizeof self, "libsnapfault.so", R_OK) == 0 && readable(self))
        return realpath(self, dst) ? 0 : EXIT_SETUP;
    return setup_error("the interposer libsnapfault.so is missing: build faults/ or give "
                       "--interposer PATH (looked in <prefix>/%s, at %s and beside the "
                       "executable)",
                       SNAPCHECK_LIBDIR, *cands[2] ? cands[2] : "no build path");
}

static int read_capabilities(struct campaign *c)
{
    char buf[1024], err[300];
    if (c->drv->capabilities(c, buf, sizeof buf, err, sizeof err) != 0)
        return setup_error("the IUT fails `%s capabilities`: %s", c->opt.impl_cmd, err);
    bool full = false, load = false;
    char *save = NULL;
    const char *globs[32];
    unsigned n_globs = 0;
    for (char *w = strtok_r(buf, " \t\r\n,", &save); w;
         w = strtok_r(NULL, " \t\r\n,", &save)) {
        full |= !strcmp(w, "save-full");
        load |= !strcmp(w, "load");
        c->cap_diff |= !strcmp(w, "save-diff");
        c->cap_merge |= !strcmp(w, "merge");
        if (!strncmp(w, "volatile=", 9)) { /* docs/ADAPTER.md 1: files it never relies on */
            if (!w[9] || n_globs == sizeof globs / sizeof globs[0])
                return setup_error("the IUT's capability '%s': give one glob per volatile= "
                                   "word, at most %zu",
                                   w, sizeof globs / sizeof globs[0]);
            globs[n_globs++] = w + 9;
        }
    }
    pt_set_volatile(globs, n_globs);
    if (!full || !load)
        return setup_error("the IUT's capabilities lack %s (it must support at least save-full "
                           "and load)",
                           !full ? "save-full" : "load");
    return 0;
}

static int select_scenarios(struct campaign *c)
{
    unsigned n;
    const struct scenario *t = scenario_table(&n);
    bool *want = xcalloc(n, sizeof *want);
    c->runs = xcalloc(n, sizeof *c->runs);
    if (c->opt.case_id) {
        const char *slash = strchr(c->opt.case_id, '/');
        size_t len = slash ? (size_t)(slash - c->opt.case_id) : strlen(c->opt.case_id);
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(len < 63 ? len : 63), c->opt.case_id);
        int s = scenario_find(name);
        if (s < 0 || !slash) {
            fprintf(stderr,
                    "snapcheck faults: bad --case '%s': it must be "
                    "<scenario>/<ordinal>/<call>/<action> with a known scenario\n",
                    c->opt.case_id);
            free(want);
            return EXIT_SETUP;
        }
        want[s] = true;
    } else if (c->opt.n_scenarios) {
        for (unsigned i = 0; i < c->opt.n_scenarios; i++)
            want[scenario_find(c->opt.scenarios[i])] = true;
    } else {
        for (unsigned i = 0; i < n; i++)
            want[i] = scenario_supported(c, &t[i]);
    }
    for (unsigned i = 0; i < n; i++) {
        if (!want[i])
            continue;
        if (!scenario_supported(c, &t[i])) {
            free(want);
            return setup_error("scenario %s needs a capability the IUT does not list (%s)",
                               t[i].name, t[i].op == OP_MERGE ? "merge" : "save-diff");
        }
        c->runs[c->n_runs++].scenario = i;
    }
    free(want);
    return 0;
}

/* Without $TMPDIR, a tmpfs when there is one: every IUT fsyncs every file it writes, and on
 * a disk each case would then wait for the device. */
static const char *default_tmpdir(void)
{
    struct statfs sf;
    if (statfs("/dev/shm", &sf) == 0 && sf.f_type == TMPFS_MAGIC &&
        access("/dev/shm", W_OK | X_OK) == 0)
        return "/dev/shm";
    return "/tmp";
}

/* Without $TMPDIR, and when snapcheck may mount (root), the work directory becomes a private
 * tmpfs with transparent huge pages for files of 2 MiB and more (huge=within_size), mounted in
 * a mount namespace of snapcheck's own, so that no other process sees it and it vanishes with
 * snapcheck however it ends. Every case writes and reads a pair of a few MiB: with 4 KiB pages
 * each page costs an allocation (and a fault where it is mapped), which is most of a case's
 * time on a virtual machine; huge pages take about a third of it off (docs/HARNESS.md,
 * Performance). It is still tmpfs, as /dev/shm is: what the IUT sees of the file calls is the
 * same. @return true when it is mounted; false leaves dir as it was (not root, no mount
 * namespaces, no huge page support): the campaign runs as well, only slower. */
static bool private_tmpfs(const char *dir)
{
    if (getenv("SNAPCHECK_NO_PRIVATE_TMPFS") || unshare(CLONE_NEWNS) != 0)
        return false;
    /* Nothing mounted from here on may reach the parent namespace. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return false;
    return mount("snapcheck", dir, "tmpfs", MS_NOSUID | MS_NODEV,
                 "huge=within_size,mode=0700") == 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The report files, opened before anything runs (an unwritable path is found at once). */
static struct report_out json_out = {.fd = -1}, junit_out = {.fd = -1}, html_out = {.fd = -1};

static int run_campaign(struct campaign *c)
{
    double t0 = now_s();
    char err[1024];
    static char *lib_cmd; /* --lib: the runner's command line, in place of --impl */
    if (c->opt.lib) {
        if (lib_command(&lib_cmd, c->opt.lib, err, sizeof err) != 0)
            return setup_error("%s", err);
        c->opt.impl_cmd = lib_cmd;
        c->opt.serve = true;
    }
    if (!c->opt.list) {
        if (c->opt.json_path && report_out_open(&json_out, c->opt.json_path, "JSON") != 0)
            return EXIT_SETUP;
        if (c->opt.junit_path && report_out_open(&junit_out, c->opt.junit_path, "JUnit") != 0)
            return EXIT_SETUP;
        if (c->opt.html_path && report_out_open(&html_out, c->opt.html_path, "HTML") != 0)
            return EXIT_SETUP;
    }
    if (impl_parse(&c->impl, c->opt.impl_cmd, err, sizeof err) != 0)
        return setup_error("%s", err);
    if (!impl_executable(&c->impl))
        return setup_error("the IUT '%s' is not an executable file (from --impl '%s')",
                           c->impl.argv[0], c->opt.impl_cmd);
    int rc = snapcheck_locate_interposer(c->interposer, sizeof c->interposer, c->opt.interposer);
    if (rc)
        return rc;
    const char *tmp = getenv("TMPDIR");
    bool defaulted = (!tmp || !*tmp) && !c->opt.keep_dir;
    if (defaulted)
        tmp = default_tmpdir();
    if (c->opt.keep_dir) {
        if (mkdir(c->opt.keep_dir, 0755) != 0 && errno != EEXIST)
            return setup_error("cannot create --keep directory %s: %s", c->opt.keep_dir,
                               strerror(errno));
        tmp = c->opt.keep_dir;
    }
    char tmpl[512];
    if (fmt_path(tmpl, sizeof tmpl, "%s/snapcheck.XXXXXX", tmp && *tmp ? tmp : "/tmp") != 0 ||
        !mkdtemp(tmpl))
        return setup_error("cannot create a work directory under %s: %s",
                           tmp && *tmp ? tmp : "/tmp", strerror(errno));
    if (!realpath(tmpl, c->workdir))
        return setup_error("cannot resolve %s", tmpl);
    if (defaulted)
        c->workdir_mounted = private_tmpfs(c->workdir);
    if (fmt_path(c->casesdir, sizeof c->casesdir, "%s/cases", c->workdir) != 0 ||
        mkdir(c->casesdir, 0755) != 0)
        return setup_error("cannot create %s: %s", c->casesdir, strerror(errno));
    if (c->opt.keep_dir && !c->opt.quiet)
        fprintf(stderr, "snapcheck: keeping every file under %s\n", c->workdir);
    static char serve_log[sizeof c->workdir + 16];
    if (c->opt.serve) {
        snprintf(serve_log, sizeof serve_log, "%s/serve.log", c->workdir);
        c->impl.serve = true;
        c->impl.serve_interposer = c->interposer;
        c->impl.serve_log = serve_log;
    }
    char ddir[sizeof c->workdir + 16];
    snprintf(ddir, sizeof ddir, "%s/inputs", c->workdir);
    if (mkdir(ddir, 0755) != 0)
        return setup_error("cannot create %s: %s", ddir, strerror(errno));
    if (dataset_create_sized(&c->data, ddir, c->opt.seed, c->opt.page_size,
                             c->opt.ram_mib ? c->opt.ram_mib : 2, err, sizeof err) != 0)
        return setup_error("%s", err);
    if (c->drv->init(c, err, sizeof err) != 0)
        return setup_error("%s", err);
    if ((rc = read_capabilities(c)) != 0)
        return rc;
    if ((rc = select_scenarios(c)) != 0)
        return rc;
    unsigned n_sc, cap = 0;
    const struct scenario *table = scenario_table(&n_sc);
    struct sc_case *all = NULL;
    unsigned n_all = 0;
    for (unsigned r = 0; r < c->n_runs; r++) {
        const char *name = table[c->runs[r].scenario].name;
        rc = scenario_prepare(c, &c->runs[r], err, sizeof err);
        if (rc < 0) {
            free(all);
            return setup_error("%s%s", err,
                               c->opt.in_process && !strstr(err, "--in-process")
                                   ? " (--in-process judges with the linked-in reference: is "
                                     "--impl the reference?)"
                                   : "");
        }
        if (rc > 0) { /* a clean-run finding: the scenario's only case */
            if (!c->opt.quiet)
                fprintf(stderr, "snapcheck: scenario %s: the IUT fails a clean run (finding "
                                "clean-run); its cases are not run\n", name);
            census_add_clean_run(&all, &n_all, &cap, &c->runs[r], name);
            continue;
        }
        census_enumerate(&all, &n_all, &cap, &c->runs[r], name, c->opt.tier);
    }
    if (c->opt.crash) { /* snapcheck crash: the same set-up, then its own exploration */
        free(all);
        return crash_run(c, t0, &json_out, &junit_out, &html_out);
    }
    /* --case (searched in the tier, then in tier all, so a reproducer works whatever the
     * tier), shard. */
    if (c->opt.case_id) {
        struct sc_case *hit = NULL;
        for (unsigned i = 0; i < n_all; i++)
            if (!strcmp(all[i].id, c->opt.case_id))
                hit = &all[i];
        if (!hit && c->opt.tier != TIER_ALL) {
            struct sc_case *full = NULL;
            unsigned n_full = 0, cap_full = 0;
            for (unsigned r = 0; r < c->n_runs; r++) {
                const char *name = table[c->runs[r].scenario].name;
                if (c->runs[r].clean_run)
                    census_add_clean_run(&full, &n_full, &cap_full, &c->runs[r], name);
                else
                    census_enumerate(&full, &n_full, &cap_full, &c->runs[r], name, TIER_ALL);
            }
            free(all);
            all = full;
            n_all = n_full;
            for (unsigned i = 0; i < n_all; i++)
                if (!strcmp(all[i].id, c->opt.case_id))
                    hit = &all[i];
        }
        if (!hit) {
            free(all);
            return setup_error("no case '%s': the census of scenario %s counted %u calls (list "
                               "the cases with --list --tier full)",
                               c->opt.case_id, table[c->runs[0].scenario].name, c->runs[0].n_calls);
        }
        all[0] = *hit;
        n_all = 1;
    }
    c->cases = xcalloc(n_all, sizeof *c->cases);
    for (unsigned i = 0; i < n_all; i++)
        if (i % c->opt.shard_n == c->opt.shard_k - 1)
            c->cases[c->n_cases++] = all[i];
    free(all);
    /* Zero cases is never a pass: a shard past the end of the list is a usage error. */
    if (c->n_cases == 0) {
        if (c->opt.shard_n > 1)
            return setup_error("no case selected: --shard %u/%u is empty, the campaign has only "
                               "%u cases (use at most %u shards)",
                               c->opt.shard_k, c->opt.shard_n, n_all, n_all);
        return setup_error("no case selected (the census counted no calls)");
    }
    unsigned strata = sample_apply(c, now_s());
    unsigned collapsed = 0;
    for (unsigned r = 0; r < c->n_runs; r++)
        collapsed += c->runs[r].collapsed;
    if (c->opt.list) {
        for (unsigned i = 0; i < c->n_cases; i++)
            printf("%s\n", c->cases[i].id);
        if (collapsed && !c->opt.quiet)
            fprintf(stderr, "snapcheck: run reduction: %u counted calls collapsed (not faulted; "
                            "--tier all faults them)\n", collapsed);
        return EXIT_HELD;
    }
    if (!c->opt.quiet) {
        fprintf(stderr, "snapcheck: %u cases (%s tier", c->n_cases,
                c->opt.tier == TIER_ALL ? "all" : c->opt.tier == TIER_FULL ? "full" : "smoke");
        for (unsigned r = 0; r < c->n_runs; r++)
            fprintf(stderr, ", %s: %u calls%s", table[c->runs[r].scenario].name,
                    c->runs[r].n_calls, c->runs[r].clean_run ? " (clean-run finding)" : "");
        if (collapsed)
            fprintf(stderr, "; run reduction: %u calls collapsed (--tier all faults them)",
                    collapsed);
        fprintf(stderr, "), %u workers\n", c->opt.jobs);
        if (c->n_enumerated > c->n_cases || c->deadline > 0)
            fprintf(stderr, "snapcheck: budget: %s %u of %u cases (stratified: %u strata%s)\n",
                    c->deadline > 0 ? "at most" : "sampled", c->n_cases, c->n_enumerated,
                    strata,
                    c->n_cases < strata ? "; fewer cases than strata: not every scenario x "
                                          "fault kind x call is represented"
                                        : "");
    }
    runner_alloc_results(c);
    if (runner_run(c) != 0)
        return setup_error("the runner failed (see above)");
    sample_finish(c);
    double secs = now_s() - t0;
    report_text(stdout, c, secs);
    fflush(stdout);
    int wrote = 0;
    if (c->opt.json_path)
        wrote |= report_json(&json_out, c, secs);
    if (c->opt.junit_path)
        wrote |= report_junit(&junit_out, c, secs);
    if (c->opt.html_path)
        wrote |= report_html(&html_out, c, secs);
    if (wrote != 0)
        return EXIT_SETUP;
    struct report_totals t;
    report_totals(&t, c);
    bool unchecked = false;
    for (unsigned r = 0; r < c->n_runs; r++)
        unchecked |= c->runs[r].unchecked != NULL;
    return t.findings || unchecked ? EXIT_FINDINGS : EXIT_HELD;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "conform"))
        return conform_main(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "fuzz"))
        return conform_fuzz_main(argc - 1, argv + 1);
    /* Buffers of 1 MiB and more (the images every case loads) are mappings of their own,
     * returned on free: kept in the heap instead, they would be copy-on-write after each fork
     * of a step, and each of their pages would fault again in the worker and in the child. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    struct campaign c;
    memset(&c, 0, sizeof c);
    switch (cli_parse(&c.opt, argc, argv)) {
    case CLI_EXIT_OK:
        free(c.opt.scenarios);
        return EXIT_HELD;
    case CLI_EXIT_USAGE:
        free(c.opt.scenarios);
        return EXIT_SETUP;
    case CLI_RUN:
        break;
    }
    c.drv = driver_select(&c.opt);
    impl_init_signals();
    impl_become_subreaper(); /* what an IUT leaves outside its group comes back to us */
    runner_catch_signals();
    int rc = run_campaign(&c);
    serve_stop();
    impl_kill_orphans();
    /* A set-up error (or --list) writes no report: remove what was opened for one. */
    report_out_abandon(&json_out);
    report_out_abandon(&junit_out);
    report_out_abandon(&html_out);
    /* A private tmpfs goes at once with its files; the directory under it is then empty. */
    if (c.workdir_mounted && umount2(c.workdir, MNT_DETACH) == 0)
        rmdir(c.workdir);
    else if (c.workdir[0] && !c.opt.keep_dir)
        path_remove_tree(c.workdir);
    runner_free_results(&c);
    free(c.cases);
    c.drv->finish(&c);
    for (unsigned r = 0; r < c.n_runs; r++)
        scenario_run_finish(&c.runs[r]);
    free(c.runs);
    free(c.opt.scenarios);
    dataset_finish(&c.data);
    impl_finish(&c.impl);
    return rc;
}
