/* The libc backend of struct snap_io (plain open, pread, pwrite, fsync, fstat, rename, unlink,
 * opendir/readdir, so that libfiu and the snapcheck interposer see every call) and the helpers
 * every storage module uses: EINTR retried, short reads and writes continued, fsync never
 * retried. Closing a descriptor that was only read, or a directory, never fails an operation. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io-priv.h"
#include "snap/error.h"
#include "snap/io.h"

_Static_assert(sizeof(off_t) == 8, "libsnapref needs 64-bit file offsets");

static int posix_open(void *ctx, const char *path, int flags, unsigned mode)
{
    (void)ctx;
    return open(path, flags, (mode_t)mode);
}

static int posix_close(void *ctx, int fd)
{
    (void)ctx;
    return close(fd);
}

static ssize_t posix_pread(void *ctx, int fd, void *dst, size_t len, uint64_t off)
{
    (void)ctx;
    if (off > (uint64_t)INT64_MAX) {
        errno = EINVAL;
        return -1;
    }
    return pread(fd, dst, len, (off_t)off);
}

static ssize_t posix_pwrite(void *ctx, int fd, const void *src, size_t len, uint64_t off)
{
    (void)ctx;
    if (off > (uint64_t)INT64_MAX) {
        errno = EINVAL;
        return -1;
    }
    return pwrite(fd, src, len, (off_t)off);
}

static int posix_fsync(void *ctx, int fd)
{
    (void)ctx;
    return fsync(fd);
}

static int posix_fsize(void *ctx, int fd, uint64_t *out)
{
    struct stat st;

    (void)ctx;
    if (fstat(fd, &st) != 0)
        return -1;
    if (!S_ISREG(st.st_mode)) {
        errno = S_ISDIR(st.st_mode) ? EISDIR : ESPIPE;
        return -1;
    }
    *out = st.st_size < 0 ? 0 : (uint64_t)st.st_size;
    return 0;
}

static int posix_rename(void *ctx, const char *from, const char *to)
{
    (void)ctx;
    return rename(from, to);
}

static int posix_unlink(void *ctx, const char *path)
{
    (void)ctx;
    return unlink(path);
}

static int posix_list(void *ctx, const char *dir, int (*cb)(void *arg, const char *name),
                      void *arg)
{
    DIR *d;
    struct dirent *e;
    int rc = 0;
    int err;

    (void)ctx;
    d = opendir(dir);
    if (d == NULL)
        return -1;
    for (;;) {
        errno = 0;
        e = readdir(d);
        if (e == NULL) {
            err = errno;
            closedir(d);
            errno = err;
            return err != 0 ? -1 : rc;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        rc = cb(arg, e->d_name);
        if (rc != 0)
            break;
    }
    closedir(d);
    return rc;
}

const struct snap_io snap_io_posix = {
    .ctx = NULL,
    .open = posix_open,
    .close = posix_close,
    .pread = posix_pread,
    .pwrite = posix_pwrite,
    .fsync = posix_fsync,
    .fsize = posix_fsize,
    .rename = posix_rename,
    .unlink = posix_unlink,
    .list = posix_list,
};

int snap_io_fail(struct snap_diag *diag, const char *op, const char *path, int err)
{
    return snap_diag_set(diag, SNAP_EIO, err, op, path, "%s %s failed: %s", op,
                         path != NULL ? path : "", strerror(err));
}

int snap_io_open_retry(const struct snap_io *io, const char *path, int flags, unsigned mode)
{
    int fd;

    do
        fd = io->open(io->ctx, path, flags, mode);
    while (fd < 0 && errno == EINTR);
    return fd;
}

void snap_io_close_quiet(const struct snap_io *io, int fd)
{
    int err = errno;

    (void)io->close(io->ctx, fd);
    errno = err;
}

int snap_io_close_file(const struct snap_io *io, int fd, const char *path,
                       struct snap_diag *diag)
{
    if (io->close(io->ctx, fd) != 0)
        return snap_io_fail(diag, "close", path, errno);
    return 0;
}

int snap_io_fsync_file(const struct snap_io *io, int fd, const char *path,
                       struct snap_diag *diag)
{
    if (io->fsync(io->ctx, fd) != 0)
        return snap_io_fail(diag, "fsync", path, errno);
    return 0;
}

int snap_io_write_all(const struct snap_io *io, int fd, const void *src, size_t len, uint64_t off,
                      const char *path, struct snap_diag *diag)
{
    const uint8_t *p = src;
    ssize_t n;

    while (len > 0) {
        n = io->pwrite(io->ctx, fd, p, len, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return snap_io_fail(diag, "pwrite", path, errno);
        if (n == 0 || (size_t)n > len)
            return snap_io_fail(diag, "pwrite", path, EIO);
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

int snap_io_read_all(const struct snap_io *io, int fd, void *dst, size_t len, uint64_t off,
                     const char *path, struct snap_diag *diag)
{
    uint8_t *p = dst;
    ssize_t n;

    while (len > 0) {
        n = io->pread(io->ctx, fd, p, len, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return snap_io_fail(diag, "pread", path, errno);
        if (n == 0)
            return snap_diag_set(diag, SNAP_ETRUNC, 0, "pread", path,
                                 "%s ends at offset %llu, %zu bytes early", path,
                                 (unsigned long long)off, len);
        if ((size_t)n > len)
            return snap_io_fail(diag, "pread", path, EIO);
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

int snap_io_open_regular(int *out_fd, uint64_t *out_size, const struct snap_io *io,
                         const char *path, struct snap_diag *diag)
{
    int fd;

    *out_fd = -1;
    *out_size = 0;
    fd = snap_io_open_retry(io, path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0) {
        if (errno == ENOENT)
            return SNAP_ENOENT;
        if (errno == ELOOP)
            return snap_diag_set(diag, SNAP_EIO, ELOOP, "open", path,
                                 "%s is a symbolic link: snapshot files must be regular files, "
                                 "links are not followed",
                                 path);
        return snap_io_fail(diag, "open", path, errno);
    }
    if (io->fsize(io->ctx, fd, out_size) != 0) {
        int err = errno;

        snap_io_close_quiet(io, fd);
        if (err == EISDIR || err == ESPIPE)
            return snap_diag_set(diag, SNAP_EIO, err, "open", path,
                                 "%s is not a regular file (%s)", path,
                                 err == EISDIR ? "a directory" : "a FIFO, socket or device");
        return snap_io_fail(diag, "fstat", path, err);
    }
    *out_fd = fd;
    return 0;
}

int snap_io_read_file(uint8_t **out, size_t *out_len, const struct snap_io *io, const char *path,
                      uint64_t max_len, struct snap_diag *diag)
{
    uint8_t *buf = NULL;
    uint64_t size;
    int fd;
    int rc;

    *out = NULL;
    *out_len = 0;
    rc = snap_io_open_regular(&fd, &size, io, path, diag);
    if (rc == SNAP_ENOENT)
        return snap_diag_set(diag, SNAP_ENOENT, ENOENT, "open", path, "%s does not exist", path);
    if (rc != 0)
        return rc;
    if (size > max_len || size > SIZE_MAX - 1) {
        rc = snap_diag_set(diag, SNAP_ELIMIT, 0, "fstat", path,
                           "%s is %llu bytes, over the limit of %llu", path,
                           (unsigned long long)size, (unsigned long long)max_len);
        goto out;
    }
    buf = malloc(size != 0 ? (size_t)size : 1);
    if (buf == NULL) {
        rc = snap_diag_set(diag, SNAP_ENOMEM, 0, "malloc", path,
                           "no memory for the %llu bytes of %s", (unsigned long long)size, path);
        goto out;
    }
    rc = snap_io_read_all(io, fd, buf, (size_t)size, 0, path, diag);
    if (rc == 0) {
        *out = buf;
        *out_len = (size_t)size;
        buf = NULL;
    }
out:
    free(buf);
    snap_io_close_quiet(io, fd);
    return rc;
}

int snap_io_fsync_dir_as(const struct snap_io *io, const char *dir, const char *op,
                         struct snap_diag *diag)
{
    int fd;
    int rc = 0;

    fd = snap_io_open_retry(io, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0)
        return snap_io_fail(diag, op, dir, errno);
    if (io->fsync(io->ctx, fd) != 0)
        rc = snap_io_fail(diag, op, dir, errno);
    snap_io_close_quiet(io, fd);
    return rc;
}

int snap_io_fsync_dir(const struct snap_io *io, const char *dir, struct snap_diag *diag)
{
    return snap_io_fsync_dir_as(io, dir, "fsync-dir", diag);
}
