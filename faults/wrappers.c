/* The libc entry points libsnapfault.so replaces. Each one asks the core (interpose.c) whether
 * the call is counted; if not it calls the next definition (dlsym RTLD_NEXT) and nothing else.
 * A counted call fills in what the trace needs, lets the core decide the fault, performs (or
 * does not perform, or shortens) the real call and hands the outcome back. */
#undef _FILE_OFFSET_BITS /* we define open and open64 separately; no redirection wanted */
#undef _FORTIFY_SOURCE   /* fortified headers define inline open() wrappers of their own */
#define _GNU_SOURCE 1

#include "interpose-priv.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* The library is built with hidden visibility; only the libc names it replaces are exported. */
#define SF_EXPORT __attribute__((visibility("default")))

/* Fortified entry points; the headers only declare them under _FORTIFY_SOURCE. */
SF_EXPORT int __open_2(const char *path, int flags);
SF_EXPORT int __open64_2(const char *path, int flags);
SF_EXPORT int __openat_2(int dirfd, const char *path, int flags);
SF_EXPORT int __openat64_2(int dirfd, const char *path, int flags);

/* Resolve the next definition of name once, into a local real_<name> of type T. */
#define REAL(T, name)                                                                        \
    static _Atomic(T) real_##name##_slot;                                                    \
    T real_##name = atomic_load_explicit(&real_##name##_slot, memory_order_acquire);         \
    if (real_##name == NULL) {                                                               \
        void *sym_ = sf_real(#name);                                                         \
        memcpy(&real_##name, &sym_, sizeof(sym_));                                           \
        atomic_store_explicit(&real_##name##_slot, real_##name, memory_order_release);       \
    }

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*open2_fn)(const char *, int);
typedef int (*openat2_fn)(int, const char *, int);
typedef int (*creat_fn)(const char *, mode_t);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*pwrite64_fn)(int, const void *, size_t, off64_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef int (*fd_fn)(int);
typedef int (*sync_range_fn)(int, off64_t, off64_t, unsigned int);
typedef int (*rename_fn)(const char *, const char *);
typedef int (*renameat_fn)(int, const char *, int, const char *);
typedef int (*renameat2_fn)(int, const char *, int, const char *, unsigned int);
typedef int (*unlink_fn)(const char *);
typedef int (*unlinkat_fn)(int, const char *, int);
typedef int (*ftruncate_fn)(int, off_t);
typedef int (*ftruncate64_fn)(int, off64_t);
typedef int (*mkdir_fn)(const char *, mode_t);
typedef int (*mkdirat_fn)(int, const char *, mode_t);
typedef int (*fallocate_fn)(int, int, off_t, off_t);
typedef int (*fallocate64_fn)(int, int, off64_t, off64_t);

/* --- open family --- */

enum open_kind { OPEN_PATH, OPEN_AT, OPEN_PATH2, OPEN_AT2, OPEN_CREAT };

static bool needs_mode(int flags)
{
    return (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE;
}

static int open_real(void *fn, enum open_kind kind, int dirfd, const char *path, int flags,
                     mode_t mode)
{
    open_fn f_path;
    openat_fn f_at;
    open2_fn f_path2;
    openat2_fn f_at2;
    creat_fn f_creat;

    switch (kind) {
    case OPEN_PATH:
        memcpy(&f_path, &fn, sizeof(fn));
        return needs_mode(flags) ? f_path(path, flags, mode) : f_path(path, flags);
    case OPEN_AT:
        memcpy(&f_at, &fn, sizeof(fn));
        return needs_mode(flags) ? f_at(dirfd, path, flags, mode) : f_at(dirfd, path, flags);
    case OPEN_PATH2:
        memcpy(&f_path2, &fn, sizeof(fn));
        return f_path2(path, flags);
    case OPEN_AT2:
        memcpy(&f_at2, &fn, sizeof(fn));
        return f_at2(dirfd, path, flags);
    case OPEN_CREAT:
        memcpy(&f_creat, &fn, sizeof(fn));
        return f_creat(path, mode);
    }
    errno = EINVAL;
    return -1;
}

static int open_wrap(const char *name, void *fn, enum open_kind kind, int dirfd,
                     const char *path, int flags, mode_t mode)
{
    struct sf_op op;
    bool at = kind == OPEN_AT || kind == OPEN_AT2;
    int r, err;

    if (!sf_enter_path(&op, name, at ? dirfd : AT_FDCWD, path))
        return open_real(fn, kind, dirfd, path, flags, mode);
    if (kind == OPEN_CREAT)
        flags = O_CREAT | O_WRONLY | O_TRUNC;
    snprintf(op.extra, sizeof(op.extra), "flags=0x%x,mode=0%o", (unsigned)flags,
             needs_mode(flags) ? (unsigned)mode : 0u);
    sf_decide(&op);
    if (op.inject_err != 0) {
        r = -1;
        err = op.inject_err;
    } else {
        r = open_real(fn, kind, dirfd, path, flags, mode);
        err = errno;
    }
    sf_leave(&op, r, err, NULL, 0);
    return r;
}

static mode_t mode_arg(int flags, va_list ap)
{
    return needs_mode(flags) ? (mode_t)va_arg(ap, int) : 0;
}

SF_EXPORT int open(const char *path, int flags, ...)
{
    REAL(open_fn, open);
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    void *fn;
    memcpy(&fn, &real_open, sizeof(fn));
    return open_wrap("open", fn, OPEN_PATH, AT_FDCWD, path, flags, mode);
}

SF_EXPORT int open64(const char *path, int flags, ...)
{
    REAL(open_fn, open64);
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    void *fn;
    memcpy(&fn, &real_open64, sizeof(fn));
    return open_wrap("open64", fn, OPEN_PATH, AT_FDCWD, path, flags, mode);
}

SF_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
    REAL(openat_fn, openat);
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    void *fn;
    memcpy(&fn, &real_openat, sizeof(fn));
    return open_wrap("openat", fn, OPEN_AT, dirfd, path, flags, mode);
}

SF_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
    REAL(openat_fn, openat64);
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    void *fn;
    memcpy(&fn, &real_openat64, sizeof(fn));
    return open_wrap("openat64", fn, OPEN_AT, dirfd, path, flags, mode);
}

SF_EXPORT int __open_2(const char *path, int flags)
{
    REAL(open2_fn, __open_2);
    void *fn;
    memcpy(&fn, &real___open_2, sizeof(fn));
    return open_wrap("__open_2", fn, OPEN_PATH2, AT_FDCWD, path, flags, 0);
}

SF_EXPORT int __open64_2(const char *path, int flags)
{
    REAL(open2_fn, __open64_2);
    void *fn;
    memcpy(&fn, &real___open64_2, sizeof(fn));
    return open_wrap("__open64_2", fn, OPEN_PATH2, AT_FDCWD, path, flags, 0);
}

SF_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
    REAL(openat2_fn, __openat_2);
    void *fn;
    memcpy(&fn, &real___openat_2, sizeof(fn));
    return open_wrap("__openat_2", fn, OPEN_AT2, dirfd, path, flags, 0);
}

