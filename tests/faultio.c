/* faultio: the fault-injecting, call-recording, crash-simulating struct snap_io of the tests,
 * and the fixtures the storage tests share. The method is in faultio.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "faultio.h"

static const char *const call_names[FIO_NKINDS] = {
    "open", "close", "pread", "pwrite", "fsync", "fsize", "rename", "unlink", "list",
};

const char *faultio_call_name(enum fio_call call)
{
    return (unsigned)call < FIO_NKINDS ? call_names[call] : "?";
}

static void display_name(const struct faultio *f, const char *path, char *dst, size_t cap)
{
    const char *slash;

    if (f->root != NULL && strcmp(path, f->root) == 0) {
        snprintf(dst, cap, ".");
        return;
    }
    slash = strrchr(path, '/');
    snprintf(dst, cap, "%s", slash != NULL ? slash + 1 : path);
}

static const char *fd_name(const struct faultio *f, int fd)
{
    for (unsigned i = 0; i < FIO_FDS; i++) {
        if (f->fds[i].fd == fd)
            return f->fds[i].name;
    }
    return "?";
}

static const char *fd_path(const struct faultio *f, int fd)
{
    for (unsigned i = 0; i < FIO_FDS; i++) {
        if (f->fds[i].fd == fd)
            return f->fds[i].path;
    }
    return "";
}

static void remember_fd(struct faultio *f, int fd, const char *name, const char *path)
{
    for (unsigned i = 0; i < FIO_FDS; i++) {
        if (f->fds[i].fd < 0) {
            f->fds[i].fd = fd;
            snprintf(f->fds[i].name, sizeof(f->fds[i].name), "%s", name);
            snprintf(f->fds[i].path, sizeof(f->fds[i].path), "%s", path);
            return;
        }
    }
}

/* Durability bookkeeping (power_loss). */

