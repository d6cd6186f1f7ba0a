/* The core of libsnapfault.so, the LD_PRELOAD interposer: reads the SNAPFAULT_* environment,
 * decides which calls are counted (paths inside SNAPFAULT_DIR), numbers them, applies the fault
 * of SNAPFAULT_CASE or whatever libfiu says, writes the trace, and crashes the process.
 *
 * Method: every wrapper (wrappers.c) asks sf_enter_* first. A call is counted only once the
 * constructor has run and when this thread is not already inside a wrapper, so calls made by
 * dlsym, libfiu or this file never count. Everything this file does to the OS for itself (trace,
 * /proc/self/fd, getcwd, kill) goes through raw syscalls, so neither this interposer nor one
 * preloaded after it (fiu_posix_preload.so) sees or fails it. The ordinal counter lives in a
 * MAP_SHARED page so forked children continue the numbering of their parent.
 * docs/FAULTS.md is the user's description of all this. */
#undef _FILE_OFFSET_BITS
#define _GNU_SOURCE 1

#include "interpose-priv.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FIU_ENABLE 1
#include <fiu-control.h>
#include <fiu.h>

#include <pthread.h>

/* Exit status when the environment is unusable: a broken set-up, not a finding. */
#define SF_EXIT_SETUP 99

struct shared {
    _Atomic unsigned long long counter; /* last ordinal handed out */
    _Atomic bool shut; /* a case "errno=E,dirsync-shutdown" failed an fsync of a directory:
                          the file system is shut down (every later modifying call fails with
                          EIO, in every process of the run), as a journaling one does after a
                          metadata write error: ext4's journal abort, an XFS shutdown, a btrfs
                          transaction abort. Closes and read-only opens still work. */
    pthread_mutex_t lock;               /* orders data-file appends with their trace lines */
    bool lock_ok;
};

static bool ready;                /* constructor finished: counting may start */
static _Thread_local int depth;   /* > 0 while this thread is inside a wrapper */
static char dir_lex[SF_PATH_MAX]; /* SNAPFAULT_DIR as given, normalised ("" = count nothing) */
static char dir_real[SF_PATH_MAX]; /* its realpath, which getcwd and /proc report */
static int trace_fd = -1;
static int data_fd = -1;
static bool have_case;
static unsigned long long case_ordinal;
static struct sf_action case_action;

static struct shared *shared;
static struct shared shared_fallback; /* if mmap fails: numbering is then per process */

/* --- raw OS access, invisible to every interposer --- */

static ssize_t raw_write(int fd, const void *src, size_t len)
{
    return (ssize_t)syscall(SYS_write, fd, src, len);
}

