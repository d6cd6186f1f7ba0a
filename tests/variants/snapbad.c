/* snapbad: a deliberately broken implementation under test for snapcheck (docs/ADAPTER.md).
 * It writes pairs in the layout of docs/FORMAT.md, so the reference loader judges them, with a
 * save protocol that has exactly one known bug, chosen by --protocol. tests/variants/meson.build
 * checks that snapcheck flags each bug with the expected oracle.
 * Method: every variant is the correct protocol of FORMAT.md 9 (save_commit) with one step
 * changed, except legacy-two-rename and in-place, which replace the protocol as real VMMs did. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <snap/snap.h>

#define EXIT_FAIL 1  /* the operation failed: nothing committed / no valid pair */
#define EXIT_USAGE 2 /* bad command line or unsupported operation */

#define MAX_MEMORY_INPUT (1ull << 32) /* a test program: 4 GiB of guest memory is plenty */

enum protocol {
    P_LEGACY_TWO_RENAME,           /* the seed: rename state, then rename memory */
    P_IN_PLACE,                    /* overwrite the committed files, no temp, no rename */
    P_IGNORE_SHORT_WRITE,          /* a short write counts as complete */
    P_UNLINK_BEFORE_WRITE,         /* remove the old pair, then write the new one */
    P_SUCCESS_AFTER_FAILED_RENAME, /* the commit rename's result is ignored */
    P_NO_DIR_FSYNC,                /* never fsync the directory */
    P_NO_FSYNC,                    /* never fsync the files */
    P_RENAME_BEFORE_FSYNC,         /* the commit rename comes before the file fsyncs */
    P_FSYNC_RETRY,                 /* a failed fsync is retried; the save then commits */
    P_UNLINK_OLD_BEFORE_DURABLE,   /* old generation removed before the rename is durable */
    P_STDIO_STATE,                 /* the state file written with stdio (not interposed) */
    P_IGNORE_DIR_FSYNC_ERROR,      /* a failed directory fsync counts as done */
    P_COUNT
};

static const char *const protocol_names[P_COUNT] = {
    "legacy-two-rename",           "in-place",     "ignore-short-write", "unlink-before-write",
    "success-after-failed-rename", "no-dir-fsync", "no-fsync",
    "rename-before-fsync",         "fsync-retry",  "unlink-old-before-durable",
    "stdio-state",                 "ignore-dir-fsync-error",
};

static enum protocol protocol;
static const struct snap_io *const io = &snap_io_posix;

struct options {
    const char *dir, *id, *kind, *base, *state, *memory, *dirty, *page_size;
    const char *state_out, *memory_out;
};

/* What to save, validated: every protocol writes the same bytes for it. */
struct request {
    const char *dir;
    const char *id;
    enum snap_kind kind;
    const uint8_t *state; /* encoded schema-1 state, decoded and compatible */
    size_t state_len;
    const uint8_t *memory; /* ram_size bytes */
    uint64_t ram_size;
    uint32_t page_size;
    const uint8_t *dirty;    /* diff: snap_bitmap_len(page count) bytes */
    const char *base_id;     /* diff */
    struct snap_header base; /* diff: header of the base's committed state file */
};

/* The two files of one generation, encoded. */
struct files {
    uint8_t *snap;
    size_t snap_len;
    uint8_t *mem;
    size_t mem_len;
};

static int sys_fail(const char *op, const char *path)
{
    fprintf(stderr, "snapbad: %s %s: %s\n", op, path, strerror(errno));
    return -1;
}

static int diag_fail(const struct snap_diag *d, const char *what)
{
    fprintf(stderr, "snapbad: %s: %s (%s)\n", what, d->msg[0] ? d->msg : "failed",
            snap_strerror(d->code));
    return -1;
}

static int join(char *dst, size_t dst_cap, const char *dir, const char *name)
{
    int n = snprintf(dst, dst_cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= dst_cap) {
        fprintf(stderr, "snapbad: path %s/%s: too long\n", dir, name);
        return -1;
    }
    return 0;
}

