/* faultio: a struct snap_io for tests that wraps a real backend (normally snap_io_posix) and
 * can fail the Nth call with an errno, shorten a read or write, count and record every call,
 * and "crash": perform calls 1..N and none after, so the files are left as a killed process
 * leaves them. Also the fixtures the storage tests share (temp dirs, VM states, images).
 *
 * Method: calls are numbered from 1 across all kinds in the order the library makes them. A
 * failed call is not performed and returns -1 with the planned errno. After a crash every call
 * returns -1/EIO without touching the file system (close still releases the descriptor, as the
 * kernel does for a dead process); with torn set, a pwrite that would have been the next call is
 * half performed first. The plain crash model is process death: what was written is visible.
 *
 * With power_loss set, the crash is a power cut: besides, file data written since the file's
 * last fsync is lost (the file is cut back to its length at that fsync, 0 if never synced), and
 * the directory operations (create, rename, unlink) since the last fsync of the root directory
 * are undone, newest first. keep_renames undoes only the creates and unlinks, keeping the renames:
 * a file system may persist a rename before the create of another file. Files that faultio did
 * not see being written (made before it was set up) count as durable. fsync_lies turns every
 * fsync into a no-op that reports success: the library under such a backend cannot be
 * crash-safe, which shows that a checker notices. */
#ifndef SNAP_TESTS_FAULTIO_H
#define SNAP_TESTS_FAULTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snap/snap.h"

enum fio_call {
    FIO_OPEN,
    FIO_CLOSE,
    FIO_PREAD,
    FIO_PWRITE,
    FIO_FSYNC,
    FIO_FSIZE,
    FIO_RENAME,
    FIO_UNLINK,
    FIO_LIST,
    FIO_NKINDS
};

#define FIO_LOG_MAX 512
#define FIO_FDS 64
#define FIO_FILES 32
#define FIO_JOURNAL 32

struct fio_entry {
    enum fio_call call;
    char name[96]; /* basename(s) of the path or of the file behind the fd; "." for the root */
    bool performed;
    int err;       /* errno returned, 0 on success */
};

struct faultio {
    struct snap_io io; /* hand &f->io to the library */
    const struct snap_io *real;
    const char *root;  /* paths equal to it are logged as "." (may be NULL) */
    /* plan: set after faultio_init */
    unsigned fail_at;     /* ordinal (1-based, all kinds) of the call to fail; 0: none */
    enum fio_call fail_kind;
    unsigned fail_nth;    /* or: the fail_nth-th call of fail_kind; 0: none */
    int fail_errno;
    unsigned short_at;    /* ordinal of a pread/pwrite that moves only half its bytes */
    long crash_after;     /* perform calls 1..crash_after, none after; -1: no crash */
    bool torn;            /* a pwrite that is the first call after the crash is half done */
    bool power_loss;      /* the crash also loses what was not made durable (see above) */
    bool keep_renames;    /* ... except unsynced renames */
    bool fsync_lies;      /* fsync does nothing and returns 0 */
    unsigned lie_at;      /* ordinal of one fsync that does nothing and returns 0; 0: none */
    /* observations */
    unsigned calls;
    unsigned count[FIO_NKINDS];
    unsigned faults;      /* calls failed by the plan (crash not counted) */
    bool crashed;
    unsigned renames;     /* renames performed */
    unsigned log_len;
    struct fio_entry log[FIO_LOG_MAX];
    struct {
        int fd;
        char name[96];
        char path[512];
    } fds[FIO_FDS];
    /* durability bookkeeping for power_loss */
    struct {
        char path[512]; /* "" when the slot is free */
        uint64_t synced_len;
    } files[FIO_FILES];
    unsigned journal_len;
    struct fio_dirop {
        enum fio_call call; /* FIO_OPEN (a create), FIO_RENAME, FIO_UNLINK */
        char path[512];     /* created or unlinked file, rename source */
        char to[512];       /* rename target */
        uint8_t *saved;     /* content of the unlinked file or of the replaced rename target */
        size_t saved_len;
        bool had_saved;
    } journal[FIO_JOURNAL];
};

/* Wrap real (NULL: snap_io_posix); no plan, counters zero. root may be NULL. */
void faultio_init(struct faultio *f, const struct snap_io *real, const char *root);
/* Cut the power now and stop performing calls. What is lost is what the bookkeeping saw, which
 * it keeps only while power_loss is set (set it before the operation). */
void faultio_power_off(struct faultio *f);
/* Free what the durability bookkeeping holds (call it after any run with power_loss). */
void faultio_finish(struct faultio *f);
const char *faultio_call_name(enum fio_call call);
/* The performed and failed calls as "call name" lines joined by '\n'. @return 0 or -1 (cap). */
int faultio_trace(const struct faultio *f, char *dst, size_t dst_cap);

/* Fixtures. */
struct tfix_vm {
    struct snap_vm_state st;
    struct snap_vcpu vcpus[2];
    struct snap_device devices[1];
    uint8_t regs[2][32];
    uint8_t device_state[16];
    uint8_t gic[24];
    char cpu_template[8];
    char kernel[32];
    char boot_args[32];
    char device_name[16];
};
/* A compatible state for ram_size = mem_mib MiB; the bytes depend on seed. */
void tfix_vm_init(struct tfix_vm *vm, uint32_t mem_mib, bool track_dirty, unsigned seed);
/* A new empty directory under /tmp (free() the path after tfix_rmdir). */
char *tfix_mkdir(void);
/* Remove every file in dir, then dir; frees dir. */
void tfix_rmdir(char *dir);
/* A guest image of len bytes where every page of 4 KiB differs from the others and from other
 * seeds. free() it. */
uint8_t *tfix_memory(uint64_t len, unsigned seed);
/* Sorted names in dir joined by ' '. @return 0 or -1. */
int tfix_listing(const char *dir, char *dst, size_t dst_cap);
/* Whole file dir/name (free() it) or NULL if it cannot be read. */
uint8_t *tfix_read(const char *dir, const char *name, size_t *out_len);
int tfix_write(const char *dir, const char *name, const void *src, size_t len);
bool tfix_exists(const char *dir, const char *name);
/* Copy every file of src into the empty directory dst. @return 0 or -1. */
int tfix_copy_dir(const char *dst, const char *src);

#endif
