/* The in-process driver (--in-process; see driver.h): libsnapref is linked into snapcheck, each
 * faulted step runs in a forked child (no exec) through a counting, fault-injecting struct
 * snap_io that follows the interposer's contract (same counted calls, names, ordinals, actions
 * and trace lines: docs/FAULTS.md); clean steps and judging loads run in the worker itself, a
 * load compared in memory. The census is taken by the exec driver under the real interposer,
 * then once more in process, and must agree call by call, so case ids and reproducers are those
 * of the exec mode.
 * Method: struct fault_io wraps snap_io_posix. A call is counted when its path lies in the case
 * directory (the directory itself included) or its fd was opened from such a path; pread,
 * fsize and list are not counted, as the interposer does not see them (it wraps no read call,
 * and opendir's open happens inside libc). Counted calls are named as the interposer names the
 * libc entry points libsnapref reaches (open64, pwrite64, fsync, close, rename, unlink). */
#include "census.h"
#include "driver-priv.h"
#include "util.h"

#include <model.h>
#include <snap/snap.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static struct snap_vm_state states[P_COUNT];

static int inproc_init(struct campaign *c, char *err, size_t err_cap)
{
    for (int i = 0; i < P_COUNT; i++) {
        int rc = snap_state_decode(&states[i], c->data.p[i].state, c->data.p[i].state_len);
        if (rc != 0) {
            snprintf(err, err_cap, "in-process mode: cannot decode the %s state: %s",
                     c->data.p[i].name, snap_strerror(rc));
            return -1;
        }
    }
    return 0;
}

static void inproc_finish(struct campaign *c)
{
    (void)c;
    for (int i = 0; i < P_COUNT; i++)
        snap_state_finish(&states[i]);
}

enum { MAX_FD = 4096 };

struct fault_io {
    const char *dir;
    size_t dir_len;
    int trace_fd;
    unsigned long count;
    unsigned long target; /* 0: no fault */
    struct sf_action act;
    const char *in_place_marker;
    unsigned char counted_fd[MAX_FD];
    char *fd_path[MAX_FD]; /* the file's current path, as the interposer reads it in /proc */
};

static bool in_dir(const struct fault_io *f, const char *path)
{
    return !strncmp(path, f->dir, f->dir_len) && (path[f->dir_len] == 0 || path[f->dir_len] == '/');
}

static bool fd_counted(const struct fault_io *f, int fd)
{
    return fd >= 0 && fd < MAX_FD && f->counted_fd[fd];
}

struct op {
    const char *call, *path, *path2;
    int fd;
    long long offset, length; /* -1: none */
    char injected[40];
    bool crash_after;
    int inject_err;
    bool short_write;
};

static void put_line(const struct fault_io *f, const struct op *o, bool done, long long result,
                     int err)
{
    if (f->trace_fd < 0)
        return;
    char line[2048], fd[24] = "-", off[24] = "-", len[24] = "-", res[24] = "-";
    const char *path = o->path;
    if (!path && o->fd >= 0 && o->fd < MAX_FD)
        path = f->fd_path[o->fd];
    if (o->fd >= 0)
        snprintf(fd, sizeof fd, "%d", o->fd);
    if (o->offset >= 0)
        snprintf(off, sizeof off, "%lld", o->offset);
    if (o->length >= 0)
        snprintf(len, sizeof len, "%lld", o->length);
    if (done)
        snprintf(res, sizeof res, "%lld", result);
    const char *en = err ? sf_errno_name(err) : NULL;
    int n = snprintf(line, sizeof line, "%lu\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f->count,
                     o->call, path ? path : "-", o->path2 ? o->path2 : "-", fd, off, len, res,
                     err ? (en ? en : "?") : "-", o->injected[0] ? o->injected : "-");
    if (n > 0 && (size_t)n < sizeof line) {
        ssize_t w = write(f->trace_fd, line, (size_t)n);
        (void)w;
    }
}

static void crash(void)
{
    kill(getpid(), SIGKILL);
    for (;;)
        pause();
}

