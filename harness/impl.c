/* The IUT runner (see impl.h). Method: each operation is one posix_spawn (vfork-like in glibc),
 * with an environment built from a copy of environ taken once; the child's end is awaited with
 * sigtimedwait on SIGCHLD so a hung IUT is killed after timeout_s instead of stalling a worker. */
#include "impl.h"
#include "driver_serve.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int impl_parse(struct impl *out, const char *cmd, char *err, size_t err_cap)
{
    memset(out, 0, sizeof *out);
    out->timeout_s = 60;
    const char *t = getenv("SNAPCHECK_TIMEOUT");
    if (t && *t) {
        uint64_t v;
        if (parse_uint(&v, t, 1, 86400) != 0) {
            snprintf(err, err_cap,
                     "SNAPCHECK_TIMEOUT='%s': must be a number of seconds from 1 to 86400", t);
            return -1;
        }
        out->timeout_s = (unsigned)v;
    }
    out->words = xstrdup(cmd);
    char *save = NULL;
    for (char *w = strtok_r(out->words, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
        if (out->argc >= IMPL_MAX_ARGS - 16) {
            snprintf(err, err_cap, "--impl has more than %d words", IMPL_MAX_ARGS - 16);
            impl_finish(out);
            return -1;
        }
        out->argv[out->argc++] = w;
    }
    if (out->argc == 0) {
        snprintf(err, err_cap, "--impl is empty: give the IUT's executable");
        impl_finish(out);
        return -1;
    }
    size_t n = 0;
    while (environ && environ[n])
        n++;
    out->base_env = xcalloc(n + 1, sizeof *out->base_env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!strncmp(environ[i], "SNAPFAULT_", 10))
            continue;
        if (!strncmp(environ[i], "LD_PRELOAD=", 11)) {
            if (environ[i][11])
                out->user_preload = xstrdup(environ[i] + 11);
            continue;
        }
        out->base_env[k++] = xstrdup(environ[i]);
    }
    out->base_env[k] = NULL;
    return 0;
}

void impl_finish(struct impl *im)
{
    if (!im)
        return;
    if (im->base_env) {
        for (size_t i = 0; im->base_env[i]; i++)
            free(im->base_env[i]);
        free(im->base_env);
    }
    free(im->user_preload);
    free(im->words);
    memset(im, 0, sizeof *im);
}

bool impl_executable(const struct impl *im)
{
    const char *exe = im->argv[0];
    if (strchr(exe, '/'))
        return access(exe, X_OK) == 0;
    const char *path = getenv("PATH");
    if (!path)
        return false;
    char *copy = xstrdup(path), *save = NULL;
    bool ok = false;
    for (char *d = strtok_r(copy, ":", &save); d && !ok; d = strtok_r(NULL, ":", &save)) {
        char full[4096];
        if (fmt_path(full, sizeof full, "%s/%s", d, exe) == 0 && access(full, X_OK) == 0)
            ok = true;
    }
    free(copy);
    return ok;
}

void impl_init_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
}

static volatile sig_atomic_t stop_sig;
static volatile pid_t groups[IMPL_GROUP_COUNT];

void impl_track_group(int slot, int pgid)
{
    groups[slot] = (pid_t)pgid;
}

void impl_stop(int sig)
{
    stop_sig = sig;
    for (int i = 0; i < IMPL_GROUP_COUNT; i++)
        if (groups[i] > 0)
            kill(-groups[i], SIGKILL);
}

int impl_stopped(void)
{
    return (int)stop_sig;
}

