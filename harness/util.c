/* Helpers of the snapcheck tool: files, directories and heap strings (see util.h). */
/* SEEK_DATA, SEEK_HOLE, copy_file_range. */
#define _GNU_SOURCE
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <snap/crc64.h>

static void die_oom(void)
{
    fputs("snapcheck: out of memory\n", stderr);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die_oom();
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        die_oom();
    return p;
}

char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = xmalloc(n);
    memcpy(p, s, n);
    return p;
}

/* GCC 12 with -fsanitize=undefined reports a "null format string" on the sizing vsnprintf
 * below (its null checks make fmt look possibly NULL); fmt is never NULL (format attribute). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char probe[1];
    va_start(ap, fmt);
    int n = vsnprintf(probe, sizeof(probe), fmt, ap);
    va_end(ap);
    if (n < 0)
        die_oom();
    char *p = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

int parse_uint(uint64_t *out, const char *s, uint64_t min, uint64_t max)
{
    if (!s || *s < '0' || *s > '9')
        return -1;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int fmt_path(char *dst, size_t dst_cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, dst_cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= dst_cap) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

int file_read(uint8_t **out, size_t *out_len, const char *path, size_t max_len)
{
    *out = NULL;
    *out_len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0)
        goto err;
    if (st.st_size < 0 || (uint64_t)st.st_size > max_len) {
        errno = EFBIG;
        goto err;
    }
    size_t len = (size_t)st.st_size;
    uint8_t *buf = xmalloc(len + 1);
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                break; /* shrank while reading: return what is there */
            free(buf);
            goto err;
        }
        got += (size_t)r;
    }
    buf[got] = 0;
    close(fd);
    *out = buf;
    *out_len = got;
    return 0;
err:;
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}

int file_write(const char *path, const void *src, size_t src_len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    const uint8_t *p = src;
    size_t done = 0;
    while (done < src_len) {
        ssize_t w = write(fd, p + done, src_len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            close(fd);
            errno = e;
            return -1;
        }
        done += (size_t)w;
    }
    return close(fd);
}

bool file_equals(const char *path, const uint8_t *src, size_t src_len)
{
    uint8_t *buf;
    size_t len;
    if (file_read(&buf, &len, path, src_len + 1) != 0)
        return false;
    bool eq = len == src_len && memcmp(buf, src, len) == 0;
    free(buf);
    return eq;
}

