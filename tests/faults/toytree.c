/* toytree: an implementation under test (docs/ADAPTER.md) that keeps its pairs in a
 * subdirectory of --dir, used to test that snapcheck copies, compares, counts and removes
 * directory trees, symlinks and sparse files, and that its reports stay valid UTF-8 whatever
 * the IUT writes on stderr:
 *   <dir>/pairs/                 created by the first save (mkdir)
 *   <dir>/pairs/<id>.pair        good: state and memory in one file, write .tmp + fsync +
 *                                rename + fsync of pairs/ (no finding expected)
 *   <dir>/pairs/<id>.state/.mem  --protocol two-rename: two files, each renamed into place
 *                                (a fault between the renames loses the prior pair)
 *   --protocol in-place          the pair file rewritten in place (open without O_TRUNC,
 *                                write, ftruncate, fsync): a fault mid-way destroys the prior
 *                                pair (prior-pair finding expected); it also writes through
 *                                any hard link snapcheck put in the directory
 *   <dir>/pairs/<id>.latest      a symlink to <id>.pair (inside the directory)
 *   <dir>/pairs/root             a symlink to / (outside: snapcheck must not follow it)
 *   <dir>/pairs/pad.sparse       --sparse-mib N: an N MiB file with one byte of data
 *   --flat                       everything in <dir> itself, no symlinks (what snapcheck
 *                                handled before subdirectories: a baseline for measurements)
 * Every error message holds multi-byte UTF-8 (so a cut at a byte count splits a character),
 * an invalid byte and an escape character. Diff saves store the full image; no merge. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int two_rename, in_place;
static unsigned long sparse_mib;
static int flat;

static uint64_t fnv(const uint8_t *p, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* "toytree: <what>: <errno text> — " then 'é' up to past byte 200 of the line, an invalid
 * byte 0xff and an ESC: what a report must cut at a character boundary and clean. */
static int fail(const char *what)
{
    int e = errno ? errno : EIO;
    fprintf(stderr, "toytree: %s: %s \xe2\x80\x94 d\xc3\xa9tail ", what, strerror(e));
    for (int i = 0; i < 120; i++)
        fputs("\xc3\xa9", stderr);
    fputs(" \xff \x1b[31m\n", stderr);
    return 1;
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
    *out = NULL;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 28)) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    *len = (size_t)st.st_size;
    *out = malloc(*len + 1);
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
        errno = EIO;
        return -1;
    }
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* File = "TTR1" u64 token u64 len, bytes, u64 fnv(all before); tmp then rename to fin. */
static int put_file(const char *tmp, const char *fin, uint64_t token, const uint8_t *a, size_t alen,
                    const uint8_t *b, size_t blen)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    uint8_t head[20];
    uint64_t total = alen + blen;
    memcpy(head, "TTR1", 4);
    memcpy(head + 4, &token, 8);
    memcpy(head + 12, &total, 8);
    uint64_t h = fnv(b, blen, fnv(a, alen, fnv(head, sizeof head, 0xcbf29ce484222325ull)));
    int rc = write_all(fd, head, sizeof head) || write_all(fd, a, alen) || write_all(fd, b, blen) ||
             write_all(fd, (uint8_t *)&h, 8) || fsync(fd);
    if (close(fd) != 0)
        rc = -1;
    if (rc == 0 && fin && rename(tmp, fin) != 0)
        rc = -1;
    if (rc) {
        int e = errno;
        unlink(tmp);
        errno = e;
    }
    return rc ? -1 : 0;
}

