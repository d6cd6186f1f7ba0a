/* Running the implementation under test (IUT): the --impl command line, one operation of the
 * adapter contract (docs/ADAPTER.md) per call, spawned with posix_spawn (or handed to the
 * adapter's fork server, driver_serve.h), with or without the fault interposer, and what came
 * out of it (exit status, first stderr line). Every IUT runs in a process group of its own,
 * which is killed when the run ends, times out, or snapcheck is interrupted. */
#ifndef SNAPCHECK_IMPL_H
#define SNAPCHECK_IMPL_H

#include <stdbool.h>
#include <spawn.h>
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
    /* Fork-server mode (--serve, --lib): operations go to one long-running `IMPL serve` per
     * process (driver_serve.h), started with serve_interposer preloaded. */
    bool serve;
    const char *serve_interposer;
    const char *serve_log; /* the server's own stderr (appended); NULL: /dev/null */
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

/* Split cmd on whitespace into out (heap; release with impl_finish). The time-out of a run is
 * $SNAPCHECK_TIMEOUT seconds (1 to 86400), else 60.
 * @return 0, or -1 with a message in err (empty command, too many words, bad time-out). */
int impl_parse(struct impl *out, const char *cmd, char *err, size_t err_cap);
void impl_finish(struct impl *im); /* NULL accepted */

/* true when the executable exists and may be executed (searched in PATH when it has no '/'). */
bool impl_executable(const struct impl *im);

/* Run `IMPL <prefix...> <op_args...>` with stdout to stdout_path (or /dev/null when NULL) and
 * stderr to stderr_path (or /dev/null), faults from f (NULL: none). Blocks until it ends.
 * In serve mode the operation goes to the fork server; else it is exec'd (impl_exec).
 * The caller must have SIGCHLD blocked (impl_init_signals) so the time-out can wait for it.
 * After impl_stop (a signal), it runs nothing and reports IMPL_SPAWN_FAILED "interrupted". */
void impl_run(struct impl_result *out, const struct impl *im, const char *const *op_args,
              const struct impl_faults *f, const char *stdout_path, const char *stderr_path);

/* impl_run, always by exec, whatever the mode (the census cross-check of serve mode). */
void impl_exec(struct impl_result *out, const struct impl *im, const char *const *op_args,
               const struct impl_faults *f, const char *stdout_path, const char *stderr_path);

/* Block SIGCHLD in the calling process (needed by impl_run's time-out). */
void impl_init_signals(void);

/* The environment of an IUT process: im->base_env plus LD_PRELOAD (interposer, then the
 * user's) and the SNAPFAULT_* of f. Free with impl_env_free. */
char **impl_env(const struct impl *im, const char *interposer, const struct impl_faults *f);
void impl_env_free(char **envp, const struct impl *im);

/* Process groups of the IUT runs of this process: slot 0 a one-shot run, slot 1 the fork
 * server (0 = none). impl_stop SIGKILLs every tracked group and makes later impl_runs refuse;
 * it is async-signal-safe, for SIGINT/SIGTERM handlers. impl_stopped: the signal, or 0. */
enum { IMPL_GROUP_RUN, IMPL_GROUP_SERVER, IMPL_GROUP_COUNT };
void impl_track_group(int slot, int pgid);
void impl_stop(int sig);
int impl_stopped(void);

/* Make this process the subreaper of everything it starts (PR_SET_CHILD_SUBREAPER): a process
 * an IUT leaves behind outside its group (setsid, a double fork) is then adopted by snapcheck
 * instead of init, and impl_kill_orphans ends it. Call once, in the main process. */
void impl_become_subreaper(void);

/* SIGKILL and reap every child this process still has (besides pids it is about to wait for,
 * there should be none: what is left are adopted orphans), and theirs, until none is left.
 * Uses /proc/self/task/<tid>/children; without it, does nothing. */
void impl_kill_orphans(void);

/* Wait for pid (a group leader), at most timeout_s seconds, or until impl_stop: then, and
 * when it has ended, SIGKILL its group (nothing it started outlives it) and reap it.
 * @return the wait status, -1 on error; *timed_out / *stopped say why it was killed. */
int impl_wait_group(int pid, unsigned timeout_s, bool *timed_out, bool *stopped);

/* Fill out from a wait status (and the flags of impl_wait_group). */
void impl_result_status(struct impl_result *out, int status, bool timed_out, bool stopped);

/* Human text of a result: "exit 0", "exit 1 (snapref: ...)", "killed by SIGKILL". */
void impl_result_text(char *dst, size_t dst_cap, const struct impl_result *r);

/* Spawn attributes of every IUT process: signal mask empty, SIGCHLD/SIGPIPE/SIGINT/SIGTERM at
 * their defaults, a process group of its own (killed as a whole, out of the terminal's reach). */
void impl_spawn_attr(posix_spawnattr_t *attr);

/* posix_spawn (argv[0] with a '/') or posix_spawnp (searched in PATH). @return its result. */
int impl_spawn(pid_t *out, char *const *argv, const posix_spawn_file_actions_t *fa,
               const posix_spawnattr_t *attr, char *const *envp);

#endif