/* Read a whole input file (outside the snapshot directory) of at most max_len bytes. */
static int read_input(uint8_t **out, size_t *out_len, const char *path, uint64_t max_len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return sys_fail("open", path);
    size_t cap = 0, len = 0;
    uint8_t *buf = NULL;
    int rc = -1;
    for (;;) {
        if (len == cap) {
            if (cap > max_len) { /* one byte past the limit was read: too long */
                fprintf(stderr, "snapbad: %s: larger than %" PRIu64 " bytes\n", path, max_len);
                goto out;
            }
            size_t want = cap ? cap * 2 : 1 << 16;
            if (want > max_len + 1)
                want = (size_t)max_len + 1;
            uint8_t *bigger = realloc(buf, want);
            if (!bigger) {
                fprintf(stderr, "snapbad: %s: out of memory\n", path);
                goto out;
            }
            buf = bigger;
            cap = want;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        sys_fail("read", path);
        goto out;
    }
    *out = buf;
    *out_len = len;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    fclose(f);
    return rc;
}

/* Header of the committed <id>.snap. @return 0, 1 when there is none (or it is unreadable as a
 * header: then no committed pair can be loaded either), -1 on an OS error. */
static int read_committed(struct snap_header *out, const char *dir, const char *id)
{
    char name[SNAP_NAME_FIELD_LEN], path[4096];
    if (snap_name_state(name, sizeof name, id) != 0 || join(path, sizeof path, dir, name) != 0)
        return -1;
    uint8_t *buf = NULL;
    size_t len = 0;
    struct snap_diag d;
    snap_diag_clear(&d);
    int rc = snap_io_read_file(&buf, &len, io, path,
                               SNAP_HEADER_LEN + SNAP_MAX_PAYLOAD + SNAP_TRAILER_LEN, &d);
    if (rc == SNAP_ENOENT)
        return 1;
    if (rc != 0)
        return diag_fail(&d, "read committed state file");
    rc = snap_header_decode(out, buf, len, NULL) == 0 ? 0 : 1;
    free(buf);
    return rc;
}

struct gen_scan {
    const char *id;
    size_t id_len;
    uint64_t max;
};

/* Note the generation of <id>.g<N>.mem and <id>.g<N>.snap.tmp. */
static int scan_name(void *arg, const char *name)
{
    struct gen_scan *s = arg;
    if (strncmp(name, s->id, s->id_len) != 0 || strncmp(name + s->id_len, ".g", 2) != 0)
        return 0;
    const char *p = name + s->id_len + 2;
    uint64_t g = 0;
    if (*p < '0' || *p > '9')
        return 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (g > (INT64_MAX - (uint64_t)(*p - '0')) / 10)
            return 0;
        g = g * 10 + (uint64_t)(*p - '0');
    }
    if ((strcmp(p, ".mem") == 0 || strcmp(p, ".snap.tmp") == 0) && g > s->max)
        s->max = g;
    return 0;
}

/* FORMAT.md 9 step 2: one past every generation seen for id in dir. */
static int pick_generation(uint64_t *out, const char *dir, const char *id)
{
    struct gen_scan s = {id, strlen(id), 0};
    struct snap_header hdr;
    int rc = read_committed(&hdr, dir, id);
    if (rc < 0)
        return -1;
    if (rc == 0)
        s.max = hdr.generation;
    if (io->list(io->ctx, dir, scan_name, &s) != 0)
        return sys_fail("list", dir);
    if (s.max >= INT64_MAX - 1) {
        fprintf(stderr, "snapbad: %s/%s: generations exhausted\n", dir, id);
        return -1;
    }
    *out = s.max + 1;
    return 0;
}

static void fill_random(uint8_t dst[16])
{
    ssize_t n = getrandom(dst, 16, GRND_NONBLOCK);
    if (n != 16) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t a = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30);
        uint64_t b = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ a;
        snap_put_le64(dst, a);
        snap_put_le64(dst + 8, b);
    }
    dst[0] |= 1; /* never all zero */
}

static void files_finish(struct files *f)
{
    free(f->snap);
    free(f->mem);
    memset(f, 0, sizeof *f);
}