SF_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
    REAL(openat2_fn, __openat64_2);
    void *fn;
    memcpy(&fn, &real___openat64_2, sizeof(fn));
    return open_wrap("__openat64_2", fn, OPEN_AT2, dirfd, path, flags, 0);
}

SF_EXPORT int creat(const char *path, mode_t mode)
{
    REAL(creat_fn, creat);
    void *fn;
    memcpy(&fn, &real_creat, sizeof(fn));
    return open_wrap("creat", fn, OPEN_CREAT, AT_FDCWD, path, 0, mode);
}

SF_EXPORT int creat64(const char *path, mode_t mode)
{
    REAL(creat_fn, creat64);
    void *fn;
    memcpy(&fn, &real_creat64, sizeof(fn));
    return open_wrap("creat64", fn, OPEN_CREAT, AT_FDCWD, path, 0, mode);
}

/* --- write family --- */

/* Fill the common fields of a write; offset -1 means the fd has no position. */
static void write_op(struct sf_op *op, long long offset, size_t len)
{
    op->has_offset = offset >= 0;
    op->offset = offset;
    op->has_length = true;
    op->length = (long long)len;
}

SF_EXPORT ssize_t write(int fd, const void *src, size_t len)
{
    REAL(write_fn, write);
    struct sf_op op;
    ssize_t r;
    int err;

    if (!sf_enter_fd(&op, "write", fd))
        return real_write(fd, src, len);
    write_op(&op, sf_fd_position(fd), len);
    sf_decide(&op);
    size_t n = op.short_write ? sf_short_bytes(op.shortlen, len) : len;
    if (op.inject_err != 0) {
        r = -1;
        err = op.inject_err;
    } else {
        r = real_write(fd, src, n);
        err = errno;
    }
    struct iovec done = {(void *)(uintptr_t)src, n};
    sf_leave(&op, r, err, &done, 1);
    return r;
}

