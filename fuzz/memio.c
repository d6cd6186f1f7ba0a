/* In-memory, read-only file system implementing struct snap_io for the pair_load fuzz target.
 * Descriptors start at MEMIO_FD_BASE so that a stray use of a real descriptor is not mistaken
 * for one of ours; every method checks its descriptor and sets errno like the libc call.
 * The input's fault (memio.h) fails one call with an errno that call really returns
 * (open(2), pread(2), fstat(2), close(2)): never ENOENT, which means a missing file. */
#include "memio.h"

#include "fuzz-common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>

#include "snap/crc64.h"

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

static const int open_errs[] = {EACCES, EIO, EMFILE, ENFILE, ENOMEM, ELOOP, EPERM, EOVERFLOW};
static const int pread_errs[] = {EIO, EISDIR, EINVAL, EOVERFLOW, ENXIO};
/* EISDIR, ESPIPE: what the table's fsize says for a directory, FIFO, socket or device */
static const int fstat_errs[] = {EIO, ENOMEM, EOVERFLOW, EISDIR, ESPIPE};
static const int close_errs[] = {EIO, ENOSPC, EDQUOT};

const char *memio_call_op(enum memio_call call)
{
    static const char *const ops[MEMIO_CALLS] = {"open", "pread", "fstat", "close"};
    return ops[call];
}

void memio_fault_arm(struct memio *m, const uint8_t b[4])
{
    static const int *const errs[MEMIO_CALLS] = {open_errs, pread_errs, fstat_errs, close_errs};
    static const size_t counts[MEMIO_CALLS] = {
        sizeof open_errs / sizeof *open_errs, sizeof pread_errs / sizeof *pread_errs,
        sizeof fstat_errs / sizeof *fstat_errs, sizeof close_errs / sizeof *close_errs};
    struct memio_fault *f = &m->fault;
    memset(f, 0, sizeof *f);
    f->armed = true;
    f->call = (enum memio_call)(b[0] % MEMIO_CALLS);
    f->nth = b[1] & 31u;
    f->mode = (enum memio_fault_mode)(b[2] & 3u);
    /* short reads and early ends are pread's; fstat is not retried on EINTR (nor does it return
     * it), so both become plain failures elsewhere */
    if ((f->mode == MEMIO_SHORT || f->mode == MEMIO_EOF) && f->call != MEMIO_PREAD)
        f->mode = MEMIO_FAIL;
    if (f->mode == MEMIO_EINTR && f->call == MEMIO_FSIZE)
        f->mode = MEMIO_FAIL;
    f->err = f->mode == MEMIO_EINTR ? EINTR : errs[f->call][(b[2] >> 2) % counts[f->call]];
    f->frac = b[3];
}

void memio_fault_rearm(struct memio *m)
{
    m->fault.fired = false;
    memset(m->fault.seen, 0, sizeof m->fault.seen);
}

/* True if this call (of kind call) is the one the fault hits; counts it either way. */
static bool fault_hits(struct memio *m, enum memio_call call)
{
    struct memio_fault *f = &m->fault;
    unsigned n = f->seen[call]++;
    if (!f->armed || f->fired || f->call != call || f->nth != n)
        return false;
    f->fired = true;
    return true;
}

static int mem_open(void *ctx, const char *path, int flags, unsigned mode)
{
    struct memio *m = ctx;
    (void)mode;
    if (fault_hits(m, MEMIO_OPEN)) {
        errno = m->fault.err;
        return -1;
    }
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
    if (fault_hits(m, MEMIO_CLOSE)) { /* Linux: the descriptor is gone whatever close says */
        errno = m->fault.err;
        return -1;
    }
    return 0;
}

size_t memio_file_len(const struct memio_file *f)
{
    return f->head_len + f->zeros + f->tail_len;
}

size_t memio_file_read(const struct memio_file *f, void *dst, size_t len, uint64_t off)
{
    uint8_t *out = dst;
    size_t done = 0;
    /* the three parts in order: bytes, zeros, bytes */
    const uint8_t *parts[3] = {f->head, NULL, f->tail};
    size_t lens[3] = {f->head_len, f->zeros, f->tail_len};
    uint64_t start = 0;
    for (int i = 0; i < 3 && done < len; i++) {
        uint64_t end = start + lens[i];
        if (off + done < end) {
            size_t at = (size_t)(off + done - start);
            size_t n = lens[i] - at < len - done ? lens[i] - at : len - done;
            if (parts[i])
                memcpy(out + done, parts[i] + at, n);
            else
                memset(out + done, 0, n);
            done += n;
        }
        start = end;
    }
    return done;
}

static const uint8_t zero[4096];