/* Encode the state file and the memory file of generation gen (FORMAT.md 3, 5, 6). */
static int build_files(struct files *out, const struct request *rq, uint64_t gen)
{
    uint64_t pages = rq->ram_size / rq->page_size;
    uint64_t bm_len = rq->kind == SNAP_KIND_DIFF ? snap_bitmap_len(pages) : 0;
    uint64_t mem_pages = rq->kind == SNAP_KIND_DIFF ? snap_bitmap_count(rq->dirty, pages) : pages;
    struct snap_header hdr;
    memset(&hdr, 0, sizeof hdr);
    memset(out, 0, sizeof *out);
    hdr.version_major = SNAP_VERSION_MAJOR;
    hdr.version_minor = SNAP_VERSION_MINOR;
    hdr.header_len = SNAP_HEADER_LEN;
    hdr.payload_len = rq->state_len + bm_len + 8 * mem_pages;
    hdr.schema_version = SNAP_SCHEMA_VERSION;
    hdr.kind = rq->kind;
    hdr.page_size = rq->page_size;
    hdr.ram_size = rq->ram_size;
    fill_random(hdr.snapshot_id);
    hdr.generation = gen;
    hdr.state_len = rq->state_len;
    hdr.mem_pages = mem_pages;
    hdr.mem_file_len = mem_pages * rq->page_size + SNAP_MEM_TRAILER_LEN;
    if (snap_name_mem(hdr.mem_name, sizeof hdr.mem_name, rq->id, gen) != 0)
        return -1;
    if (rq->kind == SNAP_KIND_DIFF) {
        memcpy(hdr.base_id, rq->base.snapshot_id, sizeof hdr.base_id);
        hdr.base_generation = rq->base.generation;
        snprintf(hdr.base_name, sizeof hdr.base_name, "%s", rq->base_id);
    }

    uint64_t *crcs = calloc(mem_pages ? mem_pages : 1, sizeof *crcs);
    out->mem_len = hdr.mem_file_len;
    out->mem = malloc(out->mem_len);
    out->snap_len = SNAP_HEADER_LEN + hdr.payload_len + SNAP_TRAILER_LEN;
    out->snap = malloc(out->snap_len);
    if (!crcs || !out->mem || !out->snap) {
        fprintf(stderr, "snapbad: save %s: out of memory\n", rq->id);
        goto fail;
    }
    uint64_t k = 0;
    for (uint64_t p = 0; p < pages; p++) {
        if (rq->kind == SNAP_KIND_DIFF && !snap_bitmap_test(rq->dirty, p))
            continue;
        const uint8_t *page = rq->memory + p * rq->page_size;
        memcpy(out->mem + k * rq->page_size, page, rq->page_size);
        crcs[k++] = snap_crc64(0, page, rq->page_size);
    }
    struct snap_mem_trailer t = {
        .generation = gen, .mem_pages = mem_pages, .page_size = rq->page_size, .kind = rq->kind};
    memcpy(t.snapshot_id, hdr.snapshot_id, sizeof t.snapshot_id);
    snap_mem_trailer_encode(out->mem + mem_pages * rq->page_size, &t);
    size_t len = 0;
    if (snap_envelope_encode(out->snap, out->snap_len, &len, &hdr, rq->state,
                             rq->kind == SNAP_KIND_DIFF ? rq->dirty : NULL, crcs) != 0 ||
        len != out->snap_len) {
        fprintf(stderr, "snapbad: save %s: state file encoding failed\n", rq->id);
        goto fail;
    }
    free(crcs);
    return 0;
fail:
    free(crcs);
    files_finish(out);
    return -1;
}

/* The ignore-short-write bug: one write, whatever it wrote is taken as all of it. */
static int write_once(int fd, const uint8_t *src, size_t len, const char *path)
{
    ssize_t n;
    do
        n = io->pwrite(io->ctx, fd, src, len, 0);
    while (n < 0 && errno == EINTR);
    return n < 0 ? sys_fail("write", path) : 0;
}

/* The fsync-retry bug: a failed fsync is tried again, and a later success is believed
 * (after a writeback error Linux may have dropped the data: FORMAT.md 9). */
static int fsync_retrying(int fd)
{
    for (int i = 0; i < 3; i++)
        if (io->fsync(io->ctx, fd) == 0)
            return 0;
    return -1;
}

/* The stdio-state variant: the whole file through fopen/fwrite/fflush/fsync(fileno)/fclose.
 * glibc's stdio calls its internal write, so no interposer sees the bytes. */