/* Number the call and apply the case's action when it is this call. */
static void decide(struct fault_io *f, struct op *o)
{
    f->count++;
    o->injected[0] = 0;
    if (f->count != f->target)
        return;
    switch (f->act.kind) {
    case SF_CRASH_BEFORE:
        snprintf(o->injected, sizeof o->injected, "crash-before");
        put_line(f, o, false, 0, 0);
        crash();
        break;
    case SF_ERRNO:
        o->inject_err = f->act.err;
        sf_action_format(o->injected, sizeof o->injected, &f->act);
        break;
    case SF_SHORT:
        if (o->length >= 0 &&
            sf_short_bytes(f->act.shortlen, (size_t)o->length) < (size_t)o->length) {
            o->short_write = true;
            sf_action_format(o->injected, sizeof o->injected, &f->act);
        }
        break;
    case SF_CRASH_AFTER:
        o->crash_after = true;
        break;
    }
}

static void leave(struct fault_io *f, struct op *o, long long result, int err)
{
    if (o->crash_after)
        snprintf(o->injected, sizeof o->injected, "crash-after");
    put_line(f, o, true, result, result < 0 ? err : 0);
    if (o->crash_after)
        crash();
}

/* Record the result of a counted call (r, err) and hand it back with errno set. */
static long long finish(struct fault_io *f, struct op *o, long long r, int err)
{
    leave(f, o, r, err);
    errno = err;
    return r;
}

static struct op op_init(const char *call, const char *path, const char *path2, int fd)
{
    struct op o;
    memset(&o, 0, sizeof o);
    o.call = call;
    o.path = path;
    o.path2 = path2;
    o.fd = fd;
    o.offset = -1;
    o.length = -1;
    return o;
}

