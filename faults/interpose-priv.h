/* Internal interface between the libc wrappers (wrappers.c) and the interposer core
 * (interpose.c): deciding whether a call is counted, the fault decision, tracing, crashing.
 * Nothing outside faults/ includes this. */
#ifndef SNAPFAULT_INTERPOSE_PRIV_H
#define SNAPFAULT_INTERPOSE_PRIV_H

#include "model.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#define SF_PATH_MAX 4096

/* One counted call, from sf_enter_* to sf_leave. Lives on the wrapper's stack. */
struct sf_op {
    const struct sf_call *call;
    unsigned long long ordinal;
    char path[SF_PATH_MAX];  /* absolute, lexically normalised */
    char path2[SF_PATH_MAX]; /* rename target, "" when none */
    int fd;                  /* the fd argument of an fd-based call, -1 when none */
    bool has_offset, has_length;
    long long offset, length;
    char extra[64]; /* flags and modes, for the data trace ("" when none) */
    /* Decided by sf_decide: */
    int inject_err;  /* > 0: fail with this errno; the wrapper does not perform the call */
    bool short_write;
    enum sf_short_len shortlen;
    bool crash_after;
    char injected[40]; /* action spec for the trace, "" when nothing injected */
};

/* Each sf_enter_* returns true when the call is counted (the path is inside SNAPFAULT_DIR, the
 * interposer is initialised and this thread is not already inside a wrapper). Then the wrapper
 * MUST call sf_decide and sf_leave; otherwise it calls the real function and nothing else. */
bool sf_enter_path(struct sf_op *op, const char *name, int dirfd, const char *path);
/* Counted when either path is inside the directory (rename family). */
bool sf_enter_path2(struct sf_op *op, const char *name, int dirfd, const char *path, int dirfd2,
                    const char *path2);
/* Counted when the fd refers to a file whose current path is inside the directory. */
bool sf_enter_fd(struct sf_op *op, const char *name, int fd);

/* Assign the ordinal, apply SNAPFAULT_CASE and ask libfiu. May not return (crash-before). */
void sf_decide(struct sf_op *op);

/* Record the outcome: trace line (and written bytes, data[0..n_data) limited to result, when
 * SNAPFAULT_TRACE_DATA is set), crash-after, then leave errno = err. */
void sf_leave(struct sf_op *op, long long result, int err, const struct iovec *data, int n_data);

/* The file position an fd write will use (O_APPEND: the size), or -1 if it has none. */
long long sf_fd_position(int fd);

/* Resolve the next definition of a libc symbol (dlsym RTLD_NEXT). Aborts with a message if it
 * does not exist: a wrapper without a real function cannot do anything useful. */
void *sf_real(const char *name);

#endif
