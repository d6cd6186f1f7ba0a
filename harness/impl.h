/* Running the implementation under test (IUT): the --impl command line, one operation of the
 * adapter contract (docs/ADAPTER.md) per call, spawned with posix_spawn, with or without the
 * fault interposer preloaded, and what came out of it (exit status, first stderr line). */
#ifndef SNAPCHECK_IMPL_H
#define SNAPCHECK_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#define IMPL_MAX_ARGS 64

/* The parsed --impl string: argv[0] is the executable, the rest are prefix arguments placed
 * before the operation. Invariant: argc >= 1 once impl_parse succeeded. */
struct impl {
    char *words; /* the split copy the argv entries point into */
    char *argv[IMPL_MAX_ARGS];
    int argc;
    char **base_env;    /* environ without LD_PRELOAD and SNAPFAULT_* (NULL-terminated) */
    char *user_preload; /* the caller's LD_PRELOAD, kept after the interposer; may be NULL */
    unsigned timeout_s; /* a run taking longer is killed and reported as a time-out */
};

enum impl_end { IMPL_EXITED, IMPL_KILLED, IMPL_SIGNALED, IMPL_TIMEOUT, IMPL_SPAWN_FAILED };

struct impl_result {
    enum impl_end end;
    int code;          /* exit code (IMPL_EXITED) or signal number (IMPL_KILLED/SIGNALED) */
    char stderr1[200]; /* first line the IUT wrote on stderr, "" if none */
};

/* Faults for one run. Every field may be NULL (then that variable is not set). */
struct impl_faults {
    const char *interposer; /* LD_PRELOAD path; NULL = run without interposer */
    const char *dir;        /* SNAPFAULT_DIR */
    const char *trace;      /* SNAPFAULT_TRACE */
    const char *fault_case; /* SNAPFAULT_CASE */
    const char *trace_data; /* SNAPFAULT_TRACE_DATA (written bytes, for snapcheck crash) */
};

/* Split cmd on whitespace into out (heap; release with impl_finish).
 * @return 0, or -1 with a message in err (empty command, too many words). */
int impl_parse(struct impl *out, const char *cmd, char *err, size_t err_cap);
void impl_finish(struct impl *im); /* NULL accepted */

/* true when the executable exists and may be executed (searched in PATH when it has no '/'). */
bool impl_executable(const struct impl *im);

/* Run `IMPL <prefix...> <op_args...>` with stdout to stdout_path (or /dev/null when NULL) and
 * stderr to stderr_path (or /dev/null), faults from f (NULL: none). Blocks until it ends.
 * The caller must have SIGCHLD blocked (impl_init_signals) so the time-out can wait for it. */
void impl_run(struct impl_result *out, const struct impl *im, const char *const *op_args,
              const struct impl_faults *f, const char *stdout_path, const char *stderr_path);

/* Block SIGCHLD in the calling process (needed by impl_run's time-out). */
void impl_init_signals(void);

/* Human text of a result: "exit 0", "exit 1 (snapref: ...)", "killed by SIGKILL". */
void impl_result_text(char *dst, size_t dst_cap, const struct impl_result *r);

#endif
