/* In-memory, read-only file system implementing struct snap_io for the pair_load fuzz target.
 * Descriptors start at MEMIO_FD_BASE so that a stray use of a real descriptor is not mistaken
 * for one of ours; every method checks its descriptor and sets errno like the libc call. */
#include "memio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>

#define MEMIO_FD_BASE 1000

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static int find(const struct memio *m, const char *name)
{
    for (size_t i = 0; i < m->file_count; i++)
        if (strcmp(m->files[i].name, name) == 0)
            return (int)i;
    return -1;
}

static const struct memio_file *file_of(const struct memio *m, int fd)
{
    int slot = fd - MEMIO_FD_BASE;
    if (slot < 0 || slot >= MEMIO_MAX_FDS || m->fds[slot] == 0)
        return NULL;
    return &m->files[m->fds[slot] - 1];
}

static int mem_open(void *ctx, const char *path, int flags, unsigned mode)
{
    struct memio *m = ctx;
    (void)mode;
    if ((flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC))) {
        errno = EROFS;
        return -1;
    }
    int idx = find(m, base_name(path));
    if (idx < 0) {
        errno = ENOENT;
        return -1;
    }
    for (int slot = 0; slot < MEMIO_MAX_FDS; slot++) {
        if (m->fds[slot] == 0) {
            m->fds[slot] = idx + 1;
            return MEMIO_FD_BASE + slot;
        }
    }
    errno = EMFILE;
    return -1;
}

static int mem_close(void *ctx, int fd)
{
    struct memio *m = ctx;
    if (!file_of(m, fd)) {
        errno = EBADF;
        return -1;
    }
    m->fds[fd - MEMIO_FD_BASE] = 0;
    return 0;
}

static ssize_t mem_pread(void *ctx, int fd, void *dst, size_t len, uint64_t off)
{
    const struct memio_file *f = file_of(ctx, fd);
    if (!f) {
        errno = EBADF;
        return -1;
    }
    if (off >= f->len || len == 0)
        return 0;
    size_t n = f->len - (size_t)off < len ? f->len - (size_t)off : len;
    if (n > SSIZE_MAX)
        n = SSIZE_MAX;
    memcpy(dst, f->data + off, n);
    return (ssize_t)n;
}

static ssize_t mem_pwrite(void *ctx, int fd, const void *src, size_t len, uint64_t off)
{
    (void)src;
    (void)len;
    (void)off;
    errno = file_of(ctx, fd) ? EROFS : EBADF;
    return -1;
}

static int mem_fsync(void *ctx, int fd)
{
    if (!file_of(ctx, fd)) {
        errno = EBADF;
        return -1;
    }
    return 0;
}

static int mem_fsize(void *ctx, int fd, uint64_t *out)
{
    const struct memio_file *f = file_of(ctx, fd);
    if (!f) {
        errno = EBADF;
        return -1;
    }
    *out = f->len;
    return 0;
}

static int mem_rename(void *ctx, const char *from, const char *to)
{
    (void)ctx;
    (void)from;
    (void)to;
    errno = EROFS;
    return -1;
}

static int mem_unlink(void *ctx, const char *path)
{
    (void)path;
    errno = find(ctx, base_name(path)) < 0 ? ENOENT : EROFS;
    return -1;
}

static int mem_list(void *ctx, const char *dir, int (*cb)(void *arg, const char *name), void *arg)
{
    const struct memio *m = ctx;
    (void)dir;
    for (size_t i = 0; i < m->file_count; i++) {
        int rc = cb(arg, m->files[i].name);
        if (rc != 0)
            return rc;
    }
    return 0;
}

void memio_init(struct memio *m)
{
    memset(m, 0, sizeof *m);
    m->io = (struct snap_io){
        .ctx = m,
        .open = mem_open,
        .close = mem_close,
        .pread = mem_pread,
        .pwrite = mem_pwrite,
        .fsync = mem_fsync,
        .fsize = mem_fsize,
        .rename = mem_rename,
        .unlink = mem_unlink,
        .list = mem_list,
    };
}

int memio_add(struct memio *m, const char *name, const uint8_t *data, size_t len)
{
    size_t n = strlen(name);
    if (n == 0 || n >= MEMIO_NAME_MAX || strchr(name, '/') || m->file_count >= MEMIO_MAX_FILES)
        return -1;
    if (find(m, name) >= 0)
        return 0;
    struct memio_file *f = &m->files[m->file_count++];
    memcpy(f->name, name, n + 1);
    f->data = data;
    f->len = len;
    return 0;
}

unsigned memio_open_count(const struct memio *m)
{
    unsigned n = 0;
    for (int slot = 0; slot < MEMIO_MAX_FDS; slot++)
        n += m->fds[slot] != 0;
    return n;
}