static int write_file_stdio(const char *path, const uint8_t *src, size_t len)
{
    FILE *f = fopen(path, "wbx");
    if (!f)
        return sys_fail("fopen", path);
    int rc = 0;
    if (fwrite(src, 1, len, f) != len || fflush(f) != 0 || fsync(fileno(f)) != 0)
        rc = sys_fail("fwrite", path);
    if (fclose(f) != 0 && rc == 0)
        rc = sys_fail("fclose", path);
    return rc;
}

/* Open path, fsync it, close (the rename-before-fsync variant's late fsyncs). */
static int fsync_path(const char *path)
{
    int fd = io->open(io->ctx, path, O_RDONLY, 0);
    if (fd < 0)
        return sys_fail("open", path);
    int rc = io->fsync(io->ctx, fd) == 0 ? 0 : sys_fail("fsync", path);
    if (io->close(io->ctx, fd) != 0 && rc == 0)
        rc = sys_fail("close", path);
    return rc;
}

/* Create path (O_EXCL, or O_TRUNC to write over it), write src, fsync, close. */
static int write_file(const char *path, bool excl, const uint8_t *src, size_t len)
{
    if (protocol == P_STDIO_STATE && excl && strstr(path, ".snap.tmp"))
        return write_file_stdio(path, src, len);
    int fd = io->open(io->ctx, path, O_WRONLY | O_CREAT | (excl ? O_EXCL : O_TRUNC), 0644);
    if (fd < 0)
        return sys_fail("open", path);
    int rc = 0;
    if (protocol == P_IGNORE_SHORT_WRITE) {
        rc = write_once(fd, src, len, path);
    } else {
        struct snap_diag d;
        snap_diag_clear(&d);
        if (snap_io_write_all(io, fd, src, len, 0, path, &d) != 0)
            rc = diag_fail(&d, "write");
    }
    if (rc == 0 && protocol == P_FSYNC_RETRY) {
        if (fsync_retrying(fd) != 0)
            rc = sys_fail("fsync", path);
    } else if (rc == 0 && protocol != P_NO_FSYNC && protocol != P_RENAME_BEFORE_FSYNC &&
               io->fsync(io->ctx, fd) != 0) {
        rc = sys_fail("fsync", path);
    }
    if (io->close(io->ctx, fd) != 0 && rc == 0)
        rc = sys_fail("close", path);
    return rc;
}

static int fsync_dir(const char *dir)
{
    if (protocol == P_NO_DIR_FSYNC)
        return 0;
    struct snap_diag d;
    snap_diag_clear(&d);
    if (snap_io_fsync_dir(io, dir, &d) == 0)
        return 0;
    if (protocol == P_IGNORE_DIR_FSYNC_ERROR)
        return 0; /* the bug: the commit's directory entry may not be durable */
    return diag_fail(&d, "fsync directory");
}

/* no-dir-fsync: the library's cleanup (step 8) would fsync the directory; this table makes
 * that fsync a no-op too, so the variant never makes a directory entry durable. */
static int fsync_skip_dirs(void *ctx, int fd)
{
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    return snap_io_posix.fsync(ctx, fd);
}

static const struct snap_io *cleanup_io(void)
{
    static struct snap_io no_dir_fsync;
    if (protocol != P_NO_DIR_FSYNC)
        return io;
    no_dir_fsync = snap_io_posix;
    no_dir_fsync.fsync = fsync_skip_dirs;
    return &no_dir_fsync;
}

