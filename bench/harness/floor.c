/* The floor of one fault case: the least work any driver must do per case, measured on this
 * machine, so that the cases/s of snapcheck faults can be set against what the hardware allows.
 *
 * One "case" here is: fork a child that saves a pair the way the reference does (a 4 KiB state
 * file and a 2 MiB memory file, each written to a temporary name in 1 MiB pwrites, fsynced and
 * renamed, then the directory fsynced) and exits; the parent then reads both files back into
 * reused buffers, checks the memory file's CRC-64 and compares it with what was saved (the
 * judging load), and removes the files (the case directory's removal). It leaves out all the
 * rest a real case does (the fault, the trace, the census check, the prior pair and the diff
 * base, the recovery save and its load, the file count, the report), so a real case costs more.
 *
 * usage: snapcheck-floor [CASES [WORKERS [MIB]]]   (default 2000 2 2) in $TMPDIR (default
 * /dev/shm, else /tmp). Prints cases/s and CPU ms per case, with and without the fork. */
#define _GNU_SOURCE
#include <snap/crc64.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what, const char *path)
{
    fprintf(stderr, "snapcheck-floor: %s %s: %s\n", what, path ? path : "", strerror(errno));
    exit(2);
}

static void put(const char *dir, const char *name, const uint8_t *p, size_t len)
{
    char tmp[4096], fin[4096];
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name);
    snprintf(fin, sizeof fin, "%s/%s", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        die("open", tmp);
    for (size_t off = 0; off < len;) {
        size_t n = len - off < (1u << 20) ? len - off : (1u << 20);
        ssize_t w = pwrite(fd, p + off, n, (off_t)off);
        if (w <= 0)
            die("pwrite", tmp);
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0)
        die("fsync", tmp);
    if (rename(tmp, fin) != 0)
        die("rename", tmp);
}

static void save(const char *dir, const uint8_t *state, size_t state_len, const uint8_t *mem,
                 size_t mem_len)
{
    put(dir, "vm.mem", mem, mem_len);
    put(dir, "vm.state", state, state_len);
    int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0 || fsync(d) != 0)
        die("fsync", dir);
    close(d);
}

static void get(const char *dir, const char *name, uint8_t *buf, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die("open", path);
    for (size_t off = 0; off < len;) {
        ssize_t r = pread(fd, buf + off, len - off, (off_t)off);
        if (r <= 0)
            die("pread", path);
        off += (size_t)r;
    }
    close(fd);
    if (unlink(path) != 0)
        die("unlink", path);
}

/* Run n cases in dir. @return 0, or exits 2. */
static void work(const char *dir, unsigned long n, size_t mem_len, int forked)
{
    size_t state_len = 4096;
    uint8_t *mem = malloc(mem_len), *state = malloc(state_len);
    /* The read-back buffers stay out of the children (MADV_DONTFORK): a fork would otherwise
     * make every page of them copy-on-write, and the next read fault on each. */
    uint8_t *back = mmap(NULL, mem_len + state_len, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!mem || !state || back == MAP_FAILED)
        die("malloc", NULL);
    uint8_t *sback = back + mem_len;
    if (madvise(back, mem_len + state_len, MADV_DONTFORK) != 0)
        die("madvise", NULL);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < mem_len; i += 8) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        memcpy(mem + i, &x, 8);
    }
    memset(state, 0x5a, state_len);
    uint64_t want = snap_crc64(0, mem, mem_len);
    for (unsigned long i = 0; i < n; i++) {
        if (forked) {
            pid_t pid = fork();
            if (pid < 0)
                die("fork", NULL);
            if (pid == 0) {
                save(dir, state, state_len, mem, mem_len);
                _exit(0);
            }
            int st;
            if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
                die("child", NULL);
        } else {
            save(dir, state, state_len, mem, mem_len);
        }
        get(dir, "vm.state", sback, state_len);
        get(dir, "vm.mem", back, mem_len);
        if (snap_crc64(0, back, mem_len) != want || memcmp(back, mem, mem_len) != 0) {
            fprintf(stderr, "snapcheck-floor: the memory file read back differs\n");
            exit(2);
        }
    }
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_children(void)
{
    struct rusage u;
    getrusage(RUSAGE_CHILDREN, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 +
           (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec / 1e6;
}

static unsigned long number(const char *s, const char *what)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v == 0 || v > 100000000ul) {
        fprintf(stderr, "snapcheck-floor: %s must be a positive number, not '%s'\n", what, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    if (argc > 4 || (argc > 1 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: snapcheck-floor [CASES [WORKERS [MIB]]]\n");
        return 2;
    }
    unsigned long cases = argc > 1 ? number(argv[1], "CASES") : 2000;
    unsigned long workers = argc > 2 ? number(argv[2], "WORKERS") : 2;
    size_t mem_len = (size_t)(argc > 3 ? number(argv[3], "MIB") : 2) << 20;
    const char *tmp = getenv("TMPDIR");
    struct stat sb;
    if (!tmp || !*tmp)
        tmp = stat("/dev/shm", &sb) == 0 ? "/dev/shm" : "/tmp";
    char root[4096];
    snprintf(root, sizeof root, "%s/snapcheck-floor.XXXXXX", tmp);
    if (!mkdtemp(root))
        die("mkdtemp", root);
    for (int forked = 1; forked >= 0; forked--) {
        double t0 = now(), c0 = cpu_children();
        for (unsigned long w = 0; w < workers; w++) {
            pid_t pid = fork();
            if (pid < 0)
                die("fork", NULL);
            if (pid == 0) {
                char dir[4200];
                snprintf(dir, sizeof dir, "%s/w%lu", root, w);
                if (mkdir(dir, 0755) != 0)
                    die("mkdir", dir);
                work(dir, cases / workers, mem_len, forked);
                rmdir(dir);
                _exit(0);
            }
        }
        int bad = 0, st;
        while (wait(&st) > 0)
            bad |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
        if (bad) {
            rmdir(root);
            return 2;
        }
        double t = now() - t0, cpu = cpu_children() - c0;
        unsigned long n = cases / workers * workers;
        printf("floor, %lu workers, %zu MiB, %s: %lu cases in %.2f s: %.0f cases/s, %.3f ms of "
               "CPU per case\n",
               workers, mem_len >> 20, forked ? "saved in a forked child" : "saved without fork",
               n, t, (double)n / t, 1000 * cpu / (double)n);
    }
    rmdir(root);
    return 0;
}
