/* The fault model table (see model.h and docs/FAULTS.md, whose table must match this one) and
 * the parsers for fault actions. No allocation, no I/O: safe to call from the interposer at any
 * time, including early process start-up. */
#include "model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Why these sets: docs/FAULTS.md, "The fault model". errnos[0] is the default of a bare
 * libfiu enable (failinfo 0), so it is the most telling failure of the call. */
static const int open_errnos[] = {EIO,    EACCES, EMFILE, ENFILE, ENOSPC,
                                  EDQUOT, EROFS,  EINTR,  ENOMEM};
static const int write_errnos[] = {EIO, ENOSPC, EDQUOT, EINTR, EFBIG};
/* No EINTR: local file systems never return it from fsync (NFS and FUSE can). */
static const int sync_errnos[] = {EIO, ENOSPC, EDQUOT};
static const int sync_range_errnos[] = {EIO, ENOSPC, ENOMEM};
static const int rename_errnos[] = {EIO, ENOSPC, EDQUOT, EXDEV, EROFS, EACCES, EBUSY};
static const int unlink_errnos[] = {EIO, EACCES, EROFS, EBUSY};
static const int ftruncate_errnos[] = {EIO, EINTR, EFBIG, EPERM};
static const int close_errnos[] = {EIO, EINTR, ENOSPC, EDQUOT};
static const int mkdir_errnos[] = {EIO, ENOSPC, EDQUOT, EACCES, EROFS, EMLINK};
static const int fallocate_errnos[] = {EIO, ENOSPC, EDQUOT, EINTR, EFBIG, EOPNOTSUPP};

#define CALL(nm, set, sh) {nm, "snapcheck/io/" nm, set, (unsigned)N(set), sh}

static const struct sf_call calls[] = {
    CALL("open", open_errnos, false),
    CALL("open64", open_errnos, false),
    CALL("openat", open_errnos, false),
    CALL("openat64", open_errnos, false),
    CALL("creat", open_errnos, false),
    CALL("write", write_errnos, true),
    CALL("pwrite", write_errnos, true),
    CALL("pwrite64", write_errnos, true),
    CALL("writev", write_errnos, true),
    CALL("fsync", sync_errnos, false),
    CALL("fdatasync", sync_errnos, false),
    CALL("sync_file_range", sync_range_errnos, false),
    CALL("rename", rename_errnos, false),
    CALL("renameat", rename_errnos, false),
    CALL("renameat2", rename_errnos, false),
    CALL("unlink", unlink_errnos, false),
    CALL("unlinkat", unlink_errnos, false),
    CALL("ftruncate", ftruncate_errnos, false),
    CALL("close", close_errnos, false),
    CALL("mkdir", mkdir_errnos, false),
    CALL("mkdirat", mkdir_errnos, false),
    CALL("fallocate", fallocate_errnos, false),
};

/* Other libc entry points of the same calls (fortified and large-file variants): the
 * interposer wraps them too and counts them under the model name. */
static const struct {
    const char *alias;
    const char *name;
} aliases[] = {
    {"__open_2", "open"},           {"__open64_2", "open64"},   {"__openat_2", "openat"},
    {"__openat64_2", "openat64"},   {"creat64", "creat"},       {"ftruncate64", "ftruncate"},
    {"fallocate64", "fallocate"},
};

static const struct {
    int e;
    const char *name;
} errno_names[] = {
    {EIO, "EIO"},         {ENOSPC, "ENOSPC"},   {EDQUOT, "EDQUOT"},
    {EINTR, "EINTR"},     {EFBIG, "EFBIG"},     {EACCES, "EACCES"},
    {EMFILE, "EMFILE"},   {ENFILE, "ENFILE"},   {EROFS, "EROFS"},
    {ENOMEM, "ENOMEM"},   {EXDEV, "EXDEV"},     {EBUSY, "EBUSY"},
    {EPERM, "EPERM"},     {EMLINK, "EMLINK"},   {EOPNOTSUPP, "EOPNOTSUPP"},
    {EAGAIN, "EAGAIN"},   {EBADF, "EBADF"},     {EINVAL, "EINVAL"},
    {ENOENT, "ENOENT"},   {EEXIST, "EEXIST"},   {ENOTDIR, "ENOTDIR"},
    {EISDIR, "EISDIR"},   {ELOOP, "ELOOP"},     {ENAMETOOLONG, "ENAMETOOLONG"},
    {ETXTBSY, "ETXTBSY"}, {ENOTEMPTY, "ENOTEMPTY"}, {ESPIPE, "ESPIPE"},
    {ENXIO, "ENXIO"},     {EFAULT, "EFAULT"},   {EPIPE, "EPIPE"},
};

