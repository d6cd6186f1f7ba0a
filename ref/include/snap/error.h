/* Error codes of libsnapref and the diagnostic record that carries the details.
 * Every public function returns 0 or one negative enum snap_err; docs/FORMAT.md section 8. */
#ifndef SNAP_ERROR_H
#define SNAP_ERROR_H

#include <stdint.h>

enum snap_err {
    SNAP_OK = 0,
    SNAP_EINVAL = -1,     /* bad argument from the caller (never from a file) */
    SNAP_EIO = -2,        /* an OS call failed: diag->sys_errno and diag->op say which */
    SNAP_ENOMEM = -3,     /* out of memory */
    SNAP_EMAGIC = -4,     /* not a snapshot file */
    SNAP_EVERSION = -5,   /* unsupported version, schema or incompatible feature flag */
    SNAP_ETRUNC = -6,     /* file ends early */
    SNAP_ECRC = -7,       /* checksum mismatch */
    SNAP_ECORRUPT = -8,   /* a field breaks a rule of the format */
    SNAP_ELIMIT = -9,     /* a length or count over a limit */
    SNAP_EPAIR = -10,     /* memory file or base does not belong to this state file */
    SNAP_EPAGE = -11,     /* a memory page differs from what was saved: diag->page */
    SNAP_ENOENT = -12,    /* no snapshot under that id */
    SNAP_EINCOMPAT = -13, /* state decodes but is not compatible */
};

#define SNAP_ERR_MIN SNAP_EINCOMPAT

#define SNAP_NO_PAGE UINT64_MAX

/* Details of the last failure of one call. Caller-owned; every function that takes a
 * struct snap_diag * accepts NULL. Filled only on failure (code != 0), the first (lowest-layer)
 * failure wins: an upper layer never overwrites what a lower layer recorded. */
struct snap_diag {
    int code;          /* enum snap_err */
    int sys_errno;     /* OS errno for SNAP_EIO, else 0 */
    const char *op;    /* OS call or step that failed ("open", "fsync", "rename", "decode"...) */
    uint64_t page;     /* guest page index for SNAP_EPAGE, else SNAP_NO_PAGE */
    char path[512];    /* file concerned, "" if none */
    char msg[512];     /* one human sentence naming the thing and the reason */
};

/* Name of an error code ("SNAP_ECRC: checksum mismatch"); never NULL. */
const char *snap_strerror(int code);

/* Reset a diag to "no error" (code 0, page SNAP_NO_PAGE, empty strings). NULL is accepted. */
void snap_diag_clear(struct snap_diag *diag);

/* Record a failure in diag unless diag is NULL or already holds one; printf-style msg.
 * @return code, so that callers can write `return snap_diag_set(...)`. */
int snap_diag_set(struct snap_diag *diag, int code, int sys_errno, const char *op,
                  const char *path, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

#endif