/* CRC of len zero bytes, remembered for the few lengths asked (the page sizes). */
static uint64_t zero_crc(uint64_t len)
{
    static struct {
        uint64_t len, crc;
    } cache[4];
    static unsigned next;
    for (unsigned i = 0; i < 4; i++)
        if (cache[i].len == len)
            return cache[i].crc;
    uint64_t crc = 0;
    for (uint64_t done = 0; done < len;) {
        size_t n = (size_t)(len - done < sizeof zero ? len - done : sizeof zero);
        crc = snap_crc64(crc, zero, n);
        done += n;
    }
    cache[next].len = len;
    cache[next].crc = crc;
    next = (next + 1) % 4;
    return crc;
}

bool memio_file_equal(const struct memio_file *f, uint64_t off, const uint8_t *src, size_t len)
{
    uint64_t head_end = f->head_len, zero_end = head_end + f->zeros;
    while (len > 0) {
        size_t n;
        if (off < head_end) {
            n = (size_t)(head_end - off < len ? head_end - off : len);
            if (memcmp(f->head + off, src, n) != 0)
                return false;
        } else if (off < zero_end) {
            uint64_t run = zero_end - off < len ? zero_end - off : len;
            n = (size_t)(run < sizeof zero ? run : sizeof zero);
            if (memcmp(zero, src, n) != 0)
                return false;
        } else {
            n = len;
            if (memcmp(f->tail + (off - zero_end), src, n) != 0)
                return false;
        }
        off += n;
        src += n;
        len -= n;
    }
    return true;
}

uint64_t memio_file_crc(const void *file, uint64_t off, uint64_t len)
{
    const struct memio_file *f = file;
    uint64_t crc = 0;
    if (off >= f->head_len && off + len <= f->head_len + f->zeros)
        return zero_crc(len);
    while (len > 0) {
        uint64_t head_end = f->head_len, zero_end = head_end + f->zeros;
        size_t n;
        if (off < head_end) {
            n = (size_t)(head_end - off < len ? head_end - off : len);
            crc = snap_crc64(crc, f->head + off, n);
        } else if (off < zero_end) {
            uint64_t run = zero_end - off < len ? zero_end - off : len;
            n = (size_t)(run < sizeof zero ? run : sizeof zero);
            crc = snap_crc64(crc, zero, n);
        } else {
            n = (size_t)len;
            crc = snap_crc64(crc, f->tail + (off - zero_end), n);
        }
        off += n;
        len -= n;
    }
    return crc;
}