static int fio_open(void *ctx, const char *path, int flags, unsigned mode)
{
    struct fault_io *f = ctx;
    if (!in_dir(f, path))
        return snap_io_posix.open(snap_io_posix.ctx, path, flags, mode);
    if (f->in_place_marker && (flags & (O_WRONLY | O_RDWR)) &&
        !((flags & O_CREAT) && (flags & O_EXCL)) && access(path, F_OK) == 0) {
        int m = open(f->in_place_marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (m >= 0)
            close(m);
    }
    struct op o = op_init("open64", path, NULL, -1);
    decide(f, &o);
    if (o.inject_err)
        return (int)finish(f, &o, -1, o.inject_err);
    int r = snap_io_posix.open(snap_io_posix.ctx, path, flags, mode);
    int err = errno;
    if (r >= 0 && r < MAX_FD) {
        f->counted_fd[r] = 1;
        free(f->fd_path[r]);
        f->fd_path[r] = f->trace_fd >= 0 ? strdup(path) : NULL;
    }
    return (int)finish(f, &o, r, err);
}

static int fio_close(void *ctx, int fd)
{
    struct fault_io *f = ctx;
    if (!fd_counted(f, fd))
        return snap_io_posix.close(snap_io_posix.ctx, fd);
    f->counted_fd[fd] = 0;
    struct op o = op_init("close", NULL, NULL, fd);
    decide(f, &o);
    int r = snap_io_posix.close(snap_io_posix.ctx, fd); /* released whatever close returns */
    if (o.inject_err)
        return (int)finish(f, &o, -1, o.inject_err);
    return (int)finish(f, &o, r, errno);
}

static ssize_t fio_pread(void *ctx, int fd, void *dst, size_t len, uint64_t off)
{
    (void)ctx;
    return snap_io_posix.pread(snap_io_posix.ctx, fd, dst, len, off);
}

static ssize_t fio_pwrite(void *ctx, int fd, const void *src, size_t len, uint64_t off)
{
    struct fault_io *f = ctx;
    if (!fd_counted(f, fd))
        return snap_io_posix.pwrite(snap_io_posix.ctx, fd, src, len, off);
    struct op o = op_init("pwrite64", NULL, NULL, fd);
    o.offset = (long long)off;
    o.length = (long long)len;
    decide(f, &o);
    if (o.inject_err)
        return (ssize_t)finish(f, &o, -1, o.inject_err);
    size_t n = o.short_write ? sf_short_bytes(f->act.shortlen, len) : len;
    ssize_t r = snap_io_posix.pwrite(snap_io_posix.ctx, fd, src, n, off);
    return (ssize_t)finish(f, &o, r, errno);
}

static int fio_fsync(void *ctx, int fd)
{
    struct fault_io *f = ctx;
    if (!fd_counted(f, fd))
        return snap_io_posix.fsync(snap_io_posix.ctx, fd);
    struct op o = op_init("fsync", NULL, NULL, fd);
    decide(f, &o);
    if (o.inject_err)
        return (int)finish(f, &o, -1, o.inject_err);
    int r = snap_io_posix.fsync(snap_io_posix.ctx, fd);
    return (int)finish(f, &o, r, errno);
}

static int fio_fsize(void *ctx, int fd, uint64_t *out)
{
    (void)ctx;
    return snap_io_posix.fsize(snap_io_posix.ctx, fd, out);
}

static int fio_rename(void *ctx, const char *from, const char *to)
{
    struct fault_io *f = ctx;
    if (!in_dir(f, from) && !in_dir(f, to))
        return snap_io_posix.rename(snap_io_posix.ctx, from, to);
    struct op o = op_init("rename", from, to, -1);
    decide(f, &o);
    if (o.inject_err)
        return (int)finish(f, &o, -1, o.inject_err);
    int r = snap_io_posix.rename(snap_io_posix.ctx, from, to);
    int err = errno;
    for (int fd = 0; r == 0 && fd < MAX_FD; fd++) /* an open file now has the new name */
        if (f->fd_path[fd] && !strcmp(f->fd_path[fd], from)) {
            free(f->fd_path[fd]);
            f->fd_path[fd] = strdup(to);
        }
    return (int)finish(f, &o, r, err);
}

static int fio_unlink(void *ctx, const char *path)
{
    struct fault_io *f = ctx;
    if (!in_dir(f, path))
        return snap_io_posix.unlink(snap_io_posix.ctx, path);
    struct op o = op_init("unlink", path, NULL, -1);
    decide(f, &o);
    if (o.inject_err)
        return (int)finish(f, &o, -1, o.inject_err);
    int r = snap_io_posix.unlink(snap_io_posix.ctx, path);
    return (int)finish(f, &o, r, errno);
}

static int fio_list(void *ctx, const char *dir, int (*cb)(void *arg, const char *name), void *arg)
{
    (void)ctx;
    return snap_io_posix.list(snap_io_posix.ctx, dir, cb, arg);
}

/* Save request of payload p. */
static struct snap_save_req save_req(const struct campaign *c, const char *dir, const char *id,
                                     int p, const char *base)
{
    const struct payload *pl = &c->data.p[p];
    struct snap_save_req req = {
        .dir = dir,
        .id = id,
        .kind = base ? SNAP_KIND_DIFF : SNAP_KIND_FULL,
        .state = &states[p],
        .memory = pl->mem,
        .ram_size = pl->mem_len,
        .page_size = c->data.page_size,
        .dirty = base ? pl->dirty : NULL,
        .base_id = base,
    };
    return req;
}

static void err_line(char *dst, size_t dst_cap, const char *what, int rc,
                     const struct snap_diag *d)
{
    if (dst_cap)
        dst[0] = 0;
    str_append(dst, dst_cap, "snapcheck in-process ");
    str_append(dst, dst_cap, what);
    str_append(dst, dst_cap, " failed: ");
    str_append(dst, dst_cap, snap_strerror(rc));
    str_append(dst, dst_cap, ": ");
    str_append(dst, dst_cap, d->msg[0] ? d->msg : "(no detail)");
}

static void write_err(const char *path, const char *what, int rc, const struct snap_diag *d)
{
    if (!path)
        return;
    char line[1200];
    err_line(line, sizeof line - 1, what, rc, d);
    size_t n = strlen(line);
    line[n++] = '\n';
    file_write(path, line, n);
}

/* Run req with io. @return 0, or 1 with the failure written to err_path and msg. */
static int run_req(const struct campaign *c, const struct step_req *r, const struct snap_io *io,
                   const char *err_path, char *msg, size_t msg_cap)
{
    struct snap_diag diag;
    snap_diag_clear(&diag);
    struct snap_save_report rep;
    const char *what = "save";
    int rc = 0;
    switch (r->op) {
    case OP_SAVE_FULL:
    case OP_SAVE_DIFF: {
        struct snap_save_req req = save_req(c, r->dir, r->id, r->payload,
                                            r->op == OP_SAVE_DIFF ? r->base_id : NULL);
        rc = snap_pair_save(&rep, io, &req, &diag);
        break;
    }
    case OP_MERGE:
        what = "merge";
        rc = snap_pair_merge(&rep, io, r->dir, r->id, &diag);
        break;
    case OP_LOAD: {
        what = "load";
        struct snap_image img;
        rc = snap_pair_load(&img, io, r->dir, r->id, &diag);
        if (rc)
            break;
        /* Outputs are outside dir: not counted, as with the CLI under the interposer. */
        if (file_write(r->state_out, img.state_bytes, img.state_len) != 0 ||
            file_write(r->memory_out, img.memory, (size_t)img.hdr.ram_size) != 0) {
            rc = SNAP_EIO;
            snprintf(diag.msg, sizeof diag.msg, "cannot write the outputs");
        }
        snap_image_finish(&img);
        break;
    }
    }
    if (rc == 0)
        return 0;
    write_err(err_path, what, rc, &diag);
    if (msg)
        err_line(msg, msg_cap, what, rc, &diag);
    return 1;
}

/* The child: run the step with the fault io and exit 0/1. */
static _Noreturn void child(const struct campaign *c, const struct step_req *r,
                            const struct step_faults *sf, const char *err_path)
{
    static struct fault_io f;
    memset(&f, 0, sizeof f);
    f.in_place_marker = sf->in_place_marker;
    f.dir = r->dir;
    f.dir_len = strlen(r->dir);
    f.trace_fd = -1;
    if (sf->trace)
        f.trace_fd = open(sf->trace, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (sf->fault_case) {
        unsigned long long ord;
        if (sf_case_parse(&ord, &f.act, sf->fault_case) != 0)
            _exit(3);
        f.target = (unsigned long)ord;
    }
    const struct snap_io io = {&f,        fio_open,  fio_close,  fio_pread,  fio_pwrite,
                               fio_fsync, fio_fsize, fio_rename, fio_unlink, fio_list};
    _exit(run_req(c, r, &io, err_path, NULL, 0));
}

static void inproc_step(struct impl_result *out, const struct campaign *c,
                        const struct step_req *req, const struct step_faults *f,
                        const char *err_path)
{
    memset(out, 0, sizeof *out);
    if (err_path)
        unlink(err_path);
    if (f && f->trace_data) {
        /* The data trace is the interposer's: record through the exec'd adapter. */
        driver_exec_step(out, c, req, f, err_path);
        return;
    }
    if (!f) {
        /* A clean step needs no child: no fault can kill it. */
        out->end = IMPL_EXITED;
        out->code = run_req(c, req, &snap_io_posix, err_path, out->stderr1, sizeof out->stderr1);
        return;
    }
    /* Only the step's own payload goes to the child (see mem_fork_advice). */
    bool saves = req->op == OP_SAVE_FULL || req->op == OP_SAVE_DIFF;
    for (int i = 0; i < P_COUNT; i++)
        mem_fork_advice(c->data.p[i].mem, c->data.p[i].mem_len, saves && i == req->payload);
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0) /* the caller's own later forks (the runner's workers) need them all */
        for (int i = 0; i < P_COUNT; i++)
            mem_fork_advice(c->data.p[i].mem, c->data.p[i].mem_len, true);
    if (pid < 0) {
        out->end = IMPL_SPAWN_FAILED;
        snprintf(out->stderr1, sizeof out->stderr1, "cannot fork: %s", strerror(errno));
        return;
    }
    if (pid == 0)
        child(c, req, f, err_path);
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            out->end = IMPL_SPAWN_FAILED;
            snprintf(out->stderr1, sizeof out->stderr1, "waitpid: %s", strerror(errno));
            return;
        }
    }
    if (err_path)
        file_first_line(out->stderr1, sizeof out->stderr1, err_path);
    if (WIFEXITED(status)) {
        out->end = IMPL_EXITED;
        out->code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        out->end = WTERMSIG(status) == SIGKILL ? IMPL_KILLED : IMPL_SIGNALED;
        out->code = WTERMSIG(status);
    }
}