int impl_wait_group(int pid, unsigned timeout_s, bool *timed_out, bool *stopped)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_s;
    *timed_out = *stopped = false;
    for (;;) {
        /* WNOWAIT: the ended child stays a zombie, so its pid (the group id) cannot be reused
         * before the group is killed. */
        if (stop_sig) {
            *stopped = true;
            break;
        }
        siginfo_t info;
        memset(&info, 0, sizeof info);
        int r = waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT);
        if (r < 0 && errno != EINTR)
            return -1;
        if (r == 0 && info.si_pid == pid)
            break;
        struct timespec now, left;
        clock_gettime(CLOCK_MONOTONIC, &now);
        left.tv_sec = deadline.tv_sec - now.tv_sec;
        left.tv_nsec = deadline.tv_nsec - now.tv_nsec;
        if (left.tv_nsec < 0) {
            left.tv_nsec += 1000000000L;
            left.tv_sec--;
        }
        if (left.tv_sec < 0) {
            *timed_out = true;
            break;
        }
        /* A signal handler (SIGINT, SIGTERM) interrupts this wait as SIGCHLD ends it. */
        sigtimedwait(&set, NULL, &left);
    }
    kill(-pid, SIGKILL);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return status;
}

void impl_become_subreaper(void)
{
    prctl(PR_SET_CHILD_SUBREAPER, 1);
}

void impl_kill_orphans(void)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%ld/children", (long)getpid());
    for (int round = 0; round < 64; round++) {
        FILE *f = fopen(path, "r");
        if (!f)
            return;
        pid_t pids[256];
        int n = 0;
        long pid;
        while (n < 256 && fscanf(f, "%ld", &pid) == 1)
            pids[n++] = (pid_t)pid;
        fclose(f);
        if (n == 0)
            return;
        for (int i = 0; i < n; i++)
            kill(pids[i], SIGKILL);
        for (int i = 0; i < n; i++)
            while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
                ;
    }
}

void impl_result_status(struct impl_result *out, int status, bool timed_out, bool stopped)
{
    if (stopped) {
        out->end = IMPL_SPAWN_FAILED;
        out->code = EINTR;
        snprintf(out->stderr1, sizeof out->stderr1, "interrupted by signal %d", impl_stopped());
    } else if (timed_out) {
        out->end = IMPL_TIMEOUT;
        out->code = SIGKILL;
    } else if (status == -1) {
        out->end = IMPL_SPAWN_FAILED;
        out->code = errno;
        snprintf(out->stderr1, sizeof out->stderr1, "waiting for the IUT: %s", strerror(errno));
    } else if (WIFEXITED(status)) {
        out->end = IMPL_EXITED;
        out->code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        out->end = WTERMSIG(status) == SIGKILL ? IMPL_KILLED : IMPL_SIGNALED;
        out->code = WTERMSIG(status);
    } else {
        out->end = IMPL_SIGNALED;
        out->code = 0;
    }
}

enum { ENV_EXTRA = 8 };

char **impl_env(const struct impl *im, const char *interposer, const struct impl_faults *f)
{
    size_t nbase = 0;
    while (im->base_env[nbase])
        nbase++;
    char **envp = xcalloc(nbase + ENV_EXTRA + 1, sizeof *envp);
    size_t k = 0;
    for (size_t i = 0; i < nbase; i++)
        envp[k++] = im->base_env[i];
    if (interposer)
        envp[k++] = im->user_preload
                        ? xasprintf("LD_PRELOAD=%s %s", interposer, im->user_preload)
                        : xasprintf("LD_PRELOAD=%s", interposer);
    else if (im->user_preload)
        envp[k++] = xasprintf("LD_PRELOAD=%s", im->user_preload);
    if (f && f->dir)
        envp[k++] = xasprintf("SNAPFAULT_DIR=%s", f->dir);
    if (f && f->trace)
        envp[k++] = xasprintf("SNAPFAULT_TRACE=%s", f->trace);
    if (f && f->fault_case)
        envp[k++] = xasprintf("SNAPFAULT_CASE=%s", f->fault_case);
    if (f && f->trace_data)
        envp[k++] = xasprintf("SNAPFAULT_TRACE_DATA=%s", f->trace_data);
    envp[k] = NULL;
    return envp;
}

void impl_env_free(char **envp, const struct impl *im)
{
    if (!envp)
        return;
    size_t nbase = 0;
    while (im->base_env[nbase])
        nbase++;
    for (size_t i = nbase; envp[i]; i++)
        free(envp[i]);
    free(envp);
}