static ssize_t pwrite_common(const char *name, void *fn, bool is64, int fd, const void *src,
                             size_t len, long long off)
{
    struct sf_op op;
    pwrite_fn f;
    pwrite64_fn f64;
    ssize_t r;
    int err;

    memcpy(&f, &fn, sizeof(fn));
    memcpy(&f64, &fn, sizeof(fn));
    if (!sf_enter_fd(&op, name, fd))
        return is64 ? f64(fd, src, len, (off64_t)off) : f(fd, src, len, (off_t)off);
    write_op(&op, off, len);
    sf_decide(&op);
    size_t n = op.short_write ? sf_short_bytes(op.shortlen, len) : len;
    if (op.inject_err != 0) {
        r = -1;
        err = op.inject_err;
    } else {
        r = is64 ? f64(fd, src, n, (off64_t)off) : f(fd, src, n, (off_t)off);
        err = errno;
    }
    struct iovec done = {(void *)(uintptr_t)src, n};
    sf_leave(&op, r, err, &done, 1);
    return r;
}

SF_EXPORT ssize_t pwrite(int fd, const void *src, size_t len, off_t off)
{
    REAL(pwrite_fn, pwrite);
    void *fn;
    memcpy(&fn, &real_pwrite, sizeof(fn));
    return pwrite_common("pwrite", fn, false, fd, src, len, (long long)off);
}

SF_EXPORT ssize_t pwrite64(int fd, const void *src, size_t len, off64_t off)
{
    REAL(pwrite64_fn, pwrite64);
    void *fn;
    memcpy(&fn, &real_pwrite64, sizeof(fn));
    return pwrite_common("pwrite64", fn, true, fd, src, len, (long long)off);
}

SF_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    REAL(writev_fn, writev);
    struct iovec cut[IOV_MAX];
    struct sf_op op;
    size_t total = 0;
    ssize_t r;
    int err;

    if (!sf_enter_fd(&op, "writev", fd))
        return real_writev(fd, iov, iovcnt);
    bool valid = iovcnt >= 0 && iovcnt <= IOV_MAX && (iovcnt == 0 || iov != NULL);
    for (int i = 0; valid && i < iovcnt; i++) {
        if (iov[i].iov_len > SSIZE_MAX - total)
            valid = false; /* the kernel says EINVAL; we just do not shorten it */
        else
            total += iov[i].iov_len;
    }
    write_op(&op, sf_fd_position(fd), total);
    if (!valid)
        op.has_length = false; /* no short write on a request the kernel rejects */
    sf_decide(&op);
    const struct iovec *use = iov;
    int cnt = iovcnt;
    if (op.short_write && valid) {
        size_t want = sf_short_bytes(op.shortlen, total);
        cnt = 0;
        for (int i = 0; i < iovcnt && want > 0; i++) {
            size_t n = iov[i].iov_len < want ? iov[i].iov_len : want;
            cut[cnt].iov_base = iov[i].iov_base;
            cut[cnt].iov_len = n;
            cnt++;
            want -= n;
        }
        use = cut;
    }
    if (op.inject_err != 0) {
        r = -1;
        err = op.inject_err;
    } else {
        r = real_writev(fd, use, cnt);
        err = errno;
    }
    sf_leave(&op, r, err, valid ? use : NULL, valid ? cnt : 0);
    return r;
}