static uint64_t size_of(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static int file_slot(struct faultio *f, const char *path)
{
    for (int i = 0; i < FIO_FILES; i++) {
        if (strcmp(f->files[i].path, path) == 0)
            return i;
    }
    return -1;
}

/* Start tracking path with the given durable length, unless it is tracked already. */
static void track_file(struct faultio *f, const char *path, uint64_t synced_len)
{
    if (!f->power_loss || path[0] == '\0' || file_slot(f, path) >= 0)
        return;
    for (int i = 0; i < FIO_FILES; i++) {
        if (f->files[i].path[0] == '\0') {
            snprintf(f->files[i].path, sizeof(f->files[i].path), "%s", path);
            f->files[i].synced_len = synced_len;
            return;
        }
    }
}

static void untrack_file(struct faultio *f, const char *path)
{
    int i = file_slot(f, path);

    if (i >= 0)
        f->files[i].path[0] = '\0';
}

static struct fio_dirop *journal_add(struct faultio *f, enum fio_call call, const char *path,
                                     const char *to)
{
    struct fio_dirop *op;

    if (!f->power_loss || f->journal_len == FIO_JOURNAL)
        return NULL;
    op = &f->journal[f->journal_len++];
    memset(op, 0, sizeof(*op));
    op->call = call;
    snprintf(op->path, sizeof(op->path), "%s", path);
    snprintf(op->to, sizeof(op->to), "%s", to != NULL ? to : "");
    return op;
}

static void journal_save(struct fio_dirop *op, const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[512];

    if (op == NULL || slash == NULL)
        return;
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    op->saved = tfix_read(dir, slash + 1, &op->saved_len);
    op->had_saved = op->saved != NULL;
}

static void journal_clear(struct faultio *f)
{
    for (unsigned i = 0; i < f->journal_len; i++)
        free(f->journal[i].saved);
    f->journal_len = 0;
}

static void put_back(const char *path, const uint8_t *src, size_t len)
{
    const char *slash = strrchr(path, '/');
    char dir[512];

    if (slash == NULL)
        return;
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    (void)tfix_write(dir, slash + 1, src, len);
}

void faultio_power_off(struct faultio *f)
{
    f->crashed = true;
    if (f->crash_after < 0 || (long)f->calls < f->crash_after)
        f->crash_after = (long)f->calls;
    /* Data first: each written file keeps what its last fsync made durable. */
    for (unsigned i = 0; i < FIO_FILES; i++) {
        if (f->files[i].path[0] != '\0' && size_of(f->files[i].path) > f->files[i].synced_len)
            (void)truncate(f->files[i].path, (off_t)f->files[i].synced_len);
    }
    /* Then the directory, newest operation first. */
    for (unsigned i = f->journal_len; i-- > 0;) {
        struct fio_dirop *op = &f->journal[i];

        if (op->call == FIO_OPEN) {
            (void)unlink(op->path);
        } else if (op->call == FIO_RENAME && !f->keep_renames) {
            (void)rename(op->to, op->path);
            if (op->had_saved)
                put_back(op->to, op->saved, op->saved_len);
        } else if (op->call == FIO_UNLINK && op->had_saved) {
            put_back(op->path, op->saved, op->saved_len);
        }
    }
    journal_clear(f);
    memset(f->files, 0, sizeof(f->files));
}

void faultio_finish(struct faultio *f)
{
    journal_clear(f);
}

static void forget_fd(struct faultio *f, int fd)
{
    for (unsigned i = 0; i < FIO_FDS; i++) {
        if (f->fds[i].fd == fd)
            f->fds[i].fd = -1;
    }
}

enum verdict { DO_IT, FAIL_IT, SHORT_IT, TEAR_IT };

/* Number the call, log it, and decide its fate. */
static enum verdict begin(struct faultio *f, enum fio_call call, const char *name, int *err)
{
    struct fio_entry *e = NULL;
    unsigned ordinal = ++f->calls;
    unsigned nth = ++f->count[call];
    enum verdict v = DO_IT;

    *err = 0;
    if (f->log_len < FIO_LOG_MAX) {
        e = &f->log[f->log_len++];
        e->call = call;
        snprintf(e->name, sizeof(e->name), "%s", name);
    }
    if (f->crash_after >= 0 && (long)ordinal > f->crash_after) {
        if (!f->crashed && f->torn && call == FIO_PWRITE)
            v = TEAR_IT;
        else
            v = FAIL_IT;
        if (!f->crashed && f->power_loss && v == FAIL_IT)
            faultio_power_off(f);
        f->crashed = true;
        *err = EIO;
    } else if ((f->fail_at != 0 && ordinal == f->fail_at) ||
               (f->fail_nth != 0 && call == f->fail_kind && nth == f->fail_nth)) {
        v = FAIL_IT;
        *err = f->fail_errno;
        f->faults++;
    } else if (f->short_at != 0 && ordinal == f->short_at &&
               (call == FIO_PWRITE || call == FIO_PREAD)) {
        v = SHORT_IT;
    }
    if (e != NULL) {
        e->performed = v != FAIL_IT;
        e->err = *err;
    }
    return v;
}

static int fio_open(void *ctx, const char *path, int flags, unsigned mode)
{
    struct faultio *f = ctx;
    char name[96];
    int err;
    int fd;

    bool existed;

    display_name(f, path, name, sizeof(name));
    if (begin(f, FIO_OPEN, name, &err) != DO_IT) {
        errno = err;
        return -1;
    }
    existed = access(path, F_OK) == 0;
    fd = f->real->open(f->real->ctx, path, flags, mode);
    err = errno;
    if (fd >= 0) {
        remember_fd(f, fd, name, path);
        if ((flags & O_ACCMODE) != O_RDONLY) {
            track_file(f, path, existed ? size_of(path) : 0);
            if (!existed)
                (void)journal_add(f, FIO_OPEN, path, NULL);
        }
    } else if (f->log_len != 0) {
        f->log[f->log_len - 1].err = err;
    }
    errno = err;
    return fd;
}

static int fio_close(void *ctx, int fd)
{
    struct faultio *f = ctx;
    int err;
    enum verdict v = begin(f, FIO_CLOSE, fd_name(f, fd), &err);
    int rc;

    /* The descriptor goes in every case: a failed close on Linux has released it too, and a dead
     * process has none. */
    forget_fd(f, fd);
    rc = f->real->close(f->real->ctx, fd);
    if (v != DO_IT) {
        errno = err;
        return -1;
    }
    return rc;
}

static ssize_t fio_pread(void *ctx, int fd, void *dst, size_t len, uint64_t off)
{
    struct faultio *f = ctx;
    int err;
    enum verdict v = begin(f, FIO_PREAD, fd_name(f, fd), &err);

    if (v == FAIL_IT || v == TEAR_IT) {
        errno = err;
        return -1;
    }
    if (v == SHORT_IT && len > 1)
        len /= 2;
    return f->real->pread(f->real->ctx, fd, dst, len, off);
}

static ssize_t fio_pwrite(void *ctx, int fd, const void *src, size_t len, uint64_t off)
{
    struct faultio *f = ctx;
    int err;
    enum verdict v = begin(f, FIO_PWRITE, fd_name(f, fd), &err);

    if (v == FAIL_IT) {
        errno = err;
        return -1;
    }
    if (v == TEAR_IT) {
        (void)f->real->pwrite(f->real->ctx, fd, src, len > 1 ? len / 2 : len, off);
        errno = err;
        return -1;
    }
    if (v == SHORT_IT && len > 1)
        len /= 2;
    return f->real->pwrite(f->real->ctx, fd, src, len, off);
}

static int fio_fsync(void *ctx, int fd)
{
    struct faultio *f = ctx;
    int err;

    const char *path = fd_path(f, fd);
    int i;

    if (begin(f, FIO_FSYNC, fd_name(f, fd), &err) != DO_IT) {
        errno = err;
        return -1;
    }
    if (f->fsync_lies || (f->lie_at != 0 && f->calls == f->lie_at))
        return 0;
    if (f->real->fsync(f->real->ctx, fd) != 0)
        return -1;
    if (f->root != NULL && strcmp(path, f->root) == 0) {
        journal_clear(f);
    } else {
        i = file_slot(f, path);
        if (i >= 0)
            f->files[i].synced_len = size_of(path);
    }
    return 0;
}

static int fio_fsize(void *ctx, int fd, uint64_t *out)
{
    struct faultio *f = ctx;
    int err;

    if (begin(f, FIO_FSIZE, fd_name(f, fd), &err) != DO_IT) {
        errno = err;
        return -1;
    }
    return f->real->fsize(f->real->ctx, fd, out);
}

static int fio_rename(void *ctx, const char *from, const char *to)
{
    struct faultio *f = ctx;
    char a[96];
    char b[96];
    char name[96];
    int err;
    int rc;

    display_name(f, from, a, sizeof(a));
    display_name(f, to, b, sizeof(b));
    snprintf(name, sizeof(name), "%.40s>%.40s", a, b);
    struct fio_dirop *op;
    int slot;

    if (begin(f, FIO_RENAME, name, &err) != DO_IT) {
        errno = err;
        return -1;
    }
    op = journal_add(f, FIO_RENAME, from, to);
    journal_save(op, to);
    rc = f->real->rename(f->real->ctx, from, to);
    if (rc != 0) {
        err = errno;
        if (op != NULL) {
            free(op->saved);
            f->journal_len--;
        }
        errno = err;
        return rc;
    }
    f->renames++;
    untrack_file(f, to);
    slot = file_slot(f, from);
    if (slot >= 0)
        snprintf(f->files[slot].path, sizeof(f->files[slot].path), "%s", to);
    return 0;
}

static int fio_unlink(void *ctx, const char *path)
{
    struct faultio *f = ctx;
    char name[96];
    int err;

    display_name(f, path, name, sizeof(name));
    struct fio_dirop *op;
    int rc;

    if (begin(f, FIO_UNLINK, name, &err) != DO_IT) {
        errno = err;
        return -1;
    }
    op = journal_add(f, FIO_UNLINK, path, NULL);
    journal_save(op, path);
    rc = f->real->unlink(f->real->ctx, path);
    if (rc != 0) {
        err = errno;
        if (op != NULL) {
            free(op->saved);
            f->journal_len--;
        }
        errno = err;
        return rc;
    }
    untrack_file(f, path);
    return 0;
}

static int fio_list(void *ctx, const char *dir, int (*cb)(void *arg, const char *name),
                    void *arg)
{
    struct faultio *f = ctx;
    char name[96];
    int err;

    display_name(f, dir, name, sizeof(name));
    if (begin(f, FIO_LIST, name, &err) != DO_IT) {
        errno = err;
        return -1;
    }
    return f->real->list(f->real->ctx, dir, cb, arg);
}

void faultio_init(struct faultio *f, const struct snap_io *real, const char *root)
{
    memset(f, 0, sizeof(*f));
    f->real = real != NULL ? real : &snap_io_posix;
    f->root = root;
    f->crash_after = -1;
    for (unsigned i = 0; i < FIO_FDS; i++)
        f->fds[i].fd = -1;
    f->io.ctx = f;
    f->io.open = fio_open;
    f->io.close = fio_close;
    f->io.pread = fio_pread;
    f->io.pwrite = fio_pwrite;
    f->io.fsync = fio_fsync;
    f->io.fsize = fio_fsize;
    f->io.rename = fio_rename;
    f->io.unlink = fio_unlink;
    f->io.list = fio_list;
}

int faultio_trace(const struct faultio *f, char *dst, size_t dst_cap)
{
    size_t used = 0;

    if (dst_cap == 0)
        return -1;
    dst[0] = '\0';
    for (unsigned i = 0; i < f->log_len; i++) {
        int n = snprintf(dst + used, dst_cap - used, "%s%s %s", i != 0 ? "\n" : "",
                         faultio_call_name(f->log[i].call), f->log[i].name);
        if (n < 0 || (size_t)n >= dst_cap - used)
            return -1;
        used += (size_t)n;
    }
    return 0;
}

/* Fixtures. */

void tfix_vm_init(struct tfix_vm *vm, uint32_t mem_mib, bool track_dirty, unsigned seed)
{
    memset(vm, 0, sizeof(*vm));
    snprintf(vm->cpu_template, sizeof(vm->cpu_template), "V1N1");
    snprintf(vm->kernel, sizeof(vm->kernel), "/boot/vmlinux-%u", seed);
    snprintf(vm->boot_args, sizeof(vm->boot_args), "console=ttyAMA0 seed=%u", seed);
    snprintf(vm->device_name, sizeof(vm->device_name), "virtio-blk");
    for (unsigned i = 0; i < 2; i++) {
        for (unsigned j = 0; j < sizeof(vm->regs[i]); j++)
            vm->regs[i][j] = (uint8_t)(seed * 31 + i * 7 + j);
        vm->vcpus[i].index = i;
        vm->vcpus[i].mpidr = 0x80000000u + i;
        vm->vcpus[i].regs = vm->regs[i];
        vm->vcpus[i].regs_len = sizeof(vm->regs[i]);
    }
    for (unsigned j = 0; j < sizeof(vm->device_state); j++)
        vm->device_state[j] = (uint8_t)(seed + j);
    for (unsigned j = 0; j < sizeof(vm->gic); j++)
        vm->gic[j] = (uint8_t)(seed ^ j);
    vm->devices[0].name = vm->device_name;
    vm->devices[0].state = vm->device_state;
    vm->devices[0].state_len = sizeof(vm->device_state);
    vm->st.info.mem_size_mib = mem_mib;
    vm->st.info.smt = false;
    vm->st.info.track_dirty_pages = track_dirty;
    vm->st.info.cpu_template = vm->cpu_template;
    vm->st.info.kernel_image_path = vm->kernel;
    vm->st.info.initrd_path = NULL;
    vm->st.info.boot_args = vm->boot_args;
    vm->st.vcpus = vm->vcpus;
    vm->st.vcpu_count = 2;
    vm->st.devices = vm->devices;
    vm->st.device_count = 1;
    vm->st.gic = vm->gic;
    vm->st.gic_len = sizeof(vm->gic);
    vm->st.has_mmds = false;
}

char *tfix_mkdir(void)
{
    char *dir = strdup("/tmp/snaptest-XXXXXX");

    if (dir != NULL && mkdtemp(dir) == NULL) {
        free(dir);
        dir = NULL;
    }
    return dir;
}

void tfix_rmdir(char *dir)
{
    char path[4200];
    struct dirent *e;
    DIR *d;

    if (dir == NULL)
        return;
    d = opendir(dir);
    if (d != NULL) {
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            if (unlink(path) != 0 && errno == EISDIR)
                (void)rmdir(path); /* an empty directory a test made */
        }
        closedir(d);
    }
    (void)rmdir(dir);
    free(dir);
}