/* The correct protocol of FORMAT.md 9, steps 2-8, with the hooks of the one-bug variants. */
static int save_commit(const struct request *rq)
{
    char mem_name[SNAP_NAME_FIELD_LEN], snap_name[SNAP_NAME_FIELD_LEN];
    char mem_path[4096], tmp_path[4096], snap_path[4096];
    uint64_t gen = 0;
    struct files f;
    if (pick_generation(&gen, rq->dir, rq->id) != 0 || build_files(&f, rq, gen) != 0)
        return -1;
    int rc = -1;
    if (snap_name_mem(mem_name, sizeof mem_name, rq->id, gen) != 0 ||
        snap_name_state(snap_name, sizeof snap_name, rq->id) != 0 ||
        join(mem_path, sizeof mem_path, rq->dir, mem_name) != 0 ||
        join(snap_path, sizeof snap_path, rq->dir, snap_name) != 0 ||
        snprintf(tmp_path, sizeof tmp_path, "%s/%s.g%" PRIu64 ".snap.tmp", rq->dir, rq->id, gen) >=
            (int)sizeof tmp_path)
        goto out;
    if (write_file(mem_path, true, f.mem, f.mem_len) != 0)
        goto out_unlink_mem;
    if (write_file(tmp_path, true, f.snap, f.snap_len) != 0)
        goto out_unlink_all;
    if (fsync_dir(rq->dir) != 0)
        goto out_unlink_all;
    if (protocol == P_SUCCESS_AFTER_FAILED_RENAME) {
        (void)io->rename(io->ctx, tmp_path, snap_path);
    } else if (io->rename(io->ctx, tmp_path, snap_path) != 0) {
        sys_fail("rename", tmp_path);
        goto out_unlink_all;
    }
    if (protocol == P_RENAME_BEFORE_FSYNC &&
        (fsync_path(mem_path) != 0 || fsync_path(snap_path) != 0))
        goto out; /* the rename may be durable: keep the new files */
    if (protocol == P_UNLINK_OLD_BEFORE_DURABLE) {
        struct snap_diag d0;
        snap_diag_clear(&d0);
        if (snap_pair_cleanup(NULL, io, rq->dir, rq->id, &d0) != 0)
            fprintf(stderr, "snapbad: save %s: old files remain\n", rq->id);
    }
    if (fsync_dir(rq->dir) != 0)
        goto out; /* the rename may be durable: keep the new files */
    rc = 0;
    struct snap_diag d;
    snap_diag_clear(&d);
    if (snap_pair_cleanup(NULL, cleanup_io(), rq->dir, rq->id, &d) != 0 ||
        fsync_dir(rq->dir) != 0)
        fprintf(stderr, "snapbad: save %s: committed, old files remain\n", rq->id);
    goto out;
out_unlink_all:
    io->unlink(io->ctx, tmp_path);
out_unlink_mem:
    io->unlink(io->ctx, mem_path);
out:
    files_finish(&f);
    return rc;
}

/* The seed's protocol: fixed temp names, generation always 1, two renames. */
static int save_legacy_two_rename(const struct request *rq)
{
    char snap_path[4096], mem_path[4096], snap_tmp[4096], mem_tmp[4096];
    struct files f;
    if (build_files(&f, rq, 1) != 0)
        return -1;
    int rc = -1;
    if (snprintf(snap_path, sizeof snap_path, "%s/%s.snap", rq->dir, rq->id) >=
            (int)sizeof snap_path ||
        snprintf(mem_path, sizeof mem_path, "%s/%s.g1.mem", rq->dir, rq->id) >=
            (int)sizeof mem_path ||
        snprintf(snap_tmp, sizeof snap_tmp, "%s.tmp", snap_path) >= (int)sizeof snap_tmp ||
        snprintf(mem_tmp, sizeof mem_tmp, "%s.tmp", mem_path) >= (int)sizeof mem_tmp)
        goto out;
    if (write_file(snap_tmp, false, f.snap, f.snap_len) != 0 ||
        write_file(mem_tmp, false, f.mem, f.mem_len) != 0)
        goto out_unlink;
    if (io->rename(io->ctx, snap_tmp, snap_path) != 0) {
        sys_fail("rename", snap_tmp);
        goto out_unlink;
    }
    /* the window: the new state file now sits beside the old memory file */
    if (io->rename(io->ctx, mem_tmp, mem_path) != 0) {
        sys_fail("rename", mem_tmp);
        goto out;
    }
    rc = fsync_dir(rq->dir);
    goto out;
out_unlink:
    io->unlink(io->ctx, snap_tmp);
    io->unlink(io->ctx, mem_tmp);
out:
    files_finish(&f);
    return rc;
}