/* --- fd calls without data --- */

/* fsync, fdatasync, close. close is performed even when a failure is injected: Linux releases
 * the descriptor whatever close returns, and an implementation that retries close must see
 * EBADF, as it would on a real kernel. */
static int fd_wrap(const char *name, fd_fn real, int fd)
{
    struct sf_op op;
    int r, err;
    bool is_close = strcmp(name, "close") == 0;

    if (!sf_enter_fd(&op, name, fd))
        return real(fd);
    sf_decide(&op);
    if (op.inject_err != 0) {
        if (is_close)
            (void)real(fd);
        r = -1;
        err = op.inject_err;
    } else {
        r = real(fd);
        err = errno;
    }
    sf_leave(&op, r, err, NULL, 0);
    return r;
}

SF_EXPORT int fsync(int fd)
{
    REAL(fd_fn, fsync);
    return fd_wrap("fsync", real_fsync, fd);
}

SF_EXPORT int fdatasync(int fd)
{
    REAL(fd_fn, fdatasync);
    return fd_wrap("fdatasync", real_fdatasync, fd);
}

SF_EXPORT int close(int fd)
{
    REAL(fd_fn, close);
    return fd_wrap("close", real_close, fd);
}

SF_EXPORT int sync_file_range(int fd, off64_t off, off64_t len, unsigned int flags)
{
    REAL(sync_range_fn, sync_file_range);
    struct sf_op op;
    int r, err;

    if (!sf_enter_fd(&op, "sync_file_range", fd))
        return real_sync_file_range(fd, off, len, flags);
    op.has_offset = op.has_length = true;
    op.offset = (long long)off;
    op.length = (long long)len;
    snprintf(op.extra, sizeof(op.extra), "flags=0x%x", flags);
    sf_decide(&op);
    if (op.inject_err != 0) {
        r = -1;
        err = op.inject_err;
    } else {
        r = real_sync_file_range(fd, off, len, flags);
        err = errno;
    }
    sf_leave(&op, r, err, NULL, 0);
    return r;
}

static int ftruncate_common(const char *name, void *fn, bool is64, int fd, long long len)
{
    struct sf_op op;
    ftruncate_fn f;
    ftruncate64_fn f64;
    int r, err;

    memcpy(&f, &fn, sizeof(fn));
    memcpy(&f64, &fn, sizeof(fn));
    if (!sf_enter_fd(&op, name, fd))
        return is64 ? f64(fd, (off64_t)len) : f(fd, (off_t)len);
    op.has_length = true;
    op.length = len;
    sf_decide(&op);
    if (op.inject_err != 0) {
        r = -1;
        err = op.inject_err;
    } else {
        r = is64 ? f64(fd, (off64_t)len) : f(fd, (off_t)len);
        err = errno;
    }
    sf_leave(&op, r, err, NULL, 0);
    return r;
}

SF_EXPORT int ftruncate(int fd, off_t len)
{
    REAL(ftruncate_fn, ftruncate);
    void *fn;
    memcpy(&fn, &real_ftruncate, sizeof(fn));
    return ftruncate_common("ftruncate", fn, false, fd, (long long)len);
}

