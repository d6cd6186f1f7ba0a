/* Command-line parsing of snapcheck (see cli.h). Every bad flag or value is named in a message
 * and gives exit 2 (usage error). */
#include "cli.h"
#include "crash.h"
#include "scenario.h"
#include "util.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void cli_usage(FILE *f)
{
    fputs("usage: snapcheck <command> [options]\n"
          "       snapcheck --help | --version\n\n"
          "snapcheck proves VM snapshot save/load code crash-consistent.\n\n"
          "commands:\n"
          "  faults   inject file-call faults and crashes into an implementation under test\n"
          "           and check the prior-pair oracles (snapcheck faults --help)\n"
          "  conform  check an implementation against docs/FORMAT.md and docs/ADAPTER.md:\n"
          "           golden vectors, interoperability, corruption probing; one verdict per\n"
          "           requirement (snapcheck conform --help)\n"
          "  fuzz     mutate snapshot directories and load each with the IUT (--impl) or an\n"
          "           adapter library in process under libFuzzer (--lib), and the reference:\n"
          "           crashes, hangs, disagreements (snapcheck fuzz --help)\n"
          "  crash    explore the states a power cut leaves under persistence models and\n"
          "           check prior-pair and durable (snapcheck crash --help)\n\n"
          "exit status: 0 every oracle held, 1 findings, 2 usage or set-up error\n",
          f);
}

void cli_faults_usage(FILE *f)
{
    unsigned n;
    const struct scenario *t = scenario_table(&n);
    fputs("usage: snapcheck faults --impl CMD [options]\n"
          "       snapcheck faults --lib PATH [options]\n\n"
          "Runs CMD (an adapter: docs/ADAPTER.md) once per case under the libsnapfault\n"
          "interposer, failing one counted file call (or crashing before/after it) per case,\n"
          "then judges with clean loads: clean-run, prior-pair, committed, clean-load,\n"
          "clean-exit, recovery, leftovers, determinism (docs/HARNESS.md).\n\n"
          "options:\n"
          "  --impl CMD          IUT command line, split on whitespace (required)\n"
          "  --scenario NAME     run only this scenario (repeatable)\n"
          "  --case ID           run only this case, e.g. full-over-full/9/rename/crash-before\n"
          "  --tier T            smoke (default): one errno, short=half, crashes; full: every\n"
          "                      errno of each call, all short lengths, both crashes; both\n"
          "                      fault 5 calls of each run of like calls (docs/HARNESS.md);\n"
          "                      all: every call of every run, with the actions of full\n"
          "  --max-cases N       run a deterministic stratified sample of N cases\n"
          "  --time-budget S     run cases in stratified order until S seconds have passed\n"
          "  -j N                N parallel workers (default 1)\n"
          "  --shard K/N         run every Nth case starting at the Kth (1-based)\n"
          "  --seed N            seed of the generated states and memory (default 1)\n"
          "  --json FILE         write a JSON report\n"
          "  --junit FILE        write a JUnit XML report (one testcase per case)\n"
          "  --html FILE         write a self-contained HTML page: verdict, fault matrix per\n"
          "                      scenario (click a cell for its cases), findings\n"
          "  --list              print the case ids and exit\n"
          "  --keep DIR          keep every case directory under DIR\n"
          "  --page-size N       page size given to the IUT (default 4096)\n"
          "  --interposer PATH   libsnapfault.so (else $SNAPCHECK_INTERPOSER, the build path,\n"
          "                      or next to the snapcheck executable)\n"
          "  --ram-mib N         size of the generated guest images in MiB (default 2)\n"
          "  --in-process        reference only: run libsnapref linked into snapcheck in a\n"
          "                      forked child per case instead of exec'ing --impl (faster;\n"
          "                      same case ids, checked against the interposer's census)\n"
          "  --serve             run the adapter once as `CMD serve`, a fork server that runs\n"
          "                      each operation in a forked child (docs/ADAPTER.md 9)\n"
          "  --lib 'PATH [ARG...]'  a C-ABI adapter library (snapcheck/adapter.h) instead of\n"
          "                      --impl, run by snapcheck-lib-runner as a fork server\n"
          "  -q                  no progress line\n\n"
          "scenarios:\n",
          f);
    for (unsigned i = 0; i < n; i++)
        fprintf(f, "  %-15s %s\n", t[i].name, t[i].summary);
    fputs("\nexit status: 0 every oracle held, 1 findings, 2 usage or set-up error\n", f);
}

static enum cli_action bad(const char *fmt, const char *arg)
{
    fputs("snapcheck faults: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\n(see snapcheck faults --help)\n", stderr);
    return CLI_EXIT_USAGE;
}