/* Write over the committed files, keeping the committed generation (1 if none). */
static int save_in_place(const struct request *rq)
{
    char mem_name[SNAP_NAME_FIELD_LEN], snap_name[SNAP_NAME_FIELD_LEN];
    char mem_path[4096], snap_path[4096];
    struct snap_header hdr;
    uint64_t gen = 1;
    int rc = read_committed(&hdr, rq->dir, rq->id);
    if (rc < 0)
        return -1;
    if (rc == 0)
        gen = hdr.generation;
    struct files f;
    if (build_files(&f, rq, gen) != 0)
        return -1;
    rc = -1;
    if (snap_name_mem(mem_name, sizeof mem_name, rq->id, gen) == 0 &&
        snap_name_state(snap_name, sizeof snap_name, rq->id) == 0 &&
        join(mem_path, sizeof mem_path, rq->dir, mem_name) == 0 &&
        join(snap_path, sizeof snap_path, rq->dir, snap_name) == 0 &&
        write_file(mem_path, false, f.mem, f.mem_len) == 0 &&
        write_file(snap_path, false, f.snap, f.snap_len) == 0)
        rc = fsync_dir(rq->dir);
    files_finish(&f);
    return rc;
}

/* Remove the committed pair first, then save correctly. */
static int save_unlink_before_write(const struct request *rq)
{
    char snap_name[SNAP_NAME_FIELD_LEN], snap_path[4096], mem_path[4096];
    struct snap_header hdr;
    int rc = read_committed(&hdr, rq->dir, rq->id);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        if (snap_name_state(snap_name, sizeof snap_name, rq->id) != 0 ||
            join(snap_path, sizeof snap_path, rq->dir, snap_name) != 0 ||
            join(mem_path, sizeof mem_path, rq->dir, hdr.mem_name) != 0)
            return -1;
        if (io->unlink(io->ctx, snap_path) != 0)
            return sys_fail("unlink", snap_path);
        if (io->unlink(io->ctx, mem_path) != 0 && errno != ENOENT)
            return sys_fail("unlink", mem_path);
    }
    return save_commit(rq);
}

static int save_request(const struct request *rq)
{
    switch (protocol) {
    case P_LEGACY_TWO_RENAME:
        return save_legacy_two_rename(rq);
    case P_IN_PLACE:
        return save_in_place(rq);
    case P_UNLINK_BEFORE_WRITE:
        return save_unlink_before_write(rq);
    default:
        return save_commit(rq);
    }
}

/* Read the diff base's committed state file: its header gives base_id and base_generation. */
static int read_base(struct request *rq)
{
    char name[SNAP_NAME_FIELD_LEN], path[4096];
    if (snap_name_state(name, sizeof name, rq->base_id) != 0 ||
        join(path, sizeof path, rq->dir, name) != 0)
        return -1;
    uint8_t *buf = NULL;
    size_t len = 0;
    struct snap_diag d;
    snap_diag_clear(&d);
    int rc = snap_io_read_file(&buf, &len, io, path,
                               SNAP_HEADER_LEN + SNAP_MAX_PAYLOAD + SNAP_TRAILER_LEN, &d);
    if (rc != 0)
        return diag_fail(&d, "read diff base");
    struct snap_envelope env;
    rc = snap_envelope_decode(&env, buf, len, &d);
    free(buf);
    if (rc != 0)
        return diag_fail(&d, "diff base");
    if (env.hdr.page_size != rq->page_size || env.hdr.ram_size != rq->ram_size) {
        fprintf(stderr, "snapbad: diff base %s: page size or RAM size differs\n", rq->base_id);
        return -1;
    }
    rq->base = env.hdr;
    return 0;
}

