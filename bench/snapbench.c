/* snapbench: the issue-2 benchmarks of libsnapref, run by bench/run (never by meson test).
 * save: a full save of an image versus a plain pwrite loop of the same bytes (1 MiB chunks) to
 * the same file system, (a) into the page cache without fsync and (b) durable, with fsync;
 * load: load (and its page verification) and verify alone, in ms per GiB;
 * crc: CRC-64/XZ throughput, portable slicing-by-8 versus snap_crc64 (ISA-L when built with it).
 * Method: each measurement is repeated and the median kept; the baseline and the library runs are
 * interleaved so that drift of the shared machine hits both alike. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "snap/snap.h"

#define CHUNK (1u << 20)
#define MAX_REPS 15

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what, int code, const struct snap_diag *d)
{
    fprintf(stderr, "snapbench: %s: %s%s%s\n", what, code ? snap_strerror(code) : strerror(errno),
            d && d->msg[0] ? ": " : "", d ? d->msg : "");
    exit(1);
}

/* Deterministic image: mostly pseudo-random pages (incompressible, like a busy guest), one in
 * eight zero. */
static uint8_t *make_image(uint64_t size, uint32_t page_size)
{
    uint8_t *m = aligned_alloc(4096, size);
    if (!m)
        die("allocating the image", 0, NULL);
    uint64_t s = 0x243f6a8885a308d3ull;
    for (uint64_t off = 0; off < size; off += page_size) {
        if ((off / page_size) % 8 == 7) {
            memset(m + off, 0, page_size);
            continue;
        }
        for (uint32_t i = 0; i < page_size; i += 8) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            memcpy(m + off + i, &s, 8);
        }
    }
    return m;
}

/* A minimal compatible state for ram bytes of RAM. */
static void make_state(struct snap_vm_state *st, uint64_t ram)
{
    static char empty[] = "", kernel[] = "/vmlinux", args[] = "console=ttyAMA0";
    static uint8_t regs[768], gic[8192];
    static struct snap_vcpu vcpu;
    memset(st, 0, sizeof *st);
    st->info.mem_size_mib = (uint32_t)(ram >> 20);
    st->info.track_dirty_pages = true;
    st->info.cpu_template = empty;
    st->info.kernel_image_path = kernel;
    st->info.boot_args = args;
    vcpu.index = 0;
    vcpu.mpidr = 0x80000000u;
    vcpu.regs = regs;
    vcpu.regs_len = sizeof regs;
    st->vcpus = &vcpu;
    st->vcpu_count = 1;
    st->gic = gic;
    st->gic_len = sizeof gic;
}

static int fsync_nop(void *ctx, int fd)
{
    (void)ctx;
    (void)fd;
    return 0;
}

/* The baseline: write the same bytes to a new file with pwrite in 1 MiB chunks; durable mode adds
 * fsync of the file and of the directory; then remove the previous file, as a save removes the
 * previous generation. */
static double baseline_once(const char *dir, const uint8_t *m, uint64_t size, bool durable,
                            unsigned rep)
{
    char path[4096], prev[4096];
    snprintf(path, sizeof path, "%s/baseline.%u.bin", dir, rep);
    snprintf(prev, sizeof prev, "%s/baseline.%u.bin", dir, rep - 1);
    double t0 = now_s();
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        die(path, 0, NULL);
    for (uint64_t off = 0; off < size; off += CHUNK) {
        size_t n = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
        if (pwrite(fd, m + off, n, (off_t)off) != (ssize_t)n)
            die("baseline pwrite", 0, NULL);
    }
    if (durable && fsync(fd) != 0)
        die("baseline fsync", 0, NULL);
    if (close(fd) != 0)
        die("baseline close", 0, NULL);
    if (durable) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) != 0)
            die("baseline fsync dir", 0, NULL);
        close(dfd);
    }
    (void)unlink(prev);
    return now_s() - t0;
}

static double save_once(const struct snap_io *io, const struct snap_save_req *req)
{
    struct snap_diag d;
    snap_diag_clear(&d);
    double t0 = now_s();
    int rc = snap_pair_save(NULL, io, req, &d);
    double t = now_s() - t0;
    if (rc != 0)
        die("snap_pair_save", rc, &d);
    return t;
}

