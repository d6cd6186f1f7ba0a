/* Error names and the diagnostic record of libsnapref (docs/FORMAT.md section 8).
 * Every layer reports through snap_diag_set; the first failure recorded wins. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "snap/error.h"

const char *snap_strerror(int code)
{
    switch (code) {
    case SNAP_OK:
        return "SNAP_OK: success";
    case SNAP_EINVAL:
        return "SNAP_EINVAL: invalid argument";
    case SNAP_EIO:
        return "SNAP_EIO: I/O error";
    case SNAP_ENOMEM:
        return "SNAP_ENOMEM: out of memory";
    case SNAP_EMAGIC:
        return "SNAP_EMAGIC: not a snapshot file";
    case SNAP_EVERSION:
        return "SNAP_EVERSION: unsupported version";
    case SNAP_ETRUNC:
        return "SNAP_ETRUNC: file ends early";
    case SNAP_ECRC:
        return "SNAP_ECRC: checksum mismatch";
    case SNAP_ECORRUPT:
        return "SNAP_ECORRUPT: corrupt field";
    case SNAP_ELIMIT:
        return "SNAP_ELIMIT: length or count over a limit";
    case SNAP_EPAIR:
        return "SNAP_EPAIR: memory file or base does not belong to this state file";
    case SNAP_EPAGE:
        return "SNAP_EPAGE: memory page differs from what was saved";
    case SNAP_ENOENT:
        return "SNAP_ENOENT: no snapshot under that id";
    case SNAP_EINCOMPAT:
        return "SNAP_EINCOMPAT: state is not compatible";
    default:
        return "SNAP_E?: unknown error code";
    }
}

void snap_diag_clear(struct snap_diag *diag)
{
    if (diag == NULL)
        return;
    diag->code = 0;
    diag->sys_errno = 0;
    diag->op = NULL;
    diag->page = SNAP_NO_PAGE;
    diag->path[0] = '\0';
    diag->msg[0] = '\0';
}

/* Copy src into a fixed field, cutting it short rather than overflowing. */
static void copy_field(char *dst, size_t dst_cap, const char *src)
{
    size_t n = strlen(src);

    if (n >= dst_cap)
        n = dst_cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int snap_diag_set(struct snap_diag *diag, int code, int sys_errno, const char *op, const char *path,
                  const char *fmt, ...)
{
    va_list ap;

    if (diag == NULL || diag->code != 0 || code == 0)
        return code;
    diag->code = code;
    diag->sys_errno = sys_errno;
    diag->op = op;
    diag->page = SNAP_NO_PAGE;
    copy_field(diag->path, sizeof(diag->path), path != NULL ? path : "");
    diag->msg[0] = '\0';
    if (fmt != NULL) {
        va_start(ap, fmt);
        /* vsnprintf truncates and always terminates; a failure leaves an empty message. */
        if (vsnprintf(diag->msg, sizeof(diag->msg), fmt, ap) < 0)
            diag->msg[0] = '\0';
        va_end(ap);
    }
    return code;
}