const struct sf_call *sf_calls(unsigned *out_n)
{
    *out_n = (unsigned)N(calls);
    return calls;
}

const struct sf_call *sf_call_find(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < N(aliases); i++)
        if (strcmp(aliases[i].alias, name) == 0) {
            name = aliases[i].name;
            break;
        }
    for (size_t i = 0; i < N(calls); i++)
        if (strcmp(calls[i].name, name) == 0)
            return &calls[i];
    return NULL;
}

const char *sf_errno_name(int e)
{
    for (size_t i = 0; i < N(errno_names); i++)
        if (errno_names[i].e == e)
            return errno_names[i].name;
    return NULL;
}

int sf_errno_from_name(const char *name)
{
    if (name == NULL)
        return 0;
    for (size_t i = 0; i < N(errno_names); i++)
        if (strcmp(errno_names[i].name, name) == 0)
            return errno_names[i].e;
    if (strcmp(name, "ENOTSUP") == 0) /* the same value on Linux */
        return ENOTSUP;
    return 0;
}

bool sf_call_has_errno(const struct sf_call *call, int e)
{
    for (unsigned i = 0; i < call->n_errnos; i++)
        if (call->errnos[i] == e)
            return true;
    return false;
}

int sf_action_parse(struct sf_action *out, const char *spec)
{
    if (spec == NULL)
        return -1;
    memset(out, 0, sizeof(*out));
    if (strncmp(spec, "errno=", 6) == 0) {
        static const char suffix[] = ",dirsync-shutdown";
        char name[32];
        size_t n = strlen(spec + 6), sl = sizeof suffix - 1;
        bool shut = n > sl && strcmp(spec + 6 + n - sl, suffix) == 0;
        if (shut)
            n -= sl;
        if (n >= sizeof name)
            return -1;
        memcpy(name, spec + 6, n);
        name[n] = '\0';
        int e = sf_errno_from_name(name);
        if (e == 0)
            return -1;
        out->kind = SF_ERRNO;
        out->err = e;
        out->dirsync_shutdown = shut;
        return 0;
    }
    if (strncmp(spec, "short=", 6) == 0) {
        const char *how = spec + 6;
        out->kind = SF_SHORT;
        if (strcmp(how, "1") == 0)
            out->shortlen = SF_SHORT_ONE;
        else if (strcmp(how, "half") == 0)
            out->shortlen = SF_SHORT_HALF;
        else if (strcmp(how, "allbut1") == 0)
            out->shortlen = SF_SHORT_ALLBUT1;
        else
            return -1;
        return 0;
    }
    if (strcmp(spec, "crash-before") == 0) {
        out->kind = SF_CRASH_BEFORE;
        return 0;
    }
    if (strcmp(spec, "crash-after") == 0) {
        out->kind = SF_CRASH_AFTER;
        return 0;
    }
    return -1;
}

int sf_case_parse(unsigned long long *out_ordinal, struct sf_action *out, const char *spec)
{
    unsigned long long ord = 0;
    const char *p = spec;

    if (p == NULL || *p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (ord > (~0ULL - d) / 10)
            return -1; /* overflow */
        ord = ord * 10 + d;
    }
    if (ord == 0 || *p != ':')
        return -1;
    if (sf_action_parse(out, p + 1) != 0)
        return -1;
    *out_ordinal = ord;
    return 0;
}

int sf_action_format(char *dst, size_t dst_cap, const struct sf_action *act)
{
    static const char *const shorts[] = {"short=1", "short=half", "short=allbut1"};
    const char *name;
    int n;

    switch (act->kind) {
    case SF_ERRNO:
        name = sf_errno_name(act->err);
        if (name == NULL)
            return -1;
        n = snprintf(dst, dst_cap, "errno=%s%s", name,
                     act->dirsync_shutdown ? ",dirsync-shutdown" : "");
        break;
    case SF_SHORT:
        if ((unsigned)act->shortlen >= N(shorts))
            return -1;
        n = snprintf(dst, dst_cap, "%s", shorts[act->shortlen]);
        break;
    case SF_CRASH_BEFORE:
        n = snprintf(dst, dst_cap, "crash-before");
        break;
    case SF_CRASH_AFTER:
        n = snprintf(dst, dst_cap, "crash-after");
        break;
    default:
        return -1;
    }
    if (n < 0 || (size_t)n >= dst_cap)
        return -1;
    return n;
}

size_t sf_short_bytes(enum sf_short_len how, size_t len)
{
    if (len <= 1)
        return len;
    switch (how) {
    case SF_SHORT_ONE:
        return 1;
    case SF_SHORT_HALF:
        return len / 2; /* >= 1 since len >= 2 */
    case SF_SHORT_ALLBUT1:
        return len - 1;
    }
    return len;
}
