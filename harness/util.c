/* Helpers of the snapcheck tool: files, directories and heap strings (see util.h). */
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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

int dir_copy(const char *dst, const char *src)
{
    if (mkdir(dst, 0755) != 0)
        return -1;
    DIR *d = opendir(src);
    if (!d)
        return -1;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char from[4096], to[4096];
        if (fmt_path(from, sizeof from, "%s/%s", src, e->d_name) != 0 ||
            fmt_path(to, sizeof to, "%s/%s", dst, e->d_name) != 0) {
            rc = -1;
            break;
        }
        uint8_t *buf;
        size_t len;
        if (file_read(&buf, &len, from, (size_t)1 << 34) != 0) {
            rc = -1;
            break;
        }
        rc = file_write(to, buf, len);
        free(buf);
        if (rc != 0)
            break;
    }
    int saved = errno;
    closedir(d);
    errno = saved;
    return rc;
}

int path_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char sub[4096];
        if (fmt_path(sub, sizeof sub, "%s/%s", path, e->d_name) != 0 || path_remove_tree(sub) != 0)
            rc = -1;
    }
    closedir(d);
    if (rmdir(path) != 0)
        rc = -1;
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int dir_list(char *dst, size_t dst_cap, const char *dir)
{
    if (dst_cap)
        dst[0] = 0;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
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
    for (size_t i = 0; i < n; i++) {
        if (i)
            str_append(dst, dst_cap, ", ");
        str_append(dst, dst_cap, names[i]);
        free(names[i]);
    }
    free(names);
    return n > (size_t)0x7fffffff ? 0x7fffffff : (int)n;
}

void file_first_line(char *dst, size_t dst_cap, const char *path)
{
    if (!dst_cap)
        return;
    dst[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (fgets(dst, (int)(dst_cap > 0x7fffffff ? 0x7fffffff : dst_cap), f))
        dst[strcspn(dst, "\r\n")] = 0;
    else
        dst[0] = 0;
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
    if (dst_cap >= 4)
        memcpy(dst + dst_cap - 4, "...", 3);
}

int dir_new_entries(char *dst, size_t dst_cap, const char *dir, const char *ref_dir)
{
    if (dst_cap)
        dst[0] = 0;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char ref[4096];
        struct stat st;
        if (fmt_path(ref, sizeof ref, "%s/%s", ref_dir, e->d_name) == 0 && lstat(ref, &st) == 0)
            continue;
        if (n++)
            str_append(dst, dst_cap, ", ");
        str_append(dst, dst_cap, e->d_name);
    }
    closedir(d);
    return n;
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