void impl_spawn_attr(posix_spawnattr_t *attr)
{
    sigset_t none, def;
    sigemptyset(&none);
    sigemptyset(&def);
    sigaddset(&def, SIGCHLD);
    sigaddset(&def, SIGPIPE);
    sigaddset(&def, SIGINT);
    sigaddset(&def, SIGTERM);
    posix_spawnattr_setsigmask(attr, &none);
    posix_spawnattr_setsigdefault(attr, &def);
    /* A process group of its own: killed as a whole, and out of the terminal's reach (Ctrl-C
     * goes to snapcheck, which stops it). */
    posix_spawnattr_setpgroup(attr, 0);
    posix_spawnattr_setflags(attr,
                             POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
}

int impl_spawn(pid_t *out, char *const *argv, const posix_spawn_file_actions_t *fa,
               const posix_spawnattr_t *attr, char *const *envp)
{
    return strchr(argv[0], '/') ? posix_spawn(out, argv[0], fa, attr, argv, envp)
                                : posix_spawnp(out, argv[0], fa, attr, argv, envp);
}

void impl_run(struct impl_result *out, const struct impl *im, const char *const *op_args,
              const struct impl_faults *f, const char *stdout_path, const char *stderr_path)
{
    if (im->serve)
        serve_run(out, im, op_args, f, stdout_path, stderr_path);
    else
        impl_exec(out, im, op_args, f, stdout_path, stderr_path);
}

void impl_exec(struct impl_result *out, const struct impl *im, const char *const *op_args,
               const struct impl_faults *f, const char *stdout_path, const char *stderr_path)
{
    memset(out, 0, sizeof *out);
    if (stop_sig) {
        impl_result_status(out, 0, false, true);
        return;
    }
    char *argv[IMPL_MAX_ARGS];
    int argc = 0;
    for (int i = 0; i < im->argc; i++)
        argv[argc++] = im->argv[i];
    for (int i = 0; op_args[i] && argc < IMPL_MAX_ARGS - 1; i++)
        argv[argc++] = (char *)op_args[i];
    argv[argc] = NULL;
    char **envp = impl_env(im, f ? f->interposer : NULL, f);

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, stdout_path ? stdout_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, stderr_path ? stderr_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    impl_spawn_attr(&attr);
    pid_t pid;
    int rc = impl_spawn(&pid, argv, &fa, &attr, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    impl_env_free(envp, im);
    if (rc != 0) {
        out->end = IMPL_SPAWN_FAILED;
        out->code = rc;
        snprintf(out->stderr1, sizeof out->stderr1, "cannot run %s: %s", argv[0], strerror(rc));
        return;
    }
    impl_track_group(IMPL_GROUP_RUN, pid);
    if (stop_sig) /* the signal came between the check above and the tracking */
        kill(-pid, SIGKILL);
    bool timed_out, stopped;
    int status = impl_wait_group(pid, im->timeout_s, &timed_out, &stopped);
    impl_track_group(IMPL_GROUP_RUN, 0);
    if (stderr_path)
        file_first_line(out->stderr1, sizeof out->stderr1, stderr_path);
    impl_result_status(out, status, timed_out, stopped);
}

void impl_result_text(char *dst, size_t dst_cap, const struct impl_result *r)
{
    switch (r->end) {
    case IMPL_EXITED:
        if (r->stderr1[0])
            snprintf(dst, dst_cap, "exit %d, stderr: %s", r->code, r->stderr1);
        else
            snprintf(dst, dst_cap, "exit %d, stderr empty", r->code);
        break;
    case IMPL_KILLED:
        snprintf(dst, dst_cap, "killed by SIGKILL (simulated crash)");
        break;
    case IMPL_SIGNALED:
        snprintf(dst, dst_cap, "died of signal %d (%s)", r->code, strsignal(r->code));
        break;
    case IMPL_TIMEOUT:
        snprintf(dst, dst_cap, "timed out, killed");
        break;
    case IMPL_SPAWN_FAILED:
        snprintf(dst, dst_cap, "%s", r->stderr1);
        break;
    }
}
