/* The state of one snapcheck campaign, shared by the modules of the tool: options, the IUT,
 * the generated data, the scenarios with their prepared directories, the enumerated cases and
 * their results. */
#ifndef SNAPCHECK_CAMPAIGN_H
#define SNAPCHECK_CAMPAIGN_H

#include "data.h"
#include "dirimage.h"
#include "impl.h"
#include "strbuf.h"

#include <stdbool.h>
#include <stdint.h>

#define SNAPCHECK_VERSION "0.1.0"

/* Exit codes of the tool. */
enum { EXIT_HELD = 0, EXIT_FINDINGS = 1, EXIT_SETUP = 2 };

/* smoke and full fault the first, second, middle, second-to-last and last call of each run of
 * calls (census.h); all faults every call with the actions of full. */
enum tier { TIER_SMOKE, TIER_FULL, TIER_ALL };

/* Fault kinds, the columns of the summary table. FK_CLEAN_RUN: not a fault but the one
 * pseudo-case of a scenario whose clean run failed (oracle clean-run). */
enum fault_kind { FK_ERRNO, FK_SHORT, FK_CRASH_BEFORE, FK_CRASH_AFTER, FK_CLEAN_RUN, FK_COUNT };

enum verdict { V_PASS, V_AMBIGUOUS, V_FINDING };

struct options {
    const char *impl_cmd;
    const char **scenarios; /* n_scenarios names (heap array of argv strings) */
    unsigned n_scenarios;
    const char *case_id;
    enum tier tier;
    unsigned jobs;
    unsigned shard_k, shard_n; /* 1-based K of N; N = 1: no sharding */
    uint64_t seed;
    const char *json_path;
    const char *junit_path;
    bool list;
    const char *keep_dir;
    uint32_t page_size;
    const char *interposer;
    bool quiet;
    bool in_process; /* libsnapref linked in, fork without exec (driver_inproc.c) */
    unsigned max_cases; /* --max-cases: 0 = every case (sample.h) */
    double time_budget; /* --time-budget seconds: 0 = none */
    bool serve;      /* the adapter's fork server (driver_serve.h) */
    const char *lib; /* --lib: a library of include/snapcheck/adapter.h, served by the runner */
    const char *html_path; /* --html FILE */
    /* snapcheck crash (crash.h): the command, --model (bit per enum pt_model; 0: posix),
     * --export-corpus, --budget (states per cut above the exhaustive bound). */
    bool crash;
    unsigned models;
    const char *export_corpus;
    unsigned budget;
    unsigned ram_mib; /* --ram-mib: size of the generated images (default 2) */
};

struct sc_case {
    unsigned scenario;  /* index into scenario_table() */
    unsigned ordinal;   /* counted call number, 1-based (0: the clean-run pseudo-case) */
    const char *call;   /* call name, owned by the scenario's run */
    char action[40];    /* "errno=EIO", "short=half", "crash-before", "crash-after" (the model's) */
    enum fault_kind kind;
    const char *id;     /* "<scenario>/<ordinal>/<call>/<action>", owned by the scenario's run */
    unsigned seq;       /* position in the list before sampling (sample.h) */
};

/* What a case found. The fixed part (done, verdict, oracle, fault_reached) lives in memory
 * shared with the worker processes; the texts are heap strings of the main process, never NULL
 * once the runner returned (runner.c: workers hand them over through per-worker files). */
struct case_result {
    int done;
    enum verdict verdict;
    char oracle[16];  /* the broken oracle for V_FINDING (one of ours: the size fits them all) */
    bool fault_reached;
    bool nondeterministic; /* the calls before the fault differ from the census */
    bool memoized;         /* judged from the worker's memo (scenario.c), not by IUT runs */
    char *detail;     /* one sentence */
    char *step;       /* how the faulted operation ended */
    char *load;       /* what load returned */
    char *left;       /* files a failed save left behind (a report, not a finding) */
    char *trace;      /* counted calls up to the fault, one per line (cut visibly) */
};

/* A scenario prepared for this campaign. */
struct scenario_run {
    unsigned scenario;  /* index into scenario_table() */
    char *template_dir; /* the directory state before the faulted step (heap) */
    int baseline_files; /* files left by the clean step + recovery save in a fresh copy */
    /* The census: counted calls of the clean step, ordinal i+1 at index i. calls[i] is interned
     * in names; paths[i] is relative to the directory ("." for itself), equal neighbours share
     * one string. */
    unsigned n_calls;
    const char **calls;
    const char **paths;
    char **names;
    unsigned n_names;
    unsigned collapsed; /* calls of long runs the tier does not fault (census_enumerate) */
    struct arena text;  /* case ids and other strings of this scenario's cases */
    /* The template's bytes (files of the base pair marked), and what the clean judging runs
     * gave on exactly these bytes: a case that leaves the directory unchanged reuses them. */
    struct dir_image tpl;
    int tpl_recovery_files; /* files after a recovery save on the template */
    /* Oracle clean-run: why the IUT failed a clean run of this scenario (NULL: it did not),
     * how that run ended, what load returned. Its cases are then not run. */
    char *clean_run;
    char *clean_step;
    char *clean_load;
    char *clean_trace; /* the census run's calls when that run failed, else NULL */
    /* The trace-completeness audit (scenario.c audit): NULL when the replayed data trace gives
     * exactly what the clean step left, else the files that differ (scenario UNCHECKED). */
    char *unchecked;
    /* Why the audit was not made (NULL: it was): the replay models a flat directory of
     * regular files, so a tree with subdirectories or symlinks is not audited (a note). */
    char *not_audited;
};

struct driver_ops;

struct campaign {
    struct options opt;
    struct impl impl;
    bool cap_diff, cap_merge;
    char interposer[4096];
    char workdir[4096];  /* root of every file of the campaign (a realpath) */
    bool workdir_mounted; /* workdir is a private tmpfs (private_tmpfs in main.c) */
    char casesdir[4096]; /* case directories (under workdir, or --keep) */
    struct dataset data;
    struct scenario_run *runs; /* n_runs, heap */
    unsigned n_runs;
    struct sc_case *cases;
    unsigned n_cases;
    struct case_result *results; /* n_cases, shared memory while running */
    const struct driver_ops *drv; /* runs the IUT (driver.h) */
    unsigned n_enumerated; /* cases before sampling (> n_cases: "sampled X of Y") */
    double deadline;       /* --time-budget: no case starts after it (monotonic s), 0: none */
};

#endif