uint8_t *tfix_memory(uint64_t len, unsigned seed)
{
    uint8_t *m = malloc(len != 0 ? (size_t)len : 1);
    uint64_t x = 0x9E3779B97F4A7C15ull * (seed + 1);

    if (m == NULL)
        return NULL;
    for (uint64_t i = 0; i < len; i++) {
        /* xorshift: distinct pages, never all zero */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        m[i] = (uint8_t)x;
    }
    return m;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int tfix_listing(const char *dir, char *dst, size_t dst_cap)
{
    char *names[256];
    size_t n = 0;
    size_t used = 0;
    struct dirent *e;
    DIR *d = opendir(dir);
    int rc = 0;

    if (d == NULL || dst_cap == 0)
        return -1;
    while ((e = readdir(d)) != NULL && n < 256) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), compare_names);
    dst[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(dst + used, dst_cap - used, "%s%s", i != 0 ? " " : "",
                         names[i] != NULL ? names[i] : "?");
        if (w < 0 || (size_t)w >= dst_cap - used)
            rc = -1;
        else
            used += (size_t)w;
        free(names[i]);
    }
    return rc;
}

uint8_t *tfix_read(const char *dir, const char *name, size_t *out_len)
{
    char path[4200];
    struct stat st;
    uint8_t *buf;
    size_t got = 0;
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return NULL;
    }
    buf = malloc(st.st_size != 0 ? (size_t)st.st_size : 1);
    while (buf != NULL && got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n <= 0) {
            free(buf);
            buf = NULL;
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (buf != NULL && out_len != NULL)
        *out_len = got;
    return buf;
}

int tfix_write(const char *dir, const char *name, const void *src, size_t len)
{
    char path[4200];
    const uint8_t *p = src;
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n <= 0) {
            close(fd);
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return close(fd);
}

bool tfix_exists(const char *dir, const char *name)
{
    char path[4200];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

int tfix_copy_dir(const char *dst, const char *src)
{
    struct dirent *e;
    DIR *d = opendir(src);
    int rc = 0;

    if (d == NULL)
        return -1;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        uint8_t *buf;
        size_t len = 0;

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        buf = tfix_read(src, e->d_name, &len);
        rc = buf != NULL ? tfix_write(dst, e->d_name, buf, len) : -1;
        free(buf);
    }
    closedir(d);
    return rc;
}
