/* The fork-server driver (see driver_serve.h).
 * Method: one AF_UNIX stream socket is the server's stdin and stdout. A request is one line of
 * TAB-separated fields: stdout path, stderr path ("-": /dev/null), NAME=VALUE settings for the
 * child's environment (SNAPFAULT_*), "--", then the operation and its arguments exactly as on
 * the command line; the reply is "exit N" or "signal N". The server is a process group of its
 * own (tracked by impl.c): a time-out or an interrupt kills the server with the child it is
 * waiting for, and the next operation starts a new server. */
#include "driver_serve.h"
#include "census.h"
#include "driver.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct server {
    pid_t pid;   /* 0: none */
    pid_t owner; /* the process that started it */
    int fd;      /* our end of the socket */
    char buf[512];
    size_t len; /* bytes of buf not yet consumed */
};

static struct server srv = {.fd = -1};

static void server_reap(void)
{
    if (srv.fd >= 0)
        close(srv.fd);
    srv.fd = -1;
    if (srv.pid > 0) {
        kill(-srv.pid, SIGKILL);
        while (waitpid(srv.pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    impl_track_group(IMPL_GROUP_SERVER, 0);
    srv.pid = 0;
    srv.len = 0;
}

void serve_stop(void)
{
    if (srv.pid > 0 && srv.owner == getpid())
        server_reap();
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum read_end { READ_LINE, READ_EOF, READ_TIMEOUT, READ_STOPPED, READ_ERROR };

/* Read one line (without its newline) into dst, at most timeout_s seconds. */
static enum read_end read_line(char *dst, size_t dst_cap, unsigned timeout_s)
{
    double deadline = now_s() + timeout_s;
    for (;;) {
        char *nl = memchr(srv.buf, '\n', srv.len);
        if (nl) {
            size_t n = (size_t)(nl - srv.buf);
            snprintf(dst, dst_cap, "%.*s", (int)n, srv.buf);
            memmove(srv.buf, nl + 1, srv.len - n - 1);
            srv.len -= n + 1;
            return READ_LINE;
        }
        if (srv.len == sizeof srv.buf) /* no reply is this long */
            return READ_ERROR;
        if (impl_stopped())
            return READ_STOPPED;
        double left = deadline - now_s();
        if (left <= 0)
            return READ_TIMEOUT;
        struct pollfd p = {.fd = srv.fd, .events = POLLIN};
        int r = poll(&p, 1, left > 1000 ? 1000000 : (int)(left * 1000) + 1);
        if (r < 0 && errno != EINTR)
            return READ_ERROR;
        if (r <= 0)
            continue;
        ssize_t n = read(srv.fd, srv.buf + srv.len, sizeof srv.buf - srv.len);
        if (n < 0 && errno != EINTR && errno != EAGAIN)
            return READ_ERROR;
        if (n == 0)
            return READ_EOF;
        if (n > 0)
            srv.len += (size_t)n;
    }
}

static int send_all(const char *src, size_t len)
{
    while (len > 0) {
        ssize_t n = send(srv.fd, src, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        src += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The last line of the servers' log (every server of the campaign appends to it, so the last
 * line is the latest word), for messages ("" if none). */
static void log_line(char *dst, size_t dst_cap, const struct impl *im)
{
    dst[0] = 0;
    if (!im->serve_log)
        return;
    int fd = open(im->serve_log, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[2048];
    off_t end = lseek(fd, 0, SEEK_END);
    off_t from = end > (off_t)sizeof buf - 1 ? end - (off_t)sizeof buf + 1 : 0;
    ssize_t n = pread(fd, buf, sizeof buf - 1, from);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = 0;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = 0;
    char *last = strrchr(buf, '\n');
    str_append(dst, dst_cap, last ? last + 1 : buf);
}

static int server_start(const struct impl *im, char *err, size_t err_cap)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(err, err_cap, "socketpair: %s", strerror(errno));
        return -1;
    }
    char *argv[IMPL_MAX_ARGS];
    int argc = 0;
    for (int i = 0; i < im->argc; i++)
        argv[argc++] = im->argv[i];
    argv[argc++] = "serve";
    argv[argc] = NULL;
    char **envp = impl_env(im, im->serve_interposer, NULL);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
    if (im->serve_log)
        posix_spawn_file_actions_addopen(&fa, 2, im->serve_log, O_WRONLY | O_CREAT | O_APPEND,
                                         0644);
    else
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    impl_spawn_attr(&attr); /* its own process group, default signals */
    pid_t pid;
    int rc = impl_spawn(&pid, argv, &fa, &attr, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    impl_env_free(envp, im);
    close(sv[1]);
    if (rc != 0) {
        close(sv[0]);
        snprintf(err, err_cap, "cannot run %s: %s", argv[0], strerror(rc));
        return -1;
    }
    srv.pid = pid;
    srv.owner = getpid();
    srv.fd = sv[0];
    srv.len = 0;
    impl_track_group(IMPL_GROUP_SERVER, pid);
    char line[200], want[64];
    snprintf(want, sizeof want, "snapcheck-serve %d", SERVE_PROTOCOL);
    enum read_end e = read_line(line, sizeof line, im->timeout_s);
    if (e == READ_LINE && !strcmp(line, want))
        return 0;
    server_reap();
    char log[200];
    log_line(log, sizeof log, im);
    if (e == READ_LINE)
        snprintf(err, err_cap, "`%s serve` answered '%.60s', not '%s' (docs/ADAPTER.md 9)",
                 im->argv[0], line, want);
    else
        snprintf(err, err_cap, "`serve` %s before its first line (docs/ADAPTER.md 9)%s%s",
                 e == READ_TIMEOUT   ? "timed out"
                 : e == READ_STOPPED ? "was interrupted"
                                     : "ended",
                 log[0] ? ": " : "", log);
    return -1;
}

/* Append one field; fields may hold neither TAB nor newline. */
static int put_field(char **line, size_t *len, size_t *cap, const char *field)
{
    if (strpbrk(field, "\t\n"))
        return -1;
    size_t n = strlen(field);
    if (*len + n + 2 > *cap) {
        *cap = (*len + n + 2) * 2;
        char *grown = realloc(*line, *cap);
        if (!grown) {
            fputs("snapcheck: out of memory\n", stderr);
            abort();
        }
        *line = grown;
    }
    if (*len)
        (*line)[(*len)++] = '\t';
    memcpy(*line + *len, field, n);
    *len += n;
    (*line)[*len] = 0;
    return 0;
}

static char *request_line(const char *const *op_args, const struct impl_faults *f,
                          const char *stdout_path, const char *stderr_path)
{
    char *line = NULL;
    size_t len = 0, cap = 0;
    enum { N_SET = 4 };
    char *set[N_SET] = {0};
    if (f && f->dir)
        set[0] = xasprintf("SNAPFAULT_DIR=%s", f->dir);
    if (f && f->trace)
        set[1] = xasprintf("SNAPFAULT_TRACE=%s", f->trace);
    if (f && f->fault_case)
        set[2] = xasprintf("SNAPFAULT_CASE=%s", f->fault_case);
    if (f && f->trace_data)
        set[3] = xasprintf("SNAPFAULT_TRACE_DATA=%s", f->trace_data);
    int bad = put_field(&line, &len, &cap, stdout_path ? stdout_path : "-");
    bad |= put_field(&line, &len, &cap, stderr_path ? stderr_path : "-");
    for (int i = 0; i < N_SET; i++)
        if (set[i])
            bad |= put_field(&line, &len, &cap, set[i]);
    bad |= put_field(&line, &len, &cap, "--");
    for (int i = 0; op_args[i]; i++)
        bad |= put_field(&line, &len, &cap, op_args[i]);
    for (int i = 0; i < N_SET; i++)
        free(set[i]);
    if (bad) {
        free(line);
        return NULL;
    }
    line[len++] = '\n';
    line[len] = 0;
    return line;
}

/* One operation through the server; *retry set when the server was gone before it took the
 * request (worth one new server). */
static void serve_once(struct impl_result *out, const struct impl *im, const char *line,
                       bool *retry)
{
    *retry = false;
    char err[400];
    if (srv.pid > 0 && srv.owner != getpid()) {
        /* inherited from the process that forked us: its server, not ours */
        if (srv.fd >= 0)
            close(srv.fd);
        srv.fd = -1;
        srv.pid = 0;
        srv.len = 0;
        impl_track_group(IMPL_GROUP_SERVER, 0);
    }
    if (srv.pid == 0 && server_start(im, err, sizeof err) != 0) {
        out->end = IMPL_SPAWN_FAILED;
        out->code = 0;
        out->stderr1[0] = 0;
        str_append(out->stderr1, sizeof out->stderr1, err);
        return;
    }
    if (send_all(line, strlen(line)) != 0) {
        server_reap();
        *retry = true;
        out->end = IMPL_SPAWN_FAILED;
        snprintf(out->stderr1, sizeof out->stderr1, "the serve process of %s is gone",
                 im->argv[0]);
        return;
    }
    char reply[200];
    enum read_end e = read_line(reply, sizeof reply, im->timeout_s);
    /* "exit N" or "signal N", N strictly decimal and in range (sscanf's %d has undefined
     * behaviour on overflow and takes "+1" or " 1"). */
    uint64_t n;
    if (e == READ_LINE && !strncmp(reply, "exit ", 5) && parse_uint(&n, reply + 5, 0, 255) == 0) {
        out->end = IMPL_EXITED;
        out->code = (int)n;
        return;
    }
    if (e == READ_LINE && !strncmp(reply, "signal ", 7) &&
        parse_uint(&n, reply + 7, 1, 64) == 0) {
        out->end = n == SIGKILL ? IMPL_KILLED : IMPL_SIGNALED;
        out->code = (int)n;
        return;
    }
    /* No usable reply: the server and the child it waits for go. */
    server_reap();
    if (e == READ_TIMEOUT) {
        out->end = IMPL_TIMEOUT;
        out->code = SIGKILL;
    } else if (e == READ_STOPPED) {
        impl_result_status(out, 0, false, true);
    } else {
        char log[200];
        log_line(log, sizeof log, im);
        out->end = IMPL_SPAWN_FAILED;
        if (e == READ_LINE)
            snprintf(out->stderr1, sizeof out->stderr1,
                     "the serve process of %s answered '%.60s', not 'exit N' or 'signal N'",
                     im->argv[0], reply);
        else
            snprintf(out->stderr1, sizeof out->stderr1, "the serve process of %s ended%s%.120s",
                     im->argv[0], log[0] ? ": " : "", log);
    }
}

void serve_run(struct impl_result *out, const struct impl *im, const char *const *op_args,
               const struct impl_faults *f, const char *stdout_path, const char *stderr_path)
{
    memset(out, 0, sizeof *out);
    if (impl_stopped()) {
        impl_result_status(out, 0, false, true);
        return;
    }
    char *line = request_line(op_args, f, stdout_path, stderr_path);
    if (!line) {
        out->end = IMPL_SPAWN_FAILED;
        snprintf(out->stderr1, sizeof out->stderr1,
                 "serve mode: an argument holds a TAB or a newline");
        return;
    }
    bool retry;
    serve_once(out, im, line, &retry);
    if (retry)
        serve_once(out, im, line, &retry);
    free(line);
    if (stderr_path && out->end != IMPL_SPAWN_FAILED)
        file_first_line(out->stderr1, sizeof out->stderr1, stderr_path);
}


/* --- the driver (driver.h) --- */

static int serve_init(struct campaign *c, char *err, size_t err_cap)
{
    (void)c;
    (void)err;
    (void)err_cap;
    return 0; /* the server starts on first use, in each process */
}

static void serve_finish(struct campaign *c)
{
    (void)c;
    serve_stop();
}

/* Capabilities, steps and judging loads are those of the exec driver: impl_run hands them to
 * the server (struct impl's serve). */
static int serve_capabilities(const struct campaign *c, char *dst, size_t dst_cap, char *err,
                              size_t err_cap)
{
    return driver_exec.capabilities(c, dst, dst_cap, err, err_cap);
}

static void serve_step(struct impl_result *out, const struct campaign *c,
                       const struct step_req *req, const struct step_faults *f,
                       const char *err_path)
{
    driver_exec.step(out, c, req, f, err_path);
}

static void serve_load(struct load_outcome *out, const struct campaign *c, const char *dir,
                       const char *id, const char *work_dir, const struct payload *prior,
                       const struct payload *expect_new, const char *err_path)
{
    driver_exec.load(out, c, dir, id, work_dir, prior, expect_new, err_path);
}

/* The census through the server, then the same step by exec on a copy of the template: the
 * two lists of counted calls must be the same, or case ids would not mean the same in both
 * modes (a server that counts its own calls, a child that does more than the operation). */
static int serve_census(struct impl_result *out, const struct campaign *c,
                        const struct step_req *req, const char *trace_path, const char *err_path,
                        const struct dir_image *template, const char *work_dir, char *err,
                        size_t err_cap)
{
    struct step_faults sf = {.trace = trace_path};
    driver_exec.step(out, c, req, &sf, err_path);
    if (out->end != IMPL_EXITED || out->code != 0)
        return 0; /* the caller reports how the census run ended */
    char d[760], trace[760], so[760], mo[760], errp[760];
    snprintf(d, sizeof d, "%s/exec-d", work_dir);
    snprintf(trace, sizeof trace, "%s/exec-trace", work_dir);
    snprintf(so, sizeof so, "%s/exec-state.out", work_dir);
    snprintf(mo, sizeof mo, "%s/exec-memory.out", work_dir);
    snprintf(errp, sizeof errp, "%s/exec.err", work_dir);
    if (dir_image_write(template, d) != 0) {
        snprintf(err, err_cap, "cannot create %s: %s", d, strerror(errno));
        return -1;
    }
    struct campaign *ce = xmalloc(sizeof *ce);
    memcpy(ce, c, sizeof *ce);
    ce->impl.serve = false;
    struct step_req twin = *req;
    twin.dir = d;
    twin.state_out = so;
    twin.memory_out = mo;
    struct step_faults tf = {.trace = trace};
    struct impl_result r;
    driver_exec.step(&r, ce, &twin, &tf, errp);
    free(ce);
    struct scenario_run *served = xcalloc(1, sizeof *served);
    struct scenario_run *exec = xcalloc(1, sizeof *exec);
    int rc = -1;
    if (r.end != IMPL_EXITED || r.code != 0) {
        char t[240];
        impl_result_text(t, sizeof t, &r);
        snprintf(err, err_cap, "serve mode: the same clean step by exec fails: %s", t);
    } else if (census_read(served, trace_path, req->dir, err, err_cap) == 0 &&
               census_read(exec, trace, d, err, err_cap) == 0) {
        unsigned n = served->n_calls < exec->n_calls ? served->n_calls : exec->n_calls;
        unsigned i = 0;
        while (i < n && !strcmp(served->calls[i], exec->calls[i]) &&
               !strcmp(served->paths[i], exec->paths[i]))
            i++;
        if (i == n && served->n_calls == exec->n_calls)
            rc = 0;
        else
            snprintf(err, err_cap,
                     "serve mode: the calls counted through the fork server differ from those "
                     "of '%s' by exec at call %u (%s vs %s): the case ids would not mean the "
                     "same (docs/ADAPTER.md 9)",
                     c->opt.impl_cmd, i + 1, i < served->n_calls ? served->calls[i] : "end",
                     i < exec->n_calls ? exec->calls[i] : "end");
    }
    census_free(served);
    census_free(exec);
    free(served);
    free(exec);
    return rc;
}

const struct driver_ops driver_serve = {
    .name = "serve",
    .in_place_watch = false,
    .init = serve_init,
    .finish = serve_finish,
    .capabilities = serve_capabilities,
    .step = serve_step,
    .census = serve_census,
    .load = serve_load,
};
