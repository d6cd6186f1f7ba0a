/* Private to ref/src: the small wrappers over struct snap_io that the storage modules share on
 * top of the public helpers of snap/io.h (open with EINTR retried, checked and quiet close,
 * file and directory fsync that are never retried). */
#ifndef SNAP_IO_PRIV_H
#define SNAP_IO_PRIV_H

#include <stdint.h>

#include "snap/io.h"

struct snap_diag;

/* io->open, retried while it fails with EINTR. @return the fd, or -1 and errno. */
int snap_io_open_retry(const struct snap_io *io, const char *path, int flags, unsigned mode);

/* Open a file of a snapshot directory for reading (FORMAT.md 6.2): O_RDONLY | O_NONBLOCK |
 * O_NOFOLLOW, so that a FIFO cannot block the open and a symbolic link is refused, then io->fsize
 * refuses anything that is not a regular file. O_NONBLOCK stays set: it changes nothing for a
 * regular file. @param[out] out_fd  the descriptor, -1 on failure. @param[out] out_size  its size.
 * @return 0; SNAP_ENOENT when missing (nothing recorded: the caller names the error); SNAP_EIO
 * recorded in diag (a link: errno ELOOP; not a regular file: EISDIR or ESPIPE). */
int snap_io_open_regular(int *out_fd, uint64_t *out_size, const struct snap_io *io,
                         const char *path, struct snap_diag *diag);

/* Record an OS failure: SNAP_EIO with err, op and path. @return SNAP_EIO. */
int snap_io_fail(struct snap_diag *diag, const char *op, const char *path, int err);

/* One fsync of fd; a failure (EINTR included) is recorded as op "fsync" and never retried. */
int snap_io_fsync_file(const struct snap_io *io, int fd, const char *path,
                       struct snap_diag *diag);

/* Close a file this library wrote: a failure is recorded as op "close" (never retried: on Linux
 * the descriptor is gone whatever close returns). */
int snap_io_close_file(const struct snap_io *io, int fd, const char *path,
                       struct snap_diag *diag);

/* Close a descriptor that was only read, keeping errno; its result does not matter. */
void snap_io_close_quiet(const struct snap_io *io, int fd);

/* snap_io_fsync_dir, with op as the name recorded for any failure (open or fsync) so that the
 * caller can tell which step of the protocol failed ("fsync-dir-commit"). */
int snap_io_fsync_dir_as(const struct snap_io *io, const char *dir, const char *op,
                         struct snap_diag *diag);

#endif