enum cli_action cli_parse(struct options *out, int argc, char **argv)
{
    memset(out, 0, sizeof *out);
    out->tier = TIER_SMOKE;
    out->jobs = 1;
    out->shard_k = 1;
    out->shard_n = 1;
    out->seed = 1;
    out->page_size = 4096;
    if (argc < 2) {
        cli_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        cli_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("snapcheck %s\n", SNAPCHECK_VERSION);
        return CLI_EXIT_OK;
    }
    out->crash = !strcmp(argv[1], "crash");
    if (strcmp(argv[1], "faults") != 0 && !out->crash) {
        fprintf(stderr,
                "snapcheck: unknown command '%s' (the commands are faults, crash, conform and "
                "fuzz)\n",
                argv[1]);
        cli_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        uint64_t n;
        int copt;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            if (out->crash)
                crash_usage(stdout);
            else
                cli_faults_usage(stdout);
            return CLI_EXIT_OK;
        } else if (v && (copt = crash_option(out, a, v)) != 0) {
            if (copt < 0)
                return CLI_EXIT_USAGE;
        } else if (!strcmp(a, "--list")) {
            out->list = true;
            takes = false;
        } else if (!strcmp(a, "--in-process")) {
            out->in_process = true;
            takes = false;
        } else if (!strcmp(a, "--serve")) {
            out->serve = true;
            takes = false;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            out->quiet = true;
            takes = false;
        } else if (!v) {
            return bad("option %s needs a value", a);
        } else if (!strcmp(a, "--impl")) {
            out->impl_cmd = v;
        } else if (!strcmp(a, "--lib")) {
            out->lib = v;
        } else if (!strcmp(a, "--scenario")) {
            if (scenario_find(v) < 0)
                return bad("unknown scenario '%s'", v);
            const char **grown =
                realloc(out->scenarios, (out->n_scenarios + 1) * sizeof *out->scenarios);
            if (!grown)
                return bad("out of memory at --scenario %s", v);
            out->scenarios = grown;
            out->scenarios[out->n_scenarios++] = v;
        } else if (!strcmp(a, "--case")) {
            out->case_id = v;
        } else if (!strcmp(a, "--tier")) {
            if (!strcmp(v, "smoke"))
                out->tier = TIER_SMOKE;
            else if (!strcmp(v, "full"))
                out->tier = TIER_FULL;
            else if (!strcmp(v, "all"))
                out->tier = TIER_ALL;
            else
                return bad("--tier must be smoke, full or all, not '%s'", v);
        } else if (!strcmp(a, "-j") || !strcmp(a, "--jobs")) {
            if (parse_uint(&n, v, 1, 256) != 0)
                return bad("-j needs a number of workers from 1 to 256, not '%s'", v);
            out->jobs = (unsigned)n;
        } else if (!strcmp(a, "--shard")) {
            /* Both numbers strictly decimal (sscanf's %u would take "-1" as 4294967295). */
            uint64_t k, nn;
            const char *slash = strchr(v, '/');
            char kbuf[24];
            if (!slash || (size_t)(slash - v) >= sizeof kbuf)
                return bad("--shard must be K/N with 1 <= K <= N, not '%s'", v);
            memcpy(kbuf, v, (size_t)(slash - v));
            kbuf[slash - v] = 0;
            if (parse_uint(&nn, slash + 1, 1, 1000000) != 0 || parse_uint(&k, kbuf, 1, nn) != 0)
                return bad("--shard must be K/N with 1 <= K <= N <= 1000000, not '%s'", v);
            out->shard_k = (unsigned)k;
            out->shard_n = (unsigned)nn;
        } else if (!strcmp(a, "--seed")) {
            if (parse_uint(&n, v, 0, UINT64_MAX) != 0)
                return bad("--seed needs a decimal number from 0 to 18446744073709551615, "
                           "not '%s'",
                           v);
            out->seed = n;
        } else if (!strcmp(a, "--json")) {
            out->json_path = v;
        } else if (!strcmp(a, "--junit")) {
            out->junit_path = v;
        } else if (!strcmp(a, "--html")) {
            out->html_path = v;
        } else if (!strcmp(a, "--keep")) {
            out->keep_dir = v;
        } else if (!strcmp(a, "--page-size")) {
            if (parse_uint(&n, v, 512, 1u << 20) != 0 || (n & (n - 1)))
                return bad("--page-size must be a power of two from 512 to 1048576, not '%s'", v);
            out->page_size = (uint32_t)n;
        } else if (!strcmp(a, "--max-cases")) {
            if (parse_uint(&n, v, 1, UINT32_MAX) != 0)
                return bad("--max-cases needs a number of cases from 1 to 4294967295, not '%s'", v);
            out->max_cases = (unsigned)n;
        } else if (!strcmp(a, "--time-budget")) {
            if (parse_uint(&n, v, 1, 31u * 24 * 3600) != 0)
                return bad("--time-budget needs whole seconds from 1 to 2678400, not '%s'", v);
            out->time_budget = (double)n;
        } else if (!strcmp(a, "--interposer")) {
            out->interposer = v;
        } else {
            return bad("unknown option '%s'", a);
        }
        if (takes)
            i++;
    }
    if (out->lib && (out->impl_cmd || out->in_process))
        return bad("%s", "--lib replaces --impl (and --in-process): give one of them");
    if (!out->impl_cmd && !out->lib)
        return bad("%s", "--impl CMD (or --lib PATH) is required (the implementation under test)");
    return CLI_RUN;
}