SF_EXPORT int ftruncate64(int fd, off64_t len)
{
    REAL(ftruncate64_fn, ftruncate64);
    void *fn;
    memcpy(&fn, &real_ftruncate64, sizeof(fn));
    return ftruncate_common("ftruncate64", fn, true, fd, (long long)len);
}

static int fallocate_common(const char *name, void *fn, bool is64, int fd, int mode,
                            long long off, long long len)
{
    struct sf_op op;
    fallocate_fn f;
    fallocate64_fn f64;
    int r, err;

    memcpy(&f, &fn, sizeof(fn));
    memcpy(&f64, &fn, sizeof(fn));
    if (!sf_enter_fd(&op, name, fd))
        return is64 ? f64(fd, mode, (off64_t)off, (off64_t)len)
                    : f(fd, mode, (off_t)off, (off_t)len);
    op.has_offset = op.has_length = true;
    op.offset = off;
    op.length = len;
    snprintf(op.extra, sizeof(op.extra), "mode=0x%x", (unsigned)mode);
    sf_decide(&op);
    if (op.inject_err != 0) {
        r = -1;
        err = op.inject_err;
    } else {
        r = is64 ? f64(fd, mode, (off64_t)off, (off64_t)len)
                 : f(fd, mode, (off_t)off, (off_t)len);
        err = errno;
    }
    sf_leave(&op, r, err, NULL, 0);
    return r;
}

SF_EXPORT int fallocate(int fd, int mode, off_t off, off_t len)
{
    REAL(fallocate_fn, fallocate);
    void *fn;
    memcpy(&fn, &real_fallocate, sizeof(fn));
    return fallocate_common("fallocate", fn, false, fd, mode, (long long)off, (long long)len);
}

SF_EXPORT int fallocate64(int fd, int mode, off64_t off, off64_t len)
{
    REAL(fallocate64_fn, fallocate64);
    void *fn;
    memcpy(&fn, &real_fallocate64, sizeof(fn));
    return fallocate_common("fallocate64", fn, true, fd, mode, (long long)off,
                            (long long)len);
}

/* --- namespace calls --- */

/* The real call, given which of the rename/unlink/mkdir shapes it is. */
enum ns_kind { NS_RENAME, NS_RENAMEAT, NS_RENAMEAT2, NS_UNLINK, NS_UNLINKAT, NS_MKDIR, NS_MKDIRAT };

struct ns_call {
    enum ns_kind kind;
    void *fn;
    int dirfd, dirfd2;
    const char *path, *path2;
    unsigned flags; /* renameat2 / unlinkat flags, mkdir mode */
};

static int ns_real(const struct ns_call *c)
{
    rename_fn rn;
    renameat_fn rna;
    renameat2_fn rna2;
    unlink_fn ul;
    unlinkat_fn ula;
    mkdir_fn md;
    mkdirat_fn mda;

    switch (c->kind) {
    case NS_RENAME:
        memcpy(&rn, &c->fn, sizeof(c->fn));
        return rn(c->path, c->path2);
    case NS_RENAMEAT:
        memcpy(&rna, &c->fn, sizeof(c->fn));
        return rna(c->dirfd, c->path, c->dirfd2, c->path2);
    case NS_RENAMEAT2:
        memcpy(&rna2, &c->fn, sizeof(c->fn));
        return rna2(c->dirfd, c->path, c->dirfd2, c->path2, c->flags);
    case NS_UNLINK:
        memcpy(&ul, &c->fn, sizeof(c->fn));
        return ul(c->path);
    case NS_UNLINKAT:
        memcpy(&ula, &c->fn, sizeof(c->fn));
        return ula(c->dirfd, c->path, (int)c->flags);
    case NS_MKDIR:
        memcpy(&md, &c->fn, sizeof(c->fn));
        return md(c->path, (mode_t)c->flags);
    case NS_MKDIRAT:
        memcpy(&mda, &c->fn, sizeof(c->fn));
        return mda(c->dirfd, c->path, (mode_t)c->flags);
    }
    errno = EINVAL;
    return -1;
}