/* body (heap) = the bytes between header and checksum. */
static int get_file(const char *path, uint64_t *token, uint8_t **body, size_t *body_len)
{
    uint8_t *buf;
    size_t len;
    if (read_file(path, &buf, &len) != 0)
        return -1;
    uint64_t total, h;
    if (len < 28 || memcmp(buf, "TTR1", 4) != 0)
        goto bad;
    memcpy(token, buf + 4, 8);
    memcpy(&total, buf + 12, 8);
    memcpy(&h, buf + len - 8, 8);
    if (total != len - 28 || fnv(buf, len - 8, 0xcbf29ce484222325ull) != h)
        goto bad;
    memmove(buf, buf + 20, total);
    *body = buf;
    *body_len = total;
    return 0;
bad:
    free(buf);
    errno = EBADMSG;
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

static int ensure_link(const char *path, const char *target)
{
    struct stat st;
    if (lstat(path, &st) == 0)
        return 0;
    return symlink(target, path);
}

static int save(const char *dir, const char *id, const char *sp, const char *mp)
{
    char pairs[4096], tmp[4300], fin[4300], tmp2[4300], fin2[4300], link[4300];
    snprintf(pairs, sizeof pairs, flat ? "%s" : "%s/pairs", dir);
    if (!flat && mkdir(pairs, 0755) != 0 && errno != EEXIST)
        return fail("mkdir pairs");
    uint8_t *st = NULL, *mem = NULL;
    size_t sl, ml;
    if (read_file(sp, &st, &sl) != 0 || read_file(mp, &mem, &ml) != 0) {
        free(st);
        return fail("cannot read the inputs");
    }
    uint64_t token = ((uint64_t)getpid() << 20) ^ (uint64_t)ml ^ fnv(st, sl, 1);
    int rc;
    if (in_place) {
        snprintf(fin, sizeof fin, "%s/%s.pair", pairs, id);
        uint8_t head[28];
        uint64_t sl64 = sl, total = 8 + sl + ml;
        memcpy(head, "TTR1", 4);
        memcpy(head + 4, &token, 8);
        memcpy(head + 12, &total, 8);
        memcpy(head + 20, &sl64, 8);
        uint64_t h = fnv(mem, ml, fnv(st, sl, fnv(head, sizeof head, 0xcbf29ce484222325ull)));
        int fd = open(fin, O_WRONLY | O_CREAT, 0644);
        rc = fd < 0 || write_all(fd, head, sizeof head) || write_all(fd, st, sl) ||
             write_all(fd, mem, ml) || write_all(fd, (uint8_t *)&h, 8) ||
             ftruncate(fd, (off_t)(sizeof head + sl + ml + 8)) || fsync(fd);
        if (fd >= 0 && close(fd) != 0)
            rc = 1;
    } else if (!two_rename) {
        snprintf(tmp, sizeof tmp, "%s/%s.pair.tmp", pairs, id);
        snprintf(fin, sizeof fin, "%s/%s.pair", pairs, id);
        uint8_t *both = malloc(8 + sl);
        uint64_t sl64 = sl;
        memcpy(both, &sl64, 8);
        memcpy(both + 8, st, sl);
        rc = put_file(tmp, fin, token, both, 8 + sl, mem, ml);
        free(both);
    } else {
        snprintf(tmp, sizeof tmp, "%s/%s.state.tmp", pairs, id);
        snprintf(fin, sizeof fin, "%s/%s.state", pairs, id);
        snprintf(tmp2, sizeof tmp2, "%s/%s.mem.tmp", pairs, id);
        snprintf(fin2, sizeof fin2, "%s/%s.mem", pairs, id);
        rc = put_file(tmp, NULL, token, st, sl, NULL, 0) ||
             put_file(tmp2, NULL, token, mem, ml, NULL, 0) || rename(tmp, fin) ||
             rename(tmp2, fin2);
    }
    free(st);
    free(mem);
    if (rc)
        return fail("write pair");
    snprintf(link, sizeof link, "%s/%s.latest", pairs, id);
    snprintf(tmp, sizeof tmp, "%s.pair", id);
    if (!flat && ensure_link(link, tmp) != 0)
        return fail("symlink latest");
    snprintf(link, sizeof link, "%s/root", pairs);
    if (!flat && ensure_link(link, "/") != 0)
        return fail("symlink root");
    if (sparse_mib) {
        snprintf(fin, sizeof fin, "%s/pad.sparse", pairs);
        struct stat pst;
        if (stat(fin, &pst) != 0) {
            int fd = open(fin, O_WRONLY | O_CREAT, 0644);
            if (fd < 0 || pwrite(fd, "p", 1, 0) != 1 ||
                ftruncate(fd, (off_t)(sparse_mib << 20)) != 0 || close(fd) != 0)
                return fail("pad.sparse");
        }
    }
    return fsync_dir(pairs) ? fail("fsync pairs") : 0;
}

static int write_out(const char *path, const uint8_t *p, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    int rc = write_all(fd, p, len);
    return close(fd) || rc ? -1 : 0;
}

static int load(const char *dir, const char *id, const char *so, const char *mo)
{
    char p[4300], p2[4300];
    uint8_t *a = NULL, *b = NULL;
    size_t al, bl;
    uint64_t t1, t2, sl;
    int rc;
    if (!two_rename) { /* good and in-place */
        /* through the symlink */
        snprintf(p, sizeof p, flat ? "%s/%s.pair" : "%s/pairs/%s.latest", dir, id);
        if (get_file(p, &t1, &a, &al) != 0 || al < 8) {
            rc = fail("no valid pair");
        } else {
            memcpy(&sl, a, 8);
            if (sl > al - 8) {
                errno = EINVAL;
                rc = fail("bad pair");
            } else {
                rc = write_out(so, a + 8, sl) || write_out(mo, a + 8 + sl, al - 8 - sl)
                         ? fail("outputs")
                         : 0;
            }
        }
    } else {
        snprintf(p, sizeof p, flat ? "%s/%s.state" : "%s/pairs/%s.state", dir, id);
        snprintf(p2, sizeof p2, flat ? "%s/%s.mem" : "%s/pairs/%s.mem", dir, id);
        if (get_file(p, &t1, &a, &al) != 0 || get_file(p2, &t2, &b, &bl) != 0) {
            rc = fail("no valid pair");
        } else if (t1 != t2) {
            errno = EINVAL;
            rc = fail("state and memory files do not belong together");
        } else {
            rc = write_out(so, a, al) || write_out(mo, b, bl) ? fail("outputs") : 0;
        }
    }
    free(a);
    free(b);
    return rc;
}

static const char *opt(int argc, char **argv, const char *name)
{
    for (int i = 0; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return NULL;
}

int main(int argc, char **argv)
{
    int i = 1;
    for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
        if (!strcmp(argv[i], "--flat"))
            flat = 1, i--;
        else if (!strcmp(argv[i], "--protocol"))
            two_rename = !strcmp(argv[i + 1], "two-rename"),
            in_place = !strcmp(argv[i + 1], "in-place");
        else if (!strcmp(argv[i], "--sparse-mib"))
            sparse_mib = strtoul(argv[i + 1], NULL, 10);
        else
            break;
    }
    if (i >= argc) {
        fprintf(stderr,
                "usage: toytree [--flat] [--protocol good|two-rename|in-place] [--sparse-mib N] "
                "capabilities|save|load ...\n");
        return 2;
    }
    const char *op = argv[i];
    const char *dir = opt(argc, argv, "--dir"), *id = opt(argc, argv, "--id");
    if (!strcmp(op, "capabilities")) {
        puts("save-full save-diff load");
        return 0;
    }
    if (!dir || !id) {
        fprintf(stderr, "toytree: --dir and --id are required\n");
        return 2;
    }
    if (!strcmp(op, "save"))
        return save(dir, id, opt(argc, argv, "--state"), opt(argc, argv, "--memory"));
    if (!strcmp(op, "load"))
        return load(dir, id, opt(argc, argv, "--state-out"), opt(argc, argv, "--memory-out"));
    fprintf(stderr, "toytree: unknown operation %s\n", op);
    return 2;
}
