/* ownfmt: an implementation under test (docs/ADAPTER.md) with a format of its own that writes
 * a checksum and never verifies it, so that `snapcheck conform` must flag it by corruption
 * probing (P-LOAD-1). The commit protocol is sound (temporary, fsync, rename, fsync the
 * directory): only the loader is at fault.
 * Format of <id>.own: "OWNFMT1\n", u64 state_len, u64 mem_len, u64 FNV-1a of the rest (written,
 * never checked), the state bytes, the memory bytes. All integers little-endian. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "OWNFMT1\n"
#define HDR 32u
#define MAX_INPUT ((uint64_t)1 << 32)

static const char *opt(int argc, char **argv, const char *name)
{
    for (int i = 0; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return NULL;
}

static int read_file(uint8_t **out, size_t *out_len, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || (uint64_t)st.st_size > MAX_INPUT) {
        fclose(f);
        return -1;
    }
    size_t len = (size_t)st.st_size;
    uint8_t *b = malloc(len ? len : 1);
    if (!b || (len && fread(b, 1, len, f) != len)) {
        free(b);
        fclose(f);
        return -1;
    }
    fclose(f);
    *out = b;
    *out_len = len;
    return 0;
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int write_fd(int fd, const uint8_t *src, size_t len)
{
    while (len) {
        ssize_t n = write(fd, src, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        src += n;
        len -= (size_t)n;
    }
    return 0;
}

static int cmd_save(int argc, char **argv)
{
    const char *dir = opt(argc, argv, "--dir"), *id = opt(argc, argv, "--id");
    const char *kind = opt(argc, argv, "--kind"), *sp = opt(argc, argv, "--state");
    const char *mp = opt(argc, argv, "--memory");
    if (!dir || !id || !kind || !sp || !mp) {
        fprintf(stderr, "ownfmt: save needs --dir --id --kind --state --memory\n");
        return 2;
    }
    if (strcmp(kind, "full")) {
        fprintf(stderr, "save-diff: unsupported operation\n");
        return 2;
    }
    uint8_t *s, *m;
    size_t sl, ml;
    if (read_file(&s, &sl, sp) || read_file(&m, &ml, mp)) {
        fprintf(stderr, "ownfmt: save %s: cannot read the inputs\n", id);
        return 1;
    }
    size_t len = HDR + sl + ml;
    uint8_t *b = malloc(len);
    if (!b)
        return 1;
    memcpy(b, MAGIC, 8);
    put64(b + 8, sl);
    put64(b + 16, ml);
    memcpy(b + HDR, s, sl);
    memcpy(b + HDR + sl, m, ml);
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = HDR; i < len; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    put64(b + 24, h);
    free(s);
    free(m);
    char tmp[1024], fin[1024];
    snprintf(tmp, sizeof tmp, "%s/%s.own.tmp", dir, id);
    snprintf(fin, sizeof fin, "%s/%s.own", dir, id);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int rc = fd < 0 || write_fd(fd, b, len) || fsync(fd);
    if (fd >= 0 && close(fd) != 0)
        rc = 1;
    free(b);
    if (!rc)
        rc = rename(tmp, fin) != 0;
    if (!rc) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY);
        rc = dfd < 0 || fsync(dfd);
        if (dfd >= 0)
            close(dfd);
    } else {
        unlink(tmp);
    }
    if (rc)
        fprintf(stderr, "ownfmt: save %s: %s\n", id, strerror(errno));
    return rc ? 1 : 0;
}

static int cmd_load(int argc, char **argv)
{
    const char *dir = opt(argc, argv, "--dir"), *id = opt(argc, argv, "--id");
    const char *so = opt(argc, argv, "--state-out"), *mo = opt(argc, argv, "--memory-out");
    if (!dir || !id || !so || !mo) {
        fprintf(stderr, "ownfmt: load needs --dir --id --state-out --memory-out\n");
        return 2;
    }
    char p[1024];
    snprintf(p, sizeof p, "%s/%s.own", dir, id);
    uint8_t *b;
    size_t len;
    if (read_file(&b, &len, p)) {
        fprintf(stderr, "ownfmt: load %s: %s: %s\n", id, p, strerror(errno));
        return 1;
    }
    /* Lengths are checked (no read past the end); the checksum at 24 is not: the bug. */
    uint64_t sl = len >= HDR ? get64(b + 8) : 0, ml = len >= HDR ? get64(b + 16) : 0;
    if (len < HDR || memcmp(b, MAGIC, 8) || sl > len - HDR || ml != len - HDR - sl) {
        fprintf(stderr, "ownfmt: load %s: %s: not a valid file\n", id, p);
        free(b);
        return 1;
    }
    FILE *s = fopen(so, "wb"), *m = fopen(mo, "wb");
    int rc = !s || !m || (sl && fwrite(b + HDR, 1, sl, s) != sl) ||
             (ml && fwrite(b + HDR + sl, 1, ml, m) != ml);
    if (s && fclose(s))
        rc = 1;
    if (m && fclose(m))
        rc = 1;
    free(b);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: ownfmt capabilities|save|load ...\n");
        return 2;
    }
    if (!strcmp(argv[1], "capabilities")) {
        printf("save-full load\n");
        return 0;
    }
    if (!strcmp(argv[1], "save"))
        return cmd_save(argc - 1, argv + 1);
    if (!strcmp(argv[1], "load"))
        return cmd_load(argc - 1, argv + 1);
    fprintf(stderr, "%s: unsupported operation\n", argv[1]);
    return 2;
}