/* FORMAT.md 9 step 1: refuse a bad request before any file is created. */
static int validate(struct request *rq)
{
    struct snap_vm_state st;
    struct snap_diag d;
    snap_diag_clear(&d);
    if (!snap_id_valid(rq->id) || (rq->base_id && !snap_id_valid(rq->base_id))) {
        fprintf(stderr, "snapbad: save: invalid id\n");
        return -1;
    }
    uint64_t pages = rq->ram_size / rq->page_size;
    if (rq->ram_size % rq->page_size != 0 || pages == 0 || pages > SNAP_MAX_PAGES) {
        fprintf(stderr, "snapbad: save %s: memory is not 1..2^24 whole pages\n", rq->id);
        return -1;
    }
    int rc = snap_state_decode(&st, rq->state, rq->state_len);
    if (rc != 0) {
        fprintf(stderr, "snapbad: save %s: state does not decode (%s)\n", rq->id,
                snap_strerror(rc));
        return -1;
    }
    rc = snap_state_verify_compatible(&st, rq->ram_size, &d);
    bool track = st.info.track_dirty_pages;
    snap_state_finish(&st);
    if (rc != 0)
        return diag_fail(&d, "save: state");
    if (rq->kind == SNAP_KIND_FULL)
        return 0;
    if (!track) {
        fprintf(stderr, "snapbad: save %s: diff without track_dirty_pages\n", rq->id);
        return -1;
    }
    if (strcmp(rq->base_id, rq->id) == 0) {
        fprintf(stderr, "snapbad: save %s: a diff cannot be its own base\n", rq->id);
        return -1;
    }
    return read_base(rq);
}