static int raw_write_all(int fd, const void *src, size_t len)
{
    const char *p = src;
    while (len > 0) {
        ssize_t n = raw_write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void say(const char *a, const char *b, const char *c)
{
    raw_write_all(2, "snapfault: ", 11);
    raw_write_all(2, a, strlen(a));
    if (b != NULL)
        raw_write_all(2, b, strlen(b));
    if (c != NULL)
        raw_write_all(2, c, strlen(c));
    raw_write_all(2, "\n", 1);
}

static _Noreturn void setup_failed(const char *a, const char *b, const char *c)
{
    say(a, b, c);
    _exit(SF_EXIT_SETUP);
}

static _Noreturn void crash(void)
{
    syscall(SYS_kill, (long)getpid(), (long)SIGKILL);
    for (;;)
        syscall(SYS_pause);
}

/* --- paths --- */

/* Normalise an absolute path lexically: no "//", ".", ".." or trailing "/". No symlink is
 * followed (the file may not exist yet). @return 0, or -1 if in is not absolute or too long. */
static int normalize(char *dst, size_t dst_cap, const char *src)
{
    size_t n = 0;

    if (src[0] != '/' || dst_cap < 2)
        return -1;
    for (const char *p = src; *p != '\0';) {
        while (*p == '/')
            p++;
        const char *seg = p;
        while (*p != '\0' && *p != '/')
            p++;
        size_t len = (size_t)(p - seg);
        if (len == 0 || (len == 1 && seg[0] == '.'))
            continue;
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            /* drop the last segment: back to the '/' that starts it ("/.." is "/") */
            if (n > 0)
                n--;
            while (n > 0 && dst[n] != '/')
                n--;
            continue;
        }
        if (n + 1 + len + 1 > dst_cap)
            return -1;
        dst[n++] = '/';
        memcpy(dst + n, seg, len);
        n += len;
    }
    if (n == 0)
        dst[n++] = '/';
    dst[n] = '\0';
    return 0;
}

/* The current path of fd, from /proc/self/fd. @return 0, or -1 if it has none (pipe, socket). */
static int fd_path(char *dst, size_t dst_cap, int fd)
{
    static const char deleted[] = " (deleted)";
    char link[40];
    long n;

    if (fd < 0)
        return -1;
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = syscall(SYS_readlinkat, AT_FDCWD, link, dst, dst_cap - 1);
    if (n <= 0 || (size_t)n >= dst_cap - 1)
        return -1;
    dst[n] = '\0';
    if (dst[0] != '/')
        return -1;
    size_t dl = sizeof(deleted) - 1;
    if ((size_t)n > dl && strcmp(dst + n - dl, deleted) == 0)
        dst[n - dl] = '\0';
    return 0;
}

/* Absolute, normalised form of path relative to dirfd (AT_FDCWD: the cwd). */
static int resolve(char *dst, size_t dst_cap, int dirfd, const char *path)
{
    char base[SF_PATH_MAX];
    char joined[2 * SF_PATH_MAX + 2];

    if (path == NULL)
        return -1;
    if (path[0] == '/')
        return normalize(dst, dst_cap, path);
    if (dirfd == AT_FDCWD) {
        if (syscall(SYS_getcwd, base, sizeof(base)) < 0)
            return -1;
    } else if (fd_path(base, sizeof(base), dirfd) != 0) {
        return -1;
    }
    int n = snprintf(joined, sizeof(joined), "%s/%s", base, path);
    if (n < 0 || (size_t)n >= sizeof(joined))
        return -1;
    return normalize(dst, dst_cap, joined);
}

static bool under(const char *path, const char *dir)
{
    size_t len = strlen(dir);
    if (len == 0)
        return false;
    if (len == 1) /* "/" */
        return true;
    return strncmp(path, dir, len) == 0 && (path[len] == '\0' || path[len] == '/');
}

static bool inside(const char *path)
{
    return under(path, dir_lex) || under(path, dir_real);
}

/* --- entering a wrapper --- */

static bool begin(struct sf_op *op, const char *name)
{
    if (!ready || depth > 0 || dir_lex[0] == '\0')
        return false;
    op->call = sf_call_find(name);
    if (op->call == NULL)
        return false;
    op->ordinal = 0;
    op->path[0] = op->path2[0] = '\0';
    op->fd = -1;
    op->has_offset = op->has_length = false;
    op->offset = op->length = 0;
    op->extra[0] = '\0';
    op->inject_err = 0;
    op->short_write = false;
    op->crash_after = false;
    op->injected[0] = '\0';
    depth++;
    return true;
}

static bool counted(bool yes)
{
    if (!yes)
        depth--;
    return yes;
}

bool sf_enter_path(struct sf_op *op, const char *name, int dirfd, const char *path)
{
    int saved = errno;
    if (!begin(op, name))
        return false;
    bool yes = resolve(op->path, sizeof(op->path), dirfd, path) == 0 && inside(op->path);
    errno = saved;
    return counted(yes);
}

bool sf_enter_path2(struct sf_op *op, const char *name, int dirfd, const char *path, int dirfd2,
                    const char *path2)
{
    int saved = errno;
    if (!begin(op, name))
        return false;
    bool ok1 = resolve(op->path, sizeof(op->path), dirfd, path) == 0;
    bool ok2 = resolve(op->path2, sizeof(op->path2), dirfd2, path2) == 0;
    bool yes = ok1 && ok2 && (inside(op->path) || inside(op->path2));
    errno = saved;
    return counted(yes);
}

bool sf_enter_fd(struct sf_op *op, const char *name, int fd)
{
    int saved = errno;
    if (!begin(op, name))
        return false;
    op->fd = fd;
    bool yes = fd_path(op->path, sizeof(op->path), fd) == 0 && inside(op->path);
    errno = saved;
    return counted(yes);
}

long long sf_fd_position(int fd)
{
    int saved = errno;
    long long pos = -1;
    long fl = syscall(SYS_fcntl, fd, F_GETFL);

    if (fl >= 0 && (fl & O_APPEND) != 0) {
        struct stat st;
        if (fstat(fd, &st) == 0)
            pos = (long long)st.st_size;
    } else if (fl >= 0) {
        pos = (long long)syscall(SYS_lseek, fd, 0L, SEEK_CUR);
    }
    errno = saved;
    return pos < 0 ? -1 : pos;
}

/* --- trace --- */

struct line {
    char buf[4 * SF_PATH_MAX + 512];
    size_t len;
    bool overflow;
};

static void put(struct line *l, const char *s)
{
    size_t n = strlen(s);
    if (l->len + n >= sizeof(l->buf)) {
        l->overflow = true;
        return;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

/* A field escaped so it never holds a tab or newline: \t \n \\ */
static void put_esc(struct line *l, const char *s)
{
    char two[3] = {'\\', 0, 0};
    for (; *s != '\0'; s++) {
        char c = *s;
        char one[2] = {c, 0};
        if (c == '\t' || c == '\n' || c == '\\') {
            two[1] = c == '\t' ? 't' : c == '\n' ? 'n' : '\\';
            put(l, two);
        } else {
            put(l, one);
        }
    }
}

static void put_num(struct line *l, bool has, long long v)
{
    char num[32];
    if (!has) {
        put(l, "-");
        return;
    }
    snprintf(num, sizeof(num), "%lld", v);
    put(l, num);
}

static void put_errno(struct line *l, int e)
{
    const char *name = sf_errno_name(e);
    if (name != NULL) {
        put(l, name);
    } else {
        char num[16];
        snprintf(num, sizeof(num), "%d", e);
        put(l, num);
    }
}

static void lock_shared(void)
{
    if (!shared->lock_ok)
        return;
    if (pthread_mutex_lock(&shared->lock) == EOWNERDEAD)
        pthread_mutex_consistent(&shared->lock);
}

static void unlock_shared(void)
{
    if (shared->lock_ok)
        pthread_mutex_unlock(&shared->lock);
}

/* Append the bytes actually written to the data file. @return their offset there, or -1. */
static long long append_data(const struct iovec *data, int n_data, long long result)
{
    long long off = (long long)syscall(SYS_lseek, data_fd, 0L, SEEK_END);
    size_t left = (size_t)result;

    if (off < 0)
        return -1;
    for (int i = 0; i < n_data && left > 0; i++) {
        size_t n = data[i].iov_len < left ? data[i].iov_len : left;
        if (raw_write_all(data_fd, data[i].iov_base, n) != 0)
            return -1;
        left -= n;
    }
    return off;
}

/* done: false for a crash-before line (the call never ran, no result). */
static void trace(const struct sf_op *op, bool done, long long result, int err,
                  const struct iovec *data, int n_data)
{
    struct line l;

    if (trace_fd < 0)
        return;
    l.len = 0;
    l.overflow = false;
    put_num(&l, true, (long long)op->ordinal);
    put(&l, "\t");
    put(&l, op->call->name);
    put(&l, "\t");
    put_esc(&l, op->path);
    put(&l, "\t");
    if (op->path2[0] != '\0')
        put_esc(&l, op->path2);
    else
        put(&l, "-");
    put(&l, "\t");
    put_num(&l, op->fd >= 0, op->fd);
    put(&l, "\t");
    put_num(&l, op->has_offset, op->offset);
    put(&l, "\t");
    put_num(&l, op->has_length, op->length);
    put(&l, "\t");
    put_num(&l, done, result);
    put(&l, "\t");
    if (done && result == -1)
        put_errno(&l, err);
    else
        put(&l, "-");
    put(&l, "\t");
    put(&l, op->injected[0] != '\0' ? op->injected : "-");

    lock_shared();
    if (data_fd >= 0) {
        long long doff = -1;
        if (done && data != NULL && result > 0)
            doff = append_data(data, n_data, result);
        put(&l, "\t");
        put_num(&l, doff >= 0, doff);
        put(&l, "\t");
        put(&l, op->extra[0] != '\0' ? op->extra : "-");
    }
    put(&l, "\n");
    if (l.overflow) {
        say("trace line too long for call ", op->call->name, "; line dropped");
    } else {
        raw_write_all(trace_fd, l.buf, l.len);
    }
    unlock_shared();
}

/* --- decisions --- */

static int failinfo_errno(const struct sf_op *op)
{
    intptr_t v = (intptr_t)fiu_failinfo();
    if (v > 0 && v < 4096)
        return (int)v;
    return op->call->errnos[0];
}

/* Would op change the file system? Everything but a close and an open without O_CREAT,
 * O_TRUNC or write access. */
static bool modifies(const struct sf_op *op)
{
    if (!strcmp(op->call->name, "close"))
        return false;
    const char *fl = strstr(op->extra, "flags=0x");
    if (strncmp(op->call->name, "open", 4) != 0 || !fl)
        return true;
    unsigned long flags = strtoul(fl + 8, NULL, 16);
    return (flags & (O_CREAT | O_TRUNC | O_WRONLY | O_RDWR)) != 0;
}

static bool is_dir_fd(int fd)
{
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
}

void sf_decide(struct sf_op *op)
{
    int saved = errno;

    op->ordinal = atomic_fetch_add(&shared->counter, 1ULL) + 1ULL;
    if (atomic_load(&shared->shut) && op->ordinal > case_ordinal && modifies(op)) {
        op->inject_err = EIO;
        op->short_write = false;
        snprintf(op->injected, sizeof(op->injected), "errno=EIO");
        errno = saved;
        return;
    }
    if (have_case && op->ordinal == case_ordinal && case_action.kind == SF_ERRNO &&
        case_action.dirsync_shutdown && strstr(op->call->name, "sync") && is_dir_fd(op->fd))
        atomic_store(&shared->shut, true);
    if (have_case && op->ordinal == case_ordinal) {
        switch (case_action.kind) {
        case SF_CRASH_BEFORE:
            snprintf(op->injected, sizeof(op->injected), "crash-before");
            trace(op, false, 0, 0, NULL, 0);
            crash();
        case SF_ERRNO:
            fiu_enable(op->call->point, 1, (void *)(intptr_t)case_action.err, FIU_ONETIME);
            break;
        case SF_SHORT:
            /* A request of 0 or 1 byte cannot be shortened: the call runs unchanged. */
            if (op->call->can_short && op->has_length &&
                sf_short_bytes(case_action.shortlen, (size_t)op->length) < (size_t)op->length) {
                op->short_write = true;
                op->shortlen = case_action.shortlen;
                sf_action_format(op->injected, sizeof(op->injected), &case_action);
            }
            break;
        case SF_CRASH_AFTER:
            op->crash_after = true;
            break;
        }
    }
    if (fiu_fail(op->call->point) != 0) {
        struct sf_action act = {.kind = SF_ERRNO, .err = failinfo_errno(op)};
        op->inject_err = act.err;
        op->short_write = false;
        if (sf_action_format(op->injected, sizeof(op->injected), &act) < 0)
            snprintf(op->injected, sizeof(op->injected), "errno=%d", act.err);
    }
    if (op->crash_after)
        snprintf(op->injected, sizeof(op->injected), "crash-after");
    errno = saved;
}

void sf_leave(struct sf_op *op, long long result, int err, const struct iovec *data, int n_data)
{
    trace(op, true, result, err, data, n_data);
    if (op->crash_after)
        crash();
    depth--;
    errno = err;
}

void *sf_real(const char *name)
{
    void *fn = dlsym(RTLD_NEXT, name);
    if (fn == NULL)
        setup_failed("no next definition of ", name, " (dlsym RTLD_NEXT)");
    return fn;
}

/* --- start-up --- */

static int open_append(const char *path)
{
    return (int)syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                        0644);
}

static void init_case(void)
{
    const char *spec = getenv("SNAPFAULT_CASE");
    const char *crash_at = getenv("SNAPFAULT_CRASH_AT");

    if (spec != NULL && spec[0] != '\0') {
        if (crash_at != NULL && crash_at[0] != '\0')
            setup_failed("SNAPFAULT_CASE and SNAPFAULT_CRASH_AT are both set; use one", NULL,
                         NULL);
        if (sf_case_parse(&case_ordinal, &case_action, spec) != 0)
            setup_failed("SNAPFAULT_CASE='", spec,
                         "': expected <ordinal>:<action>, action errno=<NAME>, "
                         "short=1|half|allbut1, crash-before or crash-after");
        have_case = true;
    } else if (crash_at != NULL && crash_at[0] != '\0') {
        char buf[48];
        int n = snprintf(buf, sizeof(buf), "%s:crash-before", crash_at);
        if (n < 0 || (size_t)n >= sizeof(buf) ||
            sf_case_parse(&case_ordinal, &case_action, buf) != 0)
            setup_failed("SNAPFAULT_CRASH_AT='", crash_at, "': expected an ordinal >= 1");
        have_case = true;
    }
}

static void init_shared(void)
{
    void *p = mmap(NULL, sizeof(struct shared), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pthread_mutexattr_t attr;

    shared = p == MAP_FAILED ? &shared_fallback : p;
    atomic_init(&shared->counter, 0ULL);
    atomic_init(&shared->shut, false);
    shared->lock_ok = false;
    if (pthread_mutexattr_init(&attr) != 0)
        return;
    if (pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) == 0 &&
        pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) == 0 &&
        pthread_mutex_init(&shared->lock, &attr) == 0)
        shared->lock_ok = true;
    pthread_mutexattr_destroy(&attr);
}

/* Read the SNAPFAULT_* environment into the settings (exits 99 on a bad value). */
static void configure(void)
{
    const char *dir = getenv("SNAPFAULT_DIR");
    const char *tr = getenv("SNAPFAULT_TRACE");
    const char *td = getenv("SNAPFAULT_TRACE_DATA");

    if (dir != NULL && dir[0] != '\0') {
        if (normalize(dir_lex, sizeof(dir_lex), dir) != 0)
            setup_failed("SNAPFAULT_DIR='", dir, "': must be an absolute path");
        if (realpath(dir_lex, dir_real) == NULL)
            setup_failed("SNAPFAULT_DIR='", dir, "': cannot resolve (does it exist?)");
    }
    if (tr != NULL && tr[0] != '\0') {
        trace_fd = open_append(tr);
        if (trace_fd < 0)
            setup_failed("SNAPFAULT_TRACE='", tr, "': cannot open for appending");
    }
    if (td != NULL && td[0] != '\0') {
        data_fd = open_append(td);
        if (data_fd < 0)
            setup_failed("SNAPFAULT_TRACE_DATA='", td, "': cannot open for appending");
    }
    init_case();
}

__attribute__((constructor)) static void snapfault_init(void)
{
    int saved = errno;

    depth++;
    configure();
    if (fiu_init(0) != 0)
        setup_failed("fiu_init failed", NULL, NULL);
    init_shared();
    depth--;
    errno = saved;
    ready = true;
}

/* The fork-server entry point (docs/FAULTS.md 2): a child forked by a long-running adapter
 * sets SNAPFAULT_* in its environment and calls this to start afresh, as if it had just been
 * exec'd: settings re-read, trace files reopened, the ordinal counter back at zero in a page
 * of its own (shared with its own forked children only). Not for a multi-threaded process. */
__attribute__((visibility("default"))) int snapfault_reconfigure(void);
int snapfault_reconfigure(void)
{
    int saved = errno;

    depth++;
    ready = false;
    if (trace_fd >= 0)
        syscall(SYS_close, trace_fd);
    if (data_fd >= 0)
        syscall(SYS_close, data_fd);
    trace_fd = data_fd = -1;
    dir_lex[0] = dir_real[0] = '\0';
    have_case = false;
    case_ordinal = 0;
    configure();
    if (shared != &shared_fallback)
        munmap(shared, sizeof(struct shared));
    init_shared();
    depth--;
    errno = saved;
    ready = true;
    return 0;
}