static int ns_wrap(const char *name, const struct ns_call *c)
{
    struct sf_op op;
    bool two = c->kind == NS_RENAME || c->kind == NS_RENAMEAT || c->kind == NS_RENAMEAT2;
    bool ok;
    int r, err;

    if (two)
        ok = sf_enter_path2(&op, name, c->dirfd, c->path, c->dirfd2, c->path2);
    else
        ok = sf_enter_path(&op, name, c->dirfd, c->path);
    if (!ok)
        return ns_real(c);
    if (c->kind == NS_RENAMEAT2 || c->kind == NS_UNLINKAT)
        snprintf(op.extra, sizeof(op.extra), "flags=0x%x", c->flags);
    else if (c->kind == NS_MKDIR || c->kind == NS_MKDIRAT)
        snprintf(op.extra, sizeof(op.extra), "mode=0%o", c->flags);
    sf_decide(&op);
    if (op.inject_err != 0) {
        r = -1;
        err = op.inject_err;
    } else {
        r = ns_real(c);
        err = errno;
    }
    sf_leave(&op, r, err, NULL, 0);
    return r;
}

SF_EXPORT int rename(const char *from, const char *to)
{
    REAL(rename_fn, rename);
    struct ns_call c = {NS_RENAME, NULL, AT_FDCWD, AT_FDCWD, from, to, 0};
    memcpy(&c.fn, &real_rename, sizeof(c.fn));
    return ns_wrap("rename", &c);
}

SF_EXPORT int renameat(int fromfd, const char *from, int tofd, const char *to)
{
    REAL(renameat_fn, renameat);
    struct ns_call c = {NS_RENAMEAT, NULL, fromfd, tofd, from, to, 0};
    memcpy(&c.fn, &real_renameat, sizeof(c.fn));
    return ns_wrap("renameat", &c);
}

SF_EXPORT int renameat2(int fromfd, const char *from, int tofd, const char *to, unsigned int flags)
{
    REAL(renameat2_fn, renameat2);
    struct ns_call c = {NS_RENAMEAT2, NULL, fromfd, tofd, from, to, flags};
    memcpy(&c.fn, &real_renameat2, sizeof(c.fn));
    return ns_wrap("renameat2", &c);
}

SF_EXPORT int unlink(const char *path)
{
    REAL(unlink_fn, unlink);
    struct ns_call c = {NS_UNLINK, NULL, AT_FDCWD, AT_FDCWD, path, NULL, 0};
    memcpy(&c.fn, &real_unlink, sizeof(c.fn));
    return ns_wrap("unlink", &c);
}

SF_EXPORT int unlinkat(int dirfd, const char *path, int flags)
{
    REAL(unlinkat_fn, unlinkat);
    struct ns_call c = {NS_UNLINKAT, NULL, dirfd, AT_FDCWD, path, NULL, (unsigned)flags};
    memcpy(&c.fn, &real_unlinkat, sizeof(c.fn));
    return ns_wrap("unlinkat", &c);
}

SF_EXPORT int mkdir(const char *path, mode_t mode)
{
    REAL(mkdir_fn, mkdir);
    struct ns_call c = {NS_MKDIR, NULL, AT_FDCWD, AT_FDCWD, path, NULL, (unsigned)mode};
    memcpy(&c.fn, &real_mkdir, sizeof(c.fn));
    return ns_wrap("mkdir", &c);
}

SF_EXPORT int mkdirat(int dirfd, const char *path, mode_t mode)
{
    REAL(mkdirat_fn, mkdirat);
    struct ns_call c = {NS_MKDIRAT, NULL, dirfd, AT_FDCWD, path, NULL, (unsigned)mode};
    memcpy(&c.fn, &real_mkdirat, sizeof(c.fn));
    return ns_wrap("mkdirat", &c);
}
