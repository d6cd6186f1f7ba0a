/* The one table through which libsnapref reaches the OS. The default (snap_io_posix) calls the
 * plain libc functions open, pread, pwrite, fsync, rename, unlink, close, so that a preloaded
 * interposer or libfiu sees every call; tests swap in a fault-injecting table. */
#ifndef SNAP_IO_H
#define SNAP_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Each method returns what the libc call returns and sets errno the same way (-1 and errno on
 * failure). ctx is the table's own pointer. */
struct snap_io {
    void *ctx;
    int (*open)(void *ctx, const char *path, int flags, unsigned mode);
    int (*close)(void *ctx, int fd);
    ssize_t (*pread)(void *ctx, int fd, void *dst, size_t len, uint64_t off);
    ssize_t (*pwrite)(void *ctx, int fd, const void *src, size_t len, uint64_t off);
    int (*fsync)(void *ctx, int fd);
    /* fstat st_size of a regular file; any other file fails: EISDIR for a directory, ESPIPE
     * for a FIFO, socket or device (what pread would say), so the library reads regular
     * files only. */
    int (*fsize)(void *ctx, int fd, uint64_t *out);
    int (*rename)(void *ctx, const char *from, const char *to);
    int (*unlink)(void *ctx, const char *path);
    /* Call cb(arg, name) for each entry of dir except . and ..; stop early and return cb's
     * value if it is non-zero. -1 and errno if dir cannot be read. */
    int (*list)(void *ctx, const char *dir, int (*cb)(void *arg, const char *name), void *arg);
};

/* The libc backend. */
extern const struct snap_io snap_io_posix;

/* Helpers built on a table, used by every module. Each retries EINTR, continues short reads and
 * writes, and records a failure in diag (op and path) as SNAP_EIO with the errno.
 * A zero-length pwrite or pread progress on a non-empty request is an error (EIO). */
struct snap_diag;
int snap_io_write_all(const struct snap_io *io, int fd, const void *src, size_t len, uint64_t off,
                      const char *path, struct snap_diag *diag);
/* Reads exactly len bytes; a file that ends first is SNAP_ETRUNC. */
int snap_io_read_all(const struct snap_io *io, int fd, void *dst, size_t len, uint64_t off,
                     const char *path, struct snap_diag *diag);
/* Read a whole file of at most max_len bytes into a new heap buffer (*out, free() it). The file
 * is opened as snap_io_open_regular does (no link followed, nothing but a regular file).
 * @return 0, SNAP_ENOENT (missing), SNAP_EIO, SNAP_ELIMIT (larger than max_len), SNAP_ENOMEM. */
int snap_io_read_file(uint8_t **out, size_t *out_len, const struct snap_io *io, const char *path,
                      uint64_t max_len, struct snap_diag *diag);
/* open(dir, O_RDONLY|O_DIRECTORY), fsync, close. Never retried on failure. */
int snap_io_fsync_dir(const struct snap_io *io, const char *dir, struct snap_diag *diag);

#endif