static ssize_t mem_pread(void *ctx, int fd, void *dst, size_t len, uint64_t off)
{
    struct memio *m = ctx;
    const struct memio_file *f = file_of(m, fd);
    if (!f) {
        errno = EBADF;
        return -1;
    }
    if (len > SSIZE_MAX)
        len = SSIZE_MAX;
    if (fault_hits(m, MEMIO_PREAD)) {
        switch (m->fault.mode) {
        case MEMIO_SHORT:
            if (len > 1) /* a read of one byte cannot come up short and still progress */
                len = 1 + (size_t)(((uint64_t)m->fault.frac * (len - 1)) / 256);
            break;
        case MEMIO_EOF:
            return 0;
        default:
#ifdef FUZZ_SELFTEST_BROKEN_IO
            /* the self-test: a read that failed is taken as a full read of zeros, as a loader
             * that ignored the error would see it */
            memset(dst, 0, len);
            return (ssize_t)len;
#else
            errno = m->fault.err;
            return -1;
#endif
        }
    }
    return (ssize_t)memio_file_read(f, dst, len, off);
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
    struct memio *m = ctx;
    const struct memio_file *f = file_of(m, fd);
    if (!f) {
        errno = EBADF;
        return -1;
    }
    if (fault_hits(m, MEMIO_FSIZE)) {
        errno = m->fault.err;
        return -1;
    }
    *out = memio_file_len(f);
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

int memio_add(struct memio *m, const struct memio_file *f)
{
    size_t n = strnlen(f->name, MEMIO_NAME_MAX);
    if (n == 0 || n >= MEMIO_NAME_MAX || strchr(f->name, '/') || m->file_count >= MEMIO_MAX_FILES)
        return -1;
    if (find(m, f->name) >= 0)
        return 0;
    m->files[m->file_count++] = *f;
    return 0;
}

const struct memio_file *memio_find(const struct memio *m, const char *name)
{
    int idx = find(m, name);
    return idx < 0 ? NULL : &m->files[idx];
}

unsigned memio_open_count(const struct memio *m)
{
    unsigned n = 0;
    for (int slot = 0; slot < MEMIO_MAX_FDS; slot++)
        n += m->fds[slot] != 0;
    return n;
}

/* ---- the split format of the pair_load target (pair_load.c) ---- */

struct cursor {
    const uint8_t *p;
    size_t left;
};

/* Next section: 1 present (*out, *out_len), 0 absent, -1 end of input. */
static int next_section(struct cursor *c, const uint8_t **out, size_t *out_len)
{
    if (c->left < 4)
        return -1;
    uint32_t len = snap_get_le32(c->p);
    c->p += 4;
    c->left -= 4;
    if (len == MEMIO_ABSENT)
        return 0;
    size_t n = len < c->left ? len : c->left;
    *out = c->p;
    *out_len = n;
    c->p += n;
    c->left -= n;
    return 1;
}

/* The NUL-terminated string of a 64-byte name field at off, if the file holds it and it is a
 * usable file name; else "". */
static void name_field(char dst[SNAP_NAME_FIELD_LEN], const uint8_t *file, size_t len, size_t off)
{
    dst[0] = '\0';
    if (len < off + SNAP_NAME_FIELD_LEN || !memchr(file + off, '\0', SNAP_NAME_FIELD_LEN))
        return;
    memcpy(dst, file + off, SNAP_NAME_FIELD_LEN);
    if (strchr(dst, '/'))
        dst[0] = '\0';
}

bool memio_keep(struct memio *m, void *p)
{
    if (m->owned_count == MEMIO_MAX_OWNED) {
        free(p);
        return false;
    }
    m->owned[m->owned_count++] = p;
    return true;
}

void memio_release(struct memio *m)
{
    for (size_t i = 0; i < m->owned_count; i++)
        free(m->owned[i]);
    m->owned_count = 0;
}

bool memio_parse_split(struct memio *m, const uint8_t *data, size_t size, uint64_t max_ram)
{
    memio_init(m);
    if (size < 1)
        return false;
    bool repair = data[0] & 1, pad = data[0] & 2, faulty = data[0] & 4;
    struct cursor c = {data + 1, size - 1};
    if (faulty) {
        if (c.left < 4)
            return false;
        memio_fault_arm(m, c.p);
        c.p += 4;
        c.left -= 4;
    }
    char id[SNAP_NAME_FIELD_LEN] = "vm";

    for (unsigned level = 0; level < MEMIO_MAX_LEVELS; level++) {
        const uint8_t *st = NULL, *mem = NULL;
        size_t st_len = 0, mem_len = 0;
        int have_st = next_section(&c, &st, &st_len);
        if (have_st < 0)
            break;
        int have_mem = next_section(&c, &mem, &mem_len);
        if (have_st > 0 && st_len >= 48 && snap_get_le64(st + 40) > max_ram)
            return false; /* ram_size: offset 40 */

        /* The memory file as head + zeros + tail, the tail being its 64-byte trailer. */
        struct memio_file mf = {.head = mem, .head_len = mem_len};
        if (mem_len >= SNAP_MEM_TRAILER_LEN) {
            mf.head_len = mem_len - SNAP_MEM_TRAILER_LEN;
            mf.tail = mem + mf.head_len;
            mf.tail_len = SNAP_MEM_TRAILER_LEN;
        }
        /* Padding (flags bit 1): zero-fill between the page bytes and the trailer up to the
         * mem_file_len of the state file (offset 112). */
        if (pad && have_st > 0 && have_mem > 0 && st_len >= 120 && mf.tail_len) {
            uint64_t want = snap_get_le64(st + 112);
            if (want >= mem_len && want <= max_ram + SNAP_MEM_TRAILER_LEN && want <= SIZE_MAX)
                mf.zeros = (size_t)(want - mem_len);
        }
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
        if (repair && have_mem > 0 && mf.tail_len) {
            uint8_t *t = malloc(SNAP_MEM_TRAILER_LEN);
            if (!t || !memio_keep(m, t))
                return false;
            memcpy(t, mf.tail, SNAP_MEM_TRAILER_LEN);
            fuzz_fix_mem_trailer(t, SNAP_MEM_TRAILER_LEN);
            mf.tail = t;
        }
        if (repair && have_st > 0) {
            uint8_t *copy;
            if (!fuzz_crc_fixed_copy(&copy, &st_len, st, st_len) || !memio_keep(m, copy))
                return false;
            if (have_mem > 0)
                fuzz_fix_page_map(copy, st_len, memio_file_crc, &mf, memio_file_len(&mf));
            st = copy;
        }
#endif

        char mem_name[SNAP_NAME_FIELD_LEN] = "";
        char base[SNAP_NAME_FIELD_LEN] = "";
        if (have_st > 0) {
            struct memio_file sf = {.head = st, .head_len = st_len};
            snprintf(sf.name, sizeof sf.name, "%s.snap", id);
            memio_add(m, &sf);
            name_field(mem_name, st, st_len, 128);
            name_field(base, st, st_len, 192);
        }
        if (mem_name[0] == '\0')
            snprintf(mem_name, sizeof mem_name, "%s.g1.mem", id);
        if (have_mem > 0) {
            snprintf(mf.name, sizeof mf.name, "%s", mem_name);
            memio_add(m, &mf);
        }
        if (snap_id_valid(base))
            memcpy(id, base, sizeof id);
        else
            snprintf(id, sizeof id, "base%u", level + 1);
    }
    (void)repair;
    return true;
}