void file_first_line(char *dst, size_t dst_cap, const char *path)
{
    if (!dst_cap)
        return;
    dst[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (fgets(dst, (int)(dst_cap > 0x7fffffff ? 0x7fffffff : dst_cap), f)) {
        size_t len = strcspn(dst, "\r\n");
        bool cut = dst[len] == 0 && len == dst_cap - 1;
        dst[len] = 0;
        if (cut)
            utf8_trim_partial(dst);
    } else {
        dst[0] = 0;
    }
    fclose(f);
}

void str_append(char *dst, size_t dst_cap, const char *src)
{
    if (!dst_cap)
        return;
    size_t len = strnlen(dst, dst_cap);
    if (len >= dst_cap - 1)
        return;
    size_t room = dst_cap - 1 - len;
    size_t n = strlen(src);
    if (n <= room) {
        memcpy(dst + len, src, n + 1);
        return;
    }
    memcpy(dst + len, src, room);
    dst[dst_cap - 1] = 0;
    if (dst_cap >= 4) {
        /* "..." at a UTF-8 character boundary: never after half a character. */
        size_t at = dst_cap - 4;
        while (at > 0 && ((unsigned char)dst[at] & 0xc0) == 0x80)
            at--;
        memcpy(dst + at, "...", 4);
    }
}

void mem_fork_advice(const void *p, size_t len, bool fork)
{
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0 || !p)
        return;
    uintptr_t start = (uintptr_t)p, end = start + len;
    uintptr_t a = (start + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    uintptr_t b = end & ~((uintptr_t)page - 1);
    if (b > a)
        madvise((void *)a, b - a, fork ? MADV_DOFORK : MADV_DONTFORK);
}

void str_replace_all(char *buf, size_t buf_cap, const char *needle, const char *repl)
{
    size_t nlen = strlen(needle);
    if (!nlen || !buf_cap || !strstr(buf, needle))
        return;
    char *out = xcalloc(1, buf_cap);
    const char *p = buf;
    for (const char *hit; (hit = strstr(p, needle)) != NULL; p = hit + nlen) {
        size_t keep = (size_t)(hit - p);
        char chunk[512];
        while (keep) {
            size_t n = keep < sizeof chunk - 1 ? keep : sizeof chunk - 1;
            memcpy(chunk, p, n);
            chunk[n] = 0;
            str_append(out, buf_cap, chunk);
            p += n;
            keep -= n;
        }
        str_append(out, buf_cap, repl);
    }
    str_append(out, buf_cap, p);
    memcpy(buf, out, buf_cap);
    buf[buf_cap - 1] = 0;
    free(out);
}

char *shell_quote(const char *s)
{
    size_t n = 2;
    for (const char *p = s; *p; p++)
        n += *p == '\'' ? 4 : 1;
    char *q = xmalloc(n + 1), *o = q;
    *o++ = '\'';
    for (const char *p = s; *p; p++) {
        if (*p == '\'') {
            memcpy(o, "'\\''", 4);
            o += 4;
        } else {
            *o++ = *p;
        }
    }
    *o++ = '\'';
    *o = 0;
    return q;
}

/* Length of the valid UTF-8 sequence at p (1 to 4), or 0 when p does not start one: a stray
 * continuation byte, an overlong form, a surrogate, above U+10FFFF, or cut short. */
static size_t utf8_seq(const unsigned char *p, uint32_t *cp)
{
    unsigned char b = p[0];
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    size_t len;
    uint32_t min, v;
    if (b >= 0xc2 && b <= 0xdf) {
        len = 2, min = 0x80, v = b & 0x1fu;
    } else if (b >= 0xe0 && b <= 0xef) {
        len = 3, min = 0x800, v = b & 0x0fu;
    } else if (b >= 0xf0 && b <= 0xf4) {
        len = 4, min = 0x10000, v = b & 0x07u;
    } else {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) /* also stops at the NUL */
            return 0;
        v = (v << 6) | (p[i] & 0x3fu);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

char *utf8_clean(const char *s)
{
    size_t n = strlen(s);
    char *out = xmalloc(3 * n + 1), *o = out; /* each byte becomes at most 3 (U+FFFD) */
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp;
        size_t len = utf8_seq(p, &cp);
        bool ok = len && (cp >= 0x20 || cp == '\t' || cp == '\n') && cp != 0x7f && cp != 0xfffe &&
                  cp != 0xffff;
        if (ok) {
            memcpy(o, p, len);
            o += len;
            p += len;
        } else {
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
            p += len ? len : 1; /* a disallowed character is replaced whole */
        }
    }
    *o = 0;
    return out;
}

void utf8_trim_partial(char *s)
{
    size_t n = strlen(s);
    /* The last sequence starts at most 3 bytes before the end. */
    for (size_t back = 1; back <= 4 && back <= n; back++) {
        unsigned char b = (unsigned char)s[n - back];
        if ((b & 0xc0) == 0x80)
            continue; /* a continuation byte: look further back */
        size_t need = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
        if (need > back)
            s[n - back] = 0;
        return;
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the entries of the open directory fd (closed here). NULL with errno on
 * failure; *out_n entries. */
static char **read_names(int fd, size_t *out_n)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        errno = e;
        return NULL;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **grown = realloc(names, cap * sizeof *names);
            if (!grown)
                die_oom();
            names = grown;
        }
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    *out_n = n;
    return names ? names : xcalloc(1, sizeof *names);
}

static int walk_at(const char *root, const char *rel,
                   int (*fn)(const char *rel, const struct stat *st, void *ctx), void *ctx)
{
    char path[PATH_MAX];
    if (fmt_path(path, sizeof path, "%s%s%s", root, *rel ? "/" : "", rel) != 0)
        return -1;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n;
    char **names = read_names(fd, &n);
    if (!names)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char sub[PATH_MAX], full[PATH_MAX];
        struct stat st;
        if (fmt_path(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", names[i]) != 0 ||
            fmt_path(full, sizeof full, "%s/%s", root, sub) != 0 || lstat(full, &st) != 0) {
            rc = -1;
            break;
        }
        rc = fn(sub, &st, ctx);
        if (rc == 0 && S_ISDIR(st.st_mode))
            rc = walk_at(root, sub, fn, ctx);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int dir_walk(const char *root, int (*fn)(const char *rel, const struct stat *st, void *ctx),
             void *ctx)
{
    return walk_at(root, "", fn, ctx);
}

int file_copy_sparse(const char *dst, const char *src, unsigned mode)
{
    int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 07777);
    if (out < 0) {
        int e = errno;
        close(in);
        errno = e;
        return -1;
    }
    struct stat st;
    int rc = fstat(in, &st);
    off_t size = rc == 0 ? st.st_size : 0, pos = 0;
    while (rc == 0 && pos < size) {
        off_t data = lseek(in, pos, SEEK_DATA);
        if (data < 0) {
            if (errno == ENXIO)
                break;  /* only a hole up to the end */
            data = pos; /* no SEEK_DATA here: copy everything */
        }
        off_t hole = lseek(in, data, SEEK_HOLE);
        if (hole < 0 || hole > size)
            hole = size;
        off_t from = data, to = data;
        while (rc == 0 && from < hole) {
            ssize_t n = copy_file_range(in, &from, out, &to, (size_t)(hole - from), 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) {
                /* Plain read/write for file systems without copy_file_range. */
                char buf[1 << 16];
                size_t want =
                    (size_t)(hole - from) < sizeof buf ? (size_t)(hole - from) : sizeof buf;
                ssize_t r = pread(in, buf, want, from);
                if (r <= 0 || pwrite(out, buf, (size_t)r, to) != r) {
                    rc = -1;
                    if (r == 0)
                        errno = EIO;
                    break;
                }
                from += r;
                to += r;
                continue;
            }
            if (n <= 0) {
                if (n == 0)
                    errno = EIO; /* shrank while copying */
                rc = -1;
                break;
            }
        }
        pos = hole;
    }
    if (rc == 0)
        rc = ftruncate(out, size); /* a trailing hole */
    int e = errno;
    close(in);
    if (close(out) != 0 && rc == 0) {
        e = errno;
        rc = -1;
    }
    if (rc != 0) {
        unlink(dst);
        errno = e;
    }
    return rc;
}

int file_crc64(uint64_t *out_crc, uint64_t *out_len, const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    /* A small buffer kept for the process: a fresh large one would cost a page fault per page
     * (and every page is copy-on-write again after each fork of a worker). */
    enum { CHUNK = 1 << 16 };
    static _Thread_local uint8_t buf[CHUNK];
    uint64_t crc = 0, len = 0;
    int rc = 0;
    for (;;) {
        ssize_t r = read(fd, buf, CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -1;
            break;
        }
        if (r == 0)
            break;
        crc = snap_crc64(crc, buf, (size_t)r);
        len += (uint64_t)r;
    }
    int e = errno;
    close(fd);
    errno = e;
    *out_crc = crc;
    *out_len = len;
    return rc;
}

struct copy_ctx {
    const char *dst, *src;
};

static int copy_entry(const char *rel, const struct stat *st, void *ctx)
{
    const struct copy_ctx *cc = ctx;
    char from[PATH_MAX], to[PATH_MAX];
    if (fmt_path(from, sizeof from, "%s/%s", cc->src, rel) != 0 ||
        fmt_path(to, sizeof to, "%s/%s", cc->dst, rel) != 0)
        return -1;
    if (S_ISDIR(st->st_mode))
        return mkdir(to, (st->st_mode & 07777) | 0700);
    if (S_ISREG(st->st_mode))
        return file_copy_sparse(to, from, st->st_mode);
    if (S_ISLNK(st->st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlink(from, target, sizeof target - 1);
        if (n < 0)
            return -1;
        target[n] = 0;
        return symlink(target, to);
    }
    errno = EINVAL; /* a FIFO, socket or device: not something a snapshot directory holds */
    return -1;
}

int dir_copy(const char *dst, const char *src)
{
    if (mkdir(dst, 0755) != 0)
        return -1;
    struct copy_ctx cc = {dst, src};
    return dir_walk(src, copy_entry, &cc) == 0 ? 0 : -1;
}

int path_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n;
    char **names = read_names(fd, &n);
    if (!names)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char sub[PATH_MAX];
        if (fmt_path(sub, sizeof sub, "%s/%s", path, names[i]) != 0 || path_remove_tree(sub) != 0)
            rc = -1;
        free(names[i]);
    }
    free(names);
    if (rmdir(path) != 0)
        rc = -1;
    return rc;
}

struct list_ctx {
    char *dst;
    size_t cap;
    int n;
    const char *ref; /* dir_new_entries: skip what exists under ref */
};

static int list_entry(const char *rel, const struct stat *st, void *ctx)
{
    (void)st;
    struct list_ctx *lc = ctx;
    if (lc->ref) {
        char ref[PATH_MAX];
        struct stat rs;
        if (fmt_path(ref, sizeof ref, "%s/%s", lc->ref, rel) == 0 && lstat(ref, &rs) == 0)
            return 0;
    }
    if (lc->n++ && lc->cap)
        str_append(lc->dst, lc->cap, ", ");
    if (lc->cap)
        str_append(lc->dst, lc->cap, rel);
    return 0;
}

int dir_list(char *dst, size_t dst_cap, const char *dir)
{
    if (dst_cap)
        dst[0] = 0;
    struct list_ctx lc = {dst, dst_cap, 0, NULL};
    return dir_walk(dir, list_entry, &lc) == 0 ? lc.n : -1;
}

int dir_new_entries(char *dst, size_t dst_cap, const char *dir, const char *ref_dir)
{
    if (dst_cap)
        dst[0] = 0;
    struct list_ctx lc = {dst, dst_cap, 0, ref_dir};
    return dir_walk(dir, list_entry, &lc) == 0 ? lc.n : -1;
}

void xml_escape(FILE *f, const char *s)
{
    char *t = utf8_clean(s);
    for (const char *p = t; *p; p++) {
        switch (*p) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&apos;", f);
            break;
        case '\n':
            fputs("&#10;", f);
            break;
        case '\t':
            fputs("&#9;", f);
            break;
        default:
            fputc(*p, f);
        }
    }
    free(t);
}

int path_beside_self(char *dst, size_t cap, const char *name, int mode)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (!slash)
        return -1;
    *slash = 0;
    int w = snprintf(dst, cap, "%s/%s", self, name);
    if (w < 0 || (size_t)w >= cap)
        return -1;
    return access(dst, mode) == 0 ? 0 : -1;
}