static void bench_save(const char *dir, uint64_t size, uint32_t page_size, int reps)
{
    uint8_t *m = make_image(size, page_size);
    struct snap_vm_state st;
    make_state(&st, size);
    struct snap_save_req req = {.dir = dir,
                                .id = "bench",
                                .kind = SNAP_KIND_FULL,
                                .state = &st,
                                .memory = m,
                                .ram_size = size,
                                .page_size = page_size};
    struct snap_io nosync = snap_io_posix;
    nosync.fsync = fsync_nop;
    double gib = (double)size / (1u << 30);
    for (int durable = 0; durable < 2; durable++) {
        double tb[MAX_REPS], tl[MAX_REPS];
        unsigned rep = 1;
        for (int r = 0; r < reps; r++) {
            sync(); /* start each pair of runs with no dirty data of the previous ones */
            tb[r] = baseline_once(dir, m, size, durable, rep++);
            sync();
            tl[r] = save_once(durable ? &snap_io_posix : &nosync, &req);
        }
        char prev[4096];
        snprintf(prev, sizeof prev, "%s/baseline.%u.bin", dir, rep - 1);
        (void)unlink(prev);
        double b = median(tb, reps), l = median(tl, reps);
        printf("save %-10s  baseline %8.1f ms  snapref %8.1f ms  (%6.0f MiB/s)  ratio %.2f  %s\n",
               durable ? "fsync" : "no-fsync", b * 1e3, l * 1e3, 1024 * gib / l, l / b,
               l / b <= 1.2 ? "within 1.2x" : "OVER 1.2x");
    }
    free(m);
}

static void bench_load(const char *dir, uint64_t size, uint32_t page_size, int reps)
{
    uint8_t *m = make_image(size, page_size);
    struct snap_vm_state st;
    make_state(&st, size);
    struct snap_save_req req = {.dir = dir,
                                .id = "bench",
                                .kind = SNAP_KIND_FULL,
                                .state = &st,
                                .memory = m,
                                .ram_size = size,
                                .page_size = page_size};
    save_once(&snap_io_posix, &req);
    free(m);
    double gib = (double)size / (1u << 30);
    double tload[MAX_REPS], tver[MAX_REPS];
    for (int r = 0; r < reps; r++) {
        struct snap_image img;
        struct snap_diag d;
        snap_diag_clear(&d);
        double t0 = now_s();
        int rc = snap_pair_load(&img, &snap_io_posix, dir, "bench", &d);
        tload[r] = now_s() - t0;
        if (rc != 0)
            die("snap_pair_load", rc, &d);
        snap_image_finish(&img);
        t0 = now_s();
        rc = snap_pair_verify(&snap_io_posix, dir, "bench", &d);
        tver[r] = now_s() - t0;
        if (rc != 0)
            die("snap_pair_verify", rc, &d);
    }
    printf("load+verify (warm cache)  %8.1f ms/GiB   verify only %8.1f ms/GiB\n",
           median(tload, reps) * 1e3 / gib, median(tver, reps) * 1e3 / gib);
}

static void bench_crc(uint64_t size, int reps)
{
    size_t buf_len = 64u << 20;
    uint8_t *b = make_image(buf_len, 4096);
    double tp[MAX_REPS], tf[MAX_REPS];
    volatile uint64_t sink = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        for (uint64_t done = 0; done < size; done += buf_len)
            sink ^= snap_crc64_portable(0, b, buf_len);
        tp[r] = now_s() - t0;
        t0 = now_s();
        for (uint64_t done = 0; done < size; done += buf_len)
            sink ^= snap_crc64(0, b, buf_len);
        tf[r] = now_s() - t0;
    }
    if (snap_crc64_portable(0, b, buf_len) != snap_crc64(0, b, buf_len))
        die("the two CRC implementations disagree", SNAP_ECRC, NULL);
    double bytes = (double)((size + buf_len - 1) / buf_len * buf_len);
    printf("crc64 portable %6.2f GB/s   snap_crc64 (%s) %6.2f GB/s\n",
           bytes / median(tp, reps) / 1e9, snap_crc64_impl(), bytes / median(tf, reps) / 1e9);
    free(b);
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: snapbench save|load|crc|all DIR SIZE_MIB PAGE_SIZE REPS\n");
        return 2;
    }
    const char *what = argv[1], *dir = argv[2];
    uint64_t size = strtoull(argv[3], NULL, 10) << 20;
    uint32_t page_size = (uint32_t)strtoul(argv[4], NULL, 10);
    int reps = atoi(argv[5]);
    if (size == 0 || (page_size != 4096 && page_size != 16384 && page_size != 65536) || reps < 1 ||
        reps > MAX_REPS) {
        fprintf(stderr, "snapbench: bad SIZE_MIB, PAGE_SIZE (4096/16384/65536) or REPS (1-%d)\n",
                MAX_REPS);
        return 2;
    }
    bool all = strcmp(what, "all") == 0;
    printf("# %" PRIu64 " MiB image, page size %" PRIu32 ", median of %d, dir %s\n", size >> 20,
           page_size, reps, dir);
    if (all || strcmp(what, "save") == 0)
        bench_save(dir, size, page_size, reps);
    if (all || strcmp(what, "load") == 0)
        bench_load(dir, size, page_size, reps);
    if (all || strcmp(what, "crc") == 0)
        bench_crc(size, reps);
    return 0;
}