static int write_output(const char *path, const uint8_t *src, size_t len)
{
    int fd = io->open(io->ctx, path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return sys_fail("open", path);
    struct snap_diag d;
    snap_diag_clear(&d);
    int rc = snap_io_write_all(io, fd, src, len, 0, path, &d) == 0 ? 0 : diag_fail(&d, "write");
    if (io->close(io->ctx, fd) != 0 && rc == 0)
        rc = sys_fail("close", path);
    return rc;
}

static int load_image(struct snap_image *out, const char *dir, const char *id)
{
    struct snap_diag d;
    snap_diag_clear(&d);
    if (snap_pair_load(out, io, dir, id, &d) != 0) {
        fprintf(stderr, "snapbad: load %s/%s: %s (%s)\n", dir, id, d.msg[0] ? d.msg : "failed",
                snap_strerror(d.code));
        return -1;
    }
    return 0;
}

static int cmd_save(const struct options *o)
{
    struct request rq;
    memset(&rq, 0, sizeof rq);
    if (!o->dir || !o->id || !o->kind || !o->state || !o->memory || !o->page_size) {
        fprintf(stderr, "snapbad: save needs --dir --id --kind --state --memory --page-size\n");
        return EXIT_USAGE;
    }
    if (strcmp(o->kind, "full") == 0) {
        rq.kind = SNAP_KIND_FULL;
    } else if (strcmp(o->kind, "diff") == 0 && o->base && o->dirty) {
        rq.kind = SNAP_KIND_DIFF;
    } else {
        fprintf(stderr, "snapbad: --kind must be full, or diff with --base and --dirty\n");
        return EXIT_USAGE;
    }
    char *end;
    unsigned long ps = strtoul(o->page_size, &end, 10);
    if (*end || (ps != 4096 && ps != 16384 && ps != 65536)) {
        fprintf(stderr, "snapbad: --page-size %s: must be 4096, 16384 or 65536\n", o->page_size);
        return EXIT_USAGE;
    }
    uint8_t *state = NULL, *memory = NULL, *dirty = NULL;
    size_t state_len = 0, mem_len = 0, dirty_len = 0;
    int rc = EXIT_FAIL;
    if (read_input(&state, &state_len, o->state, SNAP_MAX_STATE_LEN) != 0 ||
        read_input(&memory, &mem_len, o->memory, MAX_MEMORY_INPUT) != 0)
        goto out;
    rq.dir = o->dir;
    rq.id = o->id;
    rq.state = state;
    rq.state_len = state_len;
    rq.memory = memory;
    rq.ram_size = mem_len;
    rq.page_size = (uint32_t)ps;
    rq.base_id = o->base;
    if (rq.kind == SNAP_KIND_DIFF) {
        if (read_input(&dirty, &dirty_len, o->dirty, SNAP_MAX_PAGES / 8) != 0)
            goto out;
        uint64_t pages = mem_len / ps;
        if (dirty_len != snap_bitmap_len(pages) ||
            (pages % 8 && dirty[dirty_len - 1] >> (pages % 8))) {
            fprintf(stderr,
                    "snapbad: --dirty %s: must be %" PRIu64 " bytes, no bit past the "
                    "last page\n",
                    o->dirty, snap_bitmap_len(pages));
            goto out;
        }
        rq.dirty = dirty;
    }
    if (validate(&rq) == 0 && save_request(&rq) == 0)
        rc = 0;
out:
    free(state);
    free(memory);
    free(dirty);
    return rc;
}

static int cmd_load(const struct options *o)
{
    if (!o->dir || !o->id || !o->state_out || !o->memory_out) {
        fprintf(stderr, "snapbad: load needs --dir --id --state-out --memory-out\n");
        return EXIT_USAGE;
    }
    struct snap_image img;
    if (load_image(&img, o->dir, o->id) != 0)
        return EXIT_FAIL;
    int rc = write_output(o->state_out, img.state_bytes, img.state_len) == 0 &&
                     write_output(o->memory_out, img.memory, img.hdr.ram_size) == 0
                 ? 0
                 : EXIT_FAIL;
    snap_image_finish(&img);
    return rc;
}

/* Merge is a save of the loaded image as a full pair, with the same (broken) protocol. */
static int cmd_merge(const struct options *o)
{
    if (!o->dir || !o->id) {
        fprintf(stderr, "snapbad: merge needs --dir --id\n");
        return EXIT_USAGE;
    }
    struct snap_image img;
    if (load_image(&img, o->dir, o->id) != 0)
        return EXIT_FAIL;
    int rc = 0;
    if (img.hdr.kind == SNAP_KIND_DIFF) {
        struct request rq = {.dir = o->dir,
                             .id = o->id,
                             .kind = SNAP_KIND_FULL,
                             .state = img.state_bytes,
                             .state_len = img.state_len,
                             .memory = img.memory,
                             .ram_size = img.hdr.ram_size,
                             .page_size = img.hdr.page_size};
        rc = save_request(&rq) == 0 ? 0 : EXIT_FAIL;
    }
    snap_image_finish(&img);
    return rc;
}

static int usage(void)
{
    fprintf(stderr, "usage: snapbad --protocol NAME (capabilities | save ... | load ... | "
                    "merge ...), see docs/ADAPTER.md\nprotocols:");
    for (int i = 0; i < P_COUNT; i++)
        fprintf(stderr, " %s", protocol_names[i]);
    fprintf(stderr, "\n");
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[1], "--protocol") != 0)
        return usage();
    int p = 0;
    while (p < P_COUNT && strcmp(argv[2], protocol_names[p]) != 0)
        p++;
    if (p == P_COUNT) {
        fprintf(stderr, "snapbad: unknown protocol '%s'\n", argv[2]);
        return usage();
    }
    protocol = (enum protocol)p;
    const char *op = argv[3];
    struct options o;
    memset(&o, 0, sizeof o);
    static const struct {
        const char *flag;
        size_t offset;
    } flags[] = {
        {"--dir", offsetof(struct options, dir)},
        {"--id", offsetof(struct options, id)},
        {"--kind", offsetof(struct options, kind)},
        {"--base", offsetof(struct options, base)},
        {"--state", offsetof(struct options, state)},
        {"--memory", offsetof(struct options, memory)},
        {"--dirty", offsetof(struct options, dirty)},
        {"--page-size", offsetof(struct options, page_size)},
        {"--state-out", offsetof(struct options, state_out)},
        {"--memory-out", offsetof(struct options, memory_out)},
    };
    for (int i = 4; i < argc; i += 2) {
        size_t f = 0;
        while (f < sizeof flags / sizeof flags[0] && strcmp(argv[i], flags[f].flag) != 0)
            f++;
        if (f == sizeof flags / sizeof flags[0] || i + 1 >= argc) {
            fprintf(stderr, "snapbad: %s: unknown option or missing value\n", argv[i]);
            return EXIT_USAGE;
        }
        *(const char **)((char *)&o + flags[f].offset) = argv[i + 1];
    }
    if (strcmp(op, "capabilities") == 0) {
        printf("save-full save-diff load merge\n");
        return fflush(stdout) == 0 ? 0 : EXIT_FAIL;
    }
    if (strcmp(op, "save") == 0)
        return cmd_save(&o);
    if (strcmp(op, "load") == 0)
        return cmd_load(&o);
    if (strcmp(op, "merge") == 0)
        return cmd_merge(&o);
    fprintf(stderr, "snapbad: %s: unsupported operation\n", op);
    return EXIT_USAGE;
}
