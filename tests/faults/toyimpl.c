/* toyimpl: a small implementation under test of the adapter contract (docs/ADAPTER.md) that
 * treats the state as opaque bytes, used to test snapcheck itself with protocols whose verdict
 * is known in advance:
 *   --protocol good          one pair file: write <id>.pair.tmp, fsync, close, rename over
 *                            <id>.pair, fsync the directory (correct: no finding expected)
 *   --protocol two-rename    state and memory in two files, each renamed into place: a fault
 *                            or crash between the renames leaves new state + old memory, the
 *                            prior pair is lost (prior-pair finding expected)
 *   --protocol ignore-short  like good, but a short write is taken as complete (the save exits
 *                            0 with a truncated pair: committed finding expected)
 *   --protocol fail-save     every save fails (a clean-run finding of every scenario)
 *   --protocol bad-diff-same-id  a diff saved over an existing diff of the same id stores one
 *                            wrong memory byte (clean-run finding of diff-same-id only)
 *   --protocol segv-on-error a save that fails dies of SIGSEGV instead of exiting 1 (clean-exit
 *                            finding expected)
 *   --protocol hang-on-error a save that fails sleeps forever instead of exiting (killed at
 *                            snapcheck's time-out: clean-exit finding expected)
 *   --protocol nondet        like good, but the header is written in one or two write calls at
 *                            random, so the calls before a fault differ from run to run
 *                            (determinism finding expected)
 *   --protocol mid-run-bug   like good, but a failed write that is neither among the first two
 *                            nor the last two of its run of writes is skipped as if done (the
 *                            save exits 0 with a hole: committed finding, only when the fault
 *                            hits the middle of the run)
 *   --chunk N                (before the operation) write the pair in writes of at most N bytes:
 *                            one run of many counted calls (2 MiB / 20 B = 104,858 writes)
 *   --mmap-index M           (before the operation) after each save, write an index file
 *                            toy.idx through a shared mapping (as SQLite does its -shm):
 *                            undeclared  nothing else (the audit must say UNCHECKED)
 *                            declared    capabilities say volatile=*.idx (must pass)
 *                            trusted     declared, but load refuses a pair whose toy.idx
 *                                        does not start with TOYIDX (a wrong claim: flagged)
 * Diff saves store the full image (allowed by the contract); no merge. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

enum protocol {
    GOOD,
    TWO_RENAME,
    IGNORE_SHORT,
    FAIL_SAVE,
    BAD_DIFF_SAME_ID,
    SEGV_ON_ERROR,
    HANG_ON_ERROR,
    NONDET,
    MID_RUN_BUG
};
static enum protocol proto = GOOD;
static size_t chunk; /* 0: one write per buffer */