/* The census by exec under the interposer, then the linked-in library must make the very calls
 * the interposer counted, in the same order, or the case ids would not mean the same thing in
 * both modes. */
static int inproc_census(struct impl_result *out, const struct campaign *c,
                         const struct step_req *req, const char *trace_path, const char *err_path,
                         const struct dir_image *template, const char *work_dir, char *err,
                         size_t err_cap)
{
    struct step_faults sf = {.trace = trace_path};
    driver_exec_step(out, c, req, &sf, err_path);
    if (out->end != IMPL_EXITED || out->code != 0)
        return 0; /* the caller reports how the census run ended */
    char d[760], trace[760], so[760], mo[760], errp[760];
    snprintf(d, sizeof d, "%s/inproc-d", work_dir);
    snprintf(trace, sizeof trace, "%s/inproc-trace", work_dir);
    snprintf(so, sizeof so, "%s/inproc-state.out", work_dir);
    snprintf(mo, sizeof mo, "%s/inproc-memory.out", work_dir);
    snprintf(errp, sizeof errp, "%s/inproc.err", work_dir);
    if (dir_image_write(template, d) != 0) {
        snprintf(err, err_cap, "cannot create %s: %s", d, strerror(errno));
        return -1;
    }
    struct step_req mine_req = *req;
    mine_req.dir = d;
    mine_req.state_out = so;
    mine_req.memory_out = mo;
    struct step_faults mine_f = {.trace = trace};
    struct impl_result r;
    inproc_step(&r, c, &mine_req, &mine_f, errp);
    struct scenario_run counted = {0}, mine = {0};
    int rc = -1;
    if (r.end != IMPL_EXITED || r.code != 0) {
        char t[240];
        impl_result_text(t, sizeof t, &r);
        snprintf(err, err_cap, "--in-process: the linked-in reference fails the clean step: %s",
                 t);
    } else if (census_read(&counted, trace_path, req->dir, err, err_cap) == 0 &&
               census_read(&mine, trace, d, err, err_cap) == 0) {
        unsigned n = mine.n_calls < counted.n_calls ? mine.n_calls : counted.n_calls;
        unsigned i = 0;
        while (i < n && !strcmp(mine.calls[i], counted.calls[i]) &&
               !strcmp(mine.paths[i], counted.paths[i]))
            i++;
        if (i == n && mine.n_calls == counted.n_calls)
            rc = 0;
        else
            snprintf(err, err_cap,
                     "--in-process: the linked-in reference's calls differ from what the "
                     "interposer counted for '%s' at call %u (%s %s vs %s %s); is --impl the "
                     "reference? Run without --in-process",
                     c->opt.impl_cmd, i + 1, i < mine.n_calls ? mine.calls[i] : "end",
                     i < mine.n_calls ? mine.paths[i] : "", i < counted.n_calls ? counted.calls[i] : "end",
                     i < counted.n_calls ? counted.paths[i] : "");
    }
    census_free(&counted);
    census_free(&mine);
    return rc;
}

