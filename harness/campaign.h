/* The state of one snapcheck campaign, shared by the modules of the tool: options, the IUT,
 * the generated data, the scenarios with their prepared directories, the enumerated cases and
 * their results. */
#ifndef SNAPCHECK_CAMPAIGN_H
#define SNAPCHECK_CAMPAIGN_H

#include "data.h"
#include "dirimage.h"
#include "impl.h"

#include <stdbool.h>
#include <stdint.h>

#define SNAPCHECK_VERSION "0.1.0"

/* Exit codes of the tool. */
enum { EXIT_HELD = 0, EXIT_FINDINGS = 1, EXIT_SETUP = 2 };

enum tier { TIER_SMOKE, TIER_FULL };

/* Fault kinds, the columns of the summary table. */
enum fault_kind { FK_ERRNO, FK_SHORT, FK_CRASH_BEFORE, FK_CRASH_AFTER, FK_COUNT };

enum verdict { V_PASS, V_AMBIGUOUS, V_FINDING };

struct options {
    const char *impl_cmd;
    const char *scenarios[16];
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
    bool in_process; /* libsnapref linked in, fork without exec (inproc.h) */
    /* snapcheck crash (crash.h): the command, --model (bit per enum pt_model; 0: posix),
     * --export-corpus, --budget (states per cut above the exhaustive bound). */
    bool crash;
    unsigned models;
    const char *export_corpus;
    unsigned budget;
    unsigned ram_mib; /* --ram-mib: size of the generated images (default 2) */
};

struct sc_case {
    unsigned scenario; /* index into scenario_table() */
    unsigned ordinal;  /* counted call number, 1-based */
    char call[24];
    char action[40]; /* "errno=EIO", "short=half", "crash-before", "crash-after" */
    enum fault_kind kind;
    char id[128]; /* "<scenario>/<ordinal>/<call>/<action>" */
};

/* What a case found. Fixed-size so an array of them can live in memory shared with the
 * worker processes. */
struct case_result {
    int done;
    enum verdict verdict;
    char oracle[16];  /* the broken oracle for V_FINDING */
    char detail[400]; /* one sentence */
    char step[240];   /* how the faulted operation ended */
    char load[320];   /* what load returned */
    char left[240];   /* files a failed save left behind (a report, not a finding) */
    char trace[2400]; /* counted calls up to the fault, one per line */
    bool fault_reached;
};

/* A scenario prepared for this campaign. */
struct scenario_run {
    unsigned scenario;      /* index into scenario_table() */
    char template_dir[512]; /* the directory state before the faulted step */
    int baseline_files;     /* files left by the clean step + recovery save in a fresh copy */
    unsigned n_calls;       /* counted calls of the clean step (census) */
    char calls[512][24];    /* call name per ordinal (1-based at index ordinal-1) */
    /* The template's bytes (files of the base pair marked), and what the clean judging runs
     * gave on exactly these bytes: a case that leaves the directory unchanged reuses them. */
    struct dir_image tpl;
    int tpl_recovery_files;     /* files after a recovery save on the template */
    /* The trace-completeness audit (crash_audit): "" when the replayed data trace gives
     * exactly what the clean step left, else the files that differ (scenario UNCHECKED). */
    char unchecked[700];
    char tpl_recovery_why[400]; /* "" when that recovery held */
};

struct driver_ops;

struct campaign {
    struct options opt;
    struct impl impl;
    bool cap_diff, cap_merge;
    char interposer[4096];
    char workdir[512];  /* root of every file of the campaign */
    char casesdir[512]; /* case directories (under workdir, or --keep) */
    struct dataset data;
    struct scenario_run runs[8];
    unsigned n_runs;
    struct sc_case *cases;
    unsigned n_cases;
    struct case_result *results; /* n_cases, shared memory while running */
    const struct driver_ops *drv; /* runs the IUT (driver.h) */
};

#endif
