/* The snapcheck fault model: which file calls the interposer wraps, the libfiu point of each,
 * the errnos each call can really return on Linux, and the fault actions (SNAPFAULT_CASE).
 * Shared by the interposer (libsnapfault.so) and the snapcheck harness. The table is documented,
 * with the reason for each errno set, in docs/FAULTS.md. */
#ifndef SNAPFAULT_MODEL_H
#define SNAPFAULT_MODEL_H

#include <stdbool.h>
#include <stddef.h>

/* One wrapped call. Invariant: errnos holds n_errnos (>= 1) distinct positive errno values;
 * errnos[0] is the one used when libfiu fails the point with failinfo 0. */
struct sf_call {
    const char *name;   /* libc name: "fsync" (aliases such as __open_2: see sf_call_find) */
    const char *point;  /* libfiu point: "snapcheck/io/fsync" */
    const int *errnos;  /* what the call can return on Linux for a file under an existing dir */
    unsigned n_errnos;
    bool can_short;     /* write family: a short write is a legal outcome */
};

/* A fault action, the part after "<ordinal>:" in SNAPFAULT_CASE. */
struct sf_action {
    enum sf_action_kind {
        SF_ERRNO,        /* "errno=EIO": fail with err, the call is not performed */
        SF_SHORT,        /* "short=1|half|allbut1": write fewer bytes, return that count */
        SF_CRASH_BEFORE, /* "crash-before": SIGKILL before the call */
        SF_CRASH_AFTER,  /* "crash-after": perform the call, then SIGKILL */
    } kind;
    int err; /* SF_ERRNO only: the errno, > 0 */
    enum sf_short_len {
        SF_SHORT_ONE,     /* 1 byte */
        SF_SHORT_HALF,    /* len / 2, at least 1 */
        SF_SHORT_ALLBUT1, /* len - 1 */
    } shortlen;          /* SF_SHORT only */
    /* SF_ERRNO only, ",dirsync-shutdown" after the errno: when the call is an fsync or
     * fdatasync of a directory, the file system shuts down (every later modifying call fails
     * with EIO), as a journaling one does after a metadata write error (docs/CRASH.md 3). */
    bool dirsync_shutdown;
};

/* All wrapped calls, in a fixed order; *out_n receives the count. Never NULL. */
const struct sf_call *sf_calls(unsigned *out_n);

/* The call named name ("open", "fsync"...), or NULL if it is not wrapped. The other libc entry
 * points of a call find its model entry: "__open_2" -> open, "__open64_2" -> open64,
 * "__openat_2" -> openat, "__openat64_2" -> openat64, "creat64" -> creat,
 * "ftruncate64" -> ftruncate, "fallocate64" -> fallocate. */
const struct sf_call *sf_call_find(const char *name);

/* The symbolic name of errno value e ("EIO"), or NULL if the model does not know it. */
const char *sf_errno_name(int e);

/* The errno value named name ("EIO"), or 0 if unknown. */
int sf_errno_from_name(const char *name);

/* True if e is in call's errno set. */
bool sf_call_has_errno(const struct sf_call *call, int e);

/* Parse one action, without the ordinal: "errno=EIO", "short=1", "short=half",
 * "short=allbut1", "crash-before", "crash-after". @return 0, or -1 if spec is not one of these
 * (out is then unspecified). */
int sf_action_parse(struct sf_action *out, const char *spec);

/* Parse a whole SNAPFAULT_CASE value "<ordinal>:<action>" (ordinal decimal, >= 1).
 * @return 0, or -1 if malformed. */
int sf_case_parse(unsigned long long *out_ordinal, struct sf_action *out, const char *spec);

/* Write the canonical spec of act ("errno=EIO", "short=half", "crash-after") into dst, NUL
 * terminated. @return the length written, or -1 if dst_cap is too small or act is invalid. */
int sf_action_format(char *dst, size_t dst_cap, const struct sf_action *act);

/* The number of bytes a short write of a len-byte request performs (len >= 2 for a real short
 * write; for len <= 1 the full len is returned, a 1-byte write cannot be shortened). */
size_t sf_short_bytes(enum sf_short_len how, size_t len);

#endif