static uint64_t fnv(const uint8_t *p, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < 0 || st.st_size > (1 << 28)) {
        close(fd);
        return -1;
    }
    *len = (size_t)st.st_size;
    *out = malloc(*len ? *len : 1);
    size_t got = 0;
    while (*out && got < *len) {
        ssize_t r = read(fd, *out + got, *len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (!*out || got != *len) {
        free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    if (proto == NONDET && len > 1) {
        /* one or two calls, at random: a non-deterministic sequence of counted calls */
        uint8_t coin = 0;
        if (getrandom(&coin, 1, 0) == 1 && (coin & 1)) {
            proto = GOOD;
            int rc = write_all(fd, p, len / 2) || write_all(fd, p + len / 2, len - len / 2);
            proto = NONDET;
            return rc ? -1 : 0;
        }
    }
    while (len) {
        size_t n = chunk && len > chunk ? chunk : len;
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        if (proto == IGNORE_SHORT)
            return 0;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Write a buffer as a run of chunk-sized writes; mid-run-bug skips a failed write in the
 * middle of the run. */
static int write_chunks(int fd, const uint8_t *p, size_t len)
{
    if (!chunk || proto != MID_RUN_BUG)
        return write_all(fd, p, len);
    off_t base = lseek(fd, 0, SEEK_CUR);
    if (base < 0)
        return -1;
    size_t n = (len + chunk - 1) / chunk;
    for (size_t i = 0; i < n; i++) {
        size_t off = i * chunk, part = len - off < chunk ? len - off : chunk;
        ssize_t w = pwrite(fd, p + off, part, base + (off_t)off);
        bool middle = i >= 2 && i + 2 < n;
        if (w != (ssize_t)part && !middle)
            return -1;
    }
    return lseek(fd, base + (off_t)len, SEEK_SET) < 0 ? -1 : 0;
}

/* File = "TOY1" u64 token u64 len, bytes, u64 fnv(all before). */
static int write_file(const char *tmp, uint64_t token, const uint8_t *a, size_t alen,
                      const uint8_t *b, size_t blen)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    uint8_t head[20];
    uint64_t total = alen + blen;
    memcpy(head, "TOY1", 4);
    memcpy(head + 4, &token, 8);
    memcpy(head + 12, &total, 8);
    uint64_t h = fnv(head, sizeof head, 0xcbf29ce484222325ull);
    h = fnv(a, alen, h);
    h = fnv(b, blen, h);
    int rc = write_all(fd, head, sizeof head) || write_all(fd, a, alen) ||
             write_chunks(fd, b, blen) || write_all(fd, (uint8_t *)&h, 8) || fsync(fd);
    if (close(fd) != 0)
        rc = -1;
    if (rc)
        unlink(tmp);
    return rc ? -1 : 0;
}

/* Read and verify a file; body (heap) = bytes after the header, without the checksum. */
static int check_file(const char *path, uint64_t *token, uint8_t **body, size_t *body_len)
{
    uint8_t *buf;
    size_t len;
    if (read_file(path, &buf, &len) != 0)
        return -1;
    uint64_t total, h;
    if (len < 28 || memcmp(buf, "TOY1", 4) != 0)
        goto bad;
    memcpy(token, buf + 4, 8);
    memcpy(&total, buf + 12, 8);
    if (total != len - 28)
        goto bad;
    memcpy(&h, buf + len - 8, 8);
    if (fnv(buf, len - 8, 0xcbf29ce484222325ull) != h)
        goto bad;
    *body = buf;
    memmove(buf, buf + 20, total);
    *body_len = total;
    return 0;
bad:
    free(buf);
    return -1;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static const char *opt(int argc, char **argv, const char *name)
{
    for (int i = 0; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return NULL;
}

static int fail(const char *what)
{
    fprintf(stderr, "toyimpl: %s: %s\n", what, strerror(errno ? errno : EIO));
    return 1;
}

static enum { IDX_NONE, IDX_UNDECLARED, IDX_DECLARED, IDX_TRUSTED } mmap_index;

/* toy.idx: 4 KiB, "TOYIDX" and a byte that changes with every save, written through a shared
 * mapping (no write call: only the open and the ftruncate are seen). */
static void write_index(const char *dir)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/toy.idx", dir);
    int fd = open(p, O_RDWR | O_CREAT, 0644);
    if (fd < 0)
        return;
    if (ftruncate(fd, 4096) == 0) {
        uint8_t *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m != MAP_FAILED) {
            memcpy(m, "TOYIDX", 6);
            m[6]++;
            munmap(m, 4096);
        }
    }
    close(fd);
}

/* trusted: the index must be there and start with TOYIDX. */
static bool index_ok(const char *dir)
{
    char p[4096], b[6];
    snprintf(p, sizeof p, "%s/toy.idx", dir);
    FILE *f = fopen(p, "rb");
    bool ok = f && fread(b, 1, 6, f) == 6 && !memcmp(b, "TOYIDX", 6);
    if (f)
        fclose(f);
    return ok;
}

static int save_pair(const char *dir, const char *id, const uint8_t *st, size_t sl,
                     const uint8_t *mem, size_t ml)
{
    char tmp[4096], fin[4096], tmp2[4096], fin2[4096];
    uint64_t token = ((uint64_t)getpid() << 20) ^ (uint64_t)ml ^ fnv(st, sl, 1);
    uint8_t lens[8];
    uint64_t sl64 = sl;
    memcpy(lens, &sl64, 8);
    if (proto != TWO_RENAME) {
        snprintf(tmp, sizeof tmp, "%s/%s.pair.tmp", dir, id);
        snprintf(fin, sizeof fin, "%s/%s.pair", dir, id);
        uint8_t *both = malloc(8 + sl);
        memcpy(both, lens, 8);
        memcpy(both + 8, st, sl);
        int rc = write_file(tmp, token, both, 8 + sl, mem, ml);
        free(both);
        if (rc != 0)
            return fail("write pair");
        if (rename(tmp, fin) != 0) {
            int e = errno;
            unlink(tmp);
            errno = e;
            return fail("rename");
        }
        return fsync_dir(dir) ? fail("fsync dir") : 0;
    }
    snprintf(tmp, sizeof tmp, "%s/%s.state.tmp", dir, id);
    snprintf(fin, sizeof fin, "%s/%s.state", dir, id);
    snprintf(tmp2, sizeof tmp2, "%s/%s.mem.tmp", dir, id);
    snprintf(fin2, sizeof fin2, "%s/%s.mem", dir, id);
    if (write_file(tmp, token, st, sl, NULL, 0) != 0 ||
        write_file(tmp2, token, mem, ml, NULL, 0) != 0)
        return fail("write temporaries");
    if (rename(tmp, fin) != 0 || rename(tmp2, fin2) != 0)
        return fail("rename");
    return fsync_dir(dir) ? fail("fsync dir") : 0;
}

static int save(const char *dir, const char *id, const char *kind, const char *sp,
                const char *mp)
{
    uint8_t *st = NULL, *mem = NULL;
    size_t sl, ml;
    int rc;

    if (proto == FAIL_SAVE) {
        fprintf(stderr, "toyimpl: save refused (fail-save protocol)\n");
        return 1;
    }
    if (read_file(sp, &st, &sl) != 0 || read_file(mp, &mem, &ml) != 0)
        rc = fail("cannot read the inputs");
    else {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s.pair", dir, id);
        if (proto == BAD_DIFF_SAME_ID && kind && !strcmp(kind, "diff") && ml &&
            access(p, F_OK) == 0)
            mem[0] ^= 0xff; /* the bug: an incremental checkpoint stores a wrong byte */
        rc = save_pair(dir, id, st, sl, mem, ml);
        if (rc == 0 && mmap_index != IDX_NONE)
            write_index(dir);
    }
    free(st);
    free(mem);
    if (rc != 0 && proto == SEGV_ON_ERROR)
        raise(SIGSEGV);
    while (rc != 0 && proto == HANG_ON_ERROR)
        pause();
    return rc;
}

static int write_outputs(const char *so, const uint8_t *st, size_t sl, const char *mo,
                         const uint8_t *mem, size_t ml)
{
    FILE *f = fopen(so, "wb"), *g = fopen(mo, "wb");
    int bad = !f || !g;
    if (f) {
        bad |= fwrite(st, 1, sl, f) != sl;
        bad |= fclose(f) != 0;
    }
    if (g) {
        bad |= fwrite(mem, 1, ml, g) != ml;
        bad |= fclose(g) != 0;
    }
    return bad ? fail("outputs") : 0;
}

static int load(const char *dir, const char *id, const char *so, const char *mo)
{
    char p[4096], p2[4096];
    uint8_t *a = NULL, *b = NULL;
    size_t al, bl;
    uint64_t t1, t2, sl;
    int rc;

    if (mmap_index == IDX_TRUSTED && !index_ok(dir)) {
        errno = EINVAL;
        return fail("toy.idx is damaged");
    }
    if (proto != TWO_RENAME) {
        snprintf(p, sizeof p, "%s/%s.pair", dir, id);
        if (check_file(p, &t1, &a, &al) != 0 || al < 8) {
            rc = fail("no valid pair");
        } else {
            memcpy(&sl, a, 8);
            if (sl > al - 8) {
                errno = EINVAL;
                rc = fail("bad pair");
            } else {
                rc = write_outputs(so, a + 8, sl, mo, a + 8 + sl, al - 8 - sl);
            }
        }
    } else {
        snprintf(p, sizeof p, "%s/%s.state", dir, id);
        snprintf(p2, sizeof p2, "%s/%s.mem", dir, id);
        if (check_file(p, &t1, &a, &al) != 0 || check_file(p2, &t2, &b, &bl) != 0) {
            rc = fail("no valid pair");
        } else if (t1 != t2) {
            errno = EINVAL;
            rc = fail("state and memory files do not belong together");
        } else {
            rc = write_outputs(so, a, al, mo, b, bl);
        }
    }
    free(a);
    free(b);
    return rc;
}

int main(int argc, char **argv)
{
    int i = 1;
    while (i + 1 < argc && !strncmp(argv[i], "--", 2)) {
        const char *p = argv[i + 1];
        if (!strcmp(argv[i], "--chunk")) {
            chunk = strtoul(p, NULL, 10);
        } else if (!strcmp(argv[i], "--mmap-index")) {
            mmap_index = !strcmp(p, "undeclared") ? IDX_UNDECLARED
                         : !strcmp(p, "declared") ? IDX_DECLARED
                         : !strcmp(p, "trusted")  ? IDX_TRUSTED
                                                  : IDX_NONE;
        } else if (!strcmp(argv[i], "--protocol")) {
            proto = !strcmp(p, "two-rename")         ? TWO_RENAME
                    : !strcmp(p, "ignore-short")     ? IGNORE_SHORT
                    : !strcmp(p, "fail-save")        ? FAIL_SAVE
                    : !strcmp(p, "bad-diff-same-id") ? BAD_DIFF_SAME_ID
                    : !strcmp(p, "segv-on-error")    ? SEGV_ON_ERROR
                    : !strcmp(p, "hang-on-error")    ? HANG_ON_ERROR
                    : !strcmp(p, "nondet")           ? NONDET
                    : !strcmp(p, "mid-run-bug")      ? MID_RUN_BUG
                                                     : GOOD;
        } else {
            break;
        }
        i += 2;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: toyimpl [--protocol P] capabilities|save|load ...\n");
        return 2;
    }
    const char *op = argv[i];
    const char *dir = opt(argc, argv, "--dir"), *id = opt(argc, argv, "--id");
    if (!strcmp(op, "capabilities")) {
        puts(mmap_index >= IDX_DECLARED ? "save-full save-diff load volatile=*.idx"
                                        : "save-full save-diff load");
        return 0;
    }
    if (!dir || !id) {
        fprintf(stderr, "toyimpl: --dir and --id are required\n");
        return 2;
    }
    if (!strcmp(op, "save"))
        return save(dir, id, opt(argc, argv, "--kind"), opt(argc, argv, "--state"),
                    opt(argc, argv, "--memory"));
    if (!strcmp(op, "load"))
        return load(dir, id, opt(argc, argv, "--state-out"), opt(argc, argv, "--memory-out"));
    fprintf(stderr, "toyimpl: unknown operation %s\n", op);
    return 2;
}