static void inproc_load(struct load_outcome *out, const struct campaign *c, const char *dir,
                        const char *id, const char *work_dir, const struct payload *prior,
                        const struct payload *expect_new, const char *err_path)
{
    (void)c;
    (void)work_dir;
    (void)err_path;
    memset(out, 0, sizeof *out);
    struct snap_image img;
    struct snap_diag diag;
    snap_diag_clear(&diag);
    int rc = snap_pair_load(&img, &snap_io_posix, dir, id, &diag);
    if (rc != 0) {
        out->r.end = IMPL_EXITED;
        out->r.code = 1;
        str_append(out->r.stderr1, sizeof out->r.stderr1, snap_strerror(rc));
        str_append(out->r.stderr1, sizeof out->r.stderr1, ": ");
        str_append(out->r.stderr1, sizeof out->r.stderr1, diag.msg);
        out->match = LOAD_NONE;
        snprintf(out->text, sizeof out->text, "load (in-process) failed: %s: no pair",
                 out->r.stderr1);
        return;
    }
    char why[160];
    out->match =
        oracle_classify_bytes(img.state_bytes, img.state_len, img.memory, (size_t)img.hdr.ram_size,
                              prior, expect_new, why, sizeof why);
    snprintf(out->text, sizeof out->text, "load exit 0: %s", why);
    snap_image_finish(&img);
}

const struct driver_ops driver_inproc = {
    .name = "in-process",
    .in_place_watch = true,
    .init = inproc_init,
    .finish = inproc_finish,
    .capabilities = driver_exec_capabilities,
    .step = inproc_step,
    .census = inproc_census,
    .load = inproc_load,
};
