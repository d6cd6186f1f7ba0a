/* Directory images (see dirimage.h). Method: an image is the sorted list of the entries of a
 * tree with a CRC-64 per regular file; writing copies from the image's root on disk with
 * file_copy_sparse, comparing walks the other tree in the same order and hashes its files by
 * streaming. Memory is O(entries), not O(bytes). */
#include "dirimage.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct take_ctx {
    struct dir_image *img;
    unsigned cap;
    const struct dir_image *known; /* dir_image_take_linked: files whose hash is known */
    const char *known_dir;
};

static bool known_hash(const struct take_ctx *tc, const char *rel, const struct stat *st,
                       uint64_t *hash);

static int take_entry(const char *rel, const struct stat *st, void *ctx)
{
    struct take_ctx *tc = ctx;
    struct dir_image *img = tc->img;
    char path[PATH_MAX];
    if (fmt_path(path, sizeof path, "%s/%s", img->root, rel) != 0)
        return -1;
    struct dir_file f = {.mode = st->st_mode & 07777};
    if (S_ISREG(st->st_mode)) {
        f.kind = DK_FILE;
        if (known_hash(tc, rel, st, &f.hash))
            f.len = (uint64_t)st->st_size;
        else if (file_crc64(&f.hash, &f.len, path) != 0)
            return -1;
    } else if (S_ISDIR(st->st_mode)) {
        f.kind = DK_DIR;
    } else if (S_ISLNK(st->st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n < 0)
            return -1;
        target[n] = 0;
        f.kind = DK_LINK;
        f.target = xstrdup(target);
    } else {
        errno = EINVAL;
        return -1;
    }
    if (img->n == tc->cap) {
        tc->cap = tc->cap ? tc->cap * 2 : 8;
        struct dir_file *grown = realloc(img->files, tc->cap * sizeof *grown);
        if (!grown) {
            free(f.target);
            errno = ENOMEM;
            return -1;
        }
        img->files = grown;
    }
    f.name = xstrdup(rel);
    img->files[img->n++] = f;
    return 0;
}

int dir_image_take(struct dir_image *out, const char *dir)
{
    return dir_image_take_linked(out, dir, NULL, NULL);
}

void dir_image_finish(struct dir_image *img)
{
    if (!img)
        return;
    for (unsigned i = 0; i < img->n; i++) {
        free(img->files[i].name);
        free(img->files[i].target);
    }
    free(img->files);
    free(img->root);
    memset(img, 0, sizeof *img);
}

int dir_image_take_linked(struct dir_image *out, const char *dir, const struct dir_image *img,
                          const char *src_dir)
{
    memset(out, 0, sizeof *out);
    out->root = xstrdup(dir);
    struct take_ctx tc = {out, 0, img, src_dir};
    if (dir_walk(dir, take_entry, &tc) != 0) {
        int e = errno;
        dir_image_finish(out);
        errno = e ? e : EIO;
        return -1;
    }
    return 0;
}

/* Create the entry f under dst: a directory, a symlink, or (file_from non-NULL) the file
 * copied from file_from, or hard-linked to link_from. */
static int make_entry(const struct dir_file *f, const char *dst, const char *copy_root,
                      const char *link_root)
{
    char to[PATH_MAX], from[PATH_MAX];
    if (fmt_path(to, sizeof to, "%s/%s", dst, f->name) != 0)
        return -1;
    switch (f->kind) {
    case DK_DIR:
        return mkdir(to, f->mode | 0700);
    case DK_LINK:
        return symlink(f->target, to);
    case DK_FILE:
        break;
    }
    if (fmt_path(from, sizeof from, "%s/%s", copy_root ? copy_root : link_root, f->name) != 0)
        return -1;
    return copy_root ? file_copy_sparse(to, from, f->mode) : link(from, to);
}

int dir_image_write(const struct dir_image *img, const char *dst)
{
    if (mkdir(dst, 0755) != 0)
        return -1;
    for (unsigned i = 0; i < img->n; i++)
        if (make_entry(&img->files[i], dst, img->root, NULL) != 0)
            return -1;
    return 0;
}

int dir_image_link(const struct dir_image *img, const char *dst, const char *src_dir)
{
    if (mkdir(dst, 0755) != 0)
        return -1;
    for (unsigned i = 0; i < img->n; i++)
        if (make_entry(&img->files[i], dst, NULL, src_dir) != 0)
            return -1;
    return 0;
}

/* f is at path with the same kind and contents (read by streaming, never followed). */
static bool entry_intact(const struct dir_file *f, const char *dir)
{
    char path[PATH_MAX];
    struct stat st;
    if (fmt_path(path, sizeof path, "%s/%s", dir, f->name) != 0 || lstat(path, &st) != 0)
        return false;
    switch (f->kind) {
    case DK_DIR:
        return S_ISDIR(st.st_mode);
    case DK_LINK: {
        char target[PATH_MAX];
        ssize_t n = S_ISLNK(st.st_mode) ? readlink(path, target, sizeof target - 1) : -1;
        if (n < 0)
            return false;
        target[n] = 0;
        return !strcmp(target, f->target);
    }
    case DK_FILE:
        break;
    }
    uint64_t crc, len;
    return S_ISREG(st.st_mode) && (uint64_t)st.st_size == f->len &&
           file_crc64(&crc, &len, path) == 0 && len == f->len && crc == f->hash;
}

struct names_ctx {
    const struct dir_image *img;
    unsigned i;
};

/* The walk visits in the image's order: entry i of the walk must be entry i of the image. */
static int same_name(const char *rel, const struct stat *st, void *ctx)
{
    (void)st;
    struct names_ctx *nc = ctx;
    if (nc->i >= nc->img->n || strcmp(nc->img->files[nc->i].name, rel) != 0)
        return 1;
    nc->i++;
    return 0;
}

static bool same_names(const struct dir_image *img, const char *dir)
{
    struct names_ctx nc = {img, 0};
    return dir_walk(dir, same_name, &nc) == 0 && nc.i == img->n;
}

bool dir_image_same(const struct dir_image *img, const char *dir)
{
    if (!same_names(img, dir))
        return false;
    for (unsigned i = 0; i < img->n; i++)
        if (!entry_intact(&img->files[i], dir))
            return false;
    return true;
}

bool dir_image_marked_intact(const struct dir_image *img, const char *dir)
{
    for (unsigned i = 0; i < img->n; i++)
        if (img->files[i].marked && !entry_intact(&img->files[i], dir))
            return false;
    return true;
}

void dir_image_mark(struct dir_image *img, const struct dir_image *names)
{
    for (unsigned i = 0; i < img->n; i++)
        for (unsigned k = 0; k < names->n; k++)
            if (!strcmp(img->files[i].name, names->files[k].name))
                img->files[i].marked = true;
}

bool dir_image_links_same(const struct dir_image *img, const char *dir, const char *src_dir,
                          bool marked_only)
{
    if (!marked_only && !same_names(img, dir))
        return false;
    for (unsigned i = 0; i < img->n; i++) {
        const struct dir_file *f = &img->files[i];
        if (marked_only && !f->marked)
            continue;
        if (f->kind != DK_FILE) {
            if (!entry_intact(f, dir))
                return false;
            continue;
        }
        char a[PATH_MAX], b[PATH_MAX];
        struct stat sa, sb;
        if (fmt_path(a, sizeof a, "%s/%s", dir, f->name) != 0 ||
            fmt_path(b, sizeof b, "%s/%s", src_dir, f->name) != 0 || lstat(a, &sa) != 0 ||
            lstat(b, &sb) != 0 || sa.st_ino != sb.st_ino || sa.st_dev != sb.st_dev ||
            (uint64_t)sb.st_size != f->len)
            return false;
    }
    return true;
}

/* An mtime no file written by an IUT today can have. */
static const struct timespec STAMP = {.tv_sec = 1000000000, .tv_nsec = 0};

int dir_image_write_stamped(const struct dir_image *img, const char *dst)
{
    if (dir_image_write(img, dst) != 0)
        return -1;
    for (unsigned i = 0; i < img->n; i++) {
        char path[PATH_MAX];
        struct timespec times[2] = {{.tv_nsec = UTIME_OMIT}, STAMP};
        if (img->files[i].kind == DK_FILE &&
            (fmt_path(path, sizeof path, "%s/%s", dst, img->files[i].name) != 0 ||
             utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW) != 0))
            return -1;
    }
    return 0;
}

/* Is the file rel (lstat st) of the directory being taken a hard link to known_dir's copy of
 * the same name, which still has the stamp, size and mode it was written with? Its contents
 * are then known's, and need not be read. */
static bool known_hash(const struct take_ctx *tc, const char *rel, const struct stat *st,
                       uint64_t *hash)
{
    if (!tc->known)
        return false;
    for (unsigned i = 0; i < tc->known->n; i++) {
        const struct dir_file *f = &tc->known->files[i];
        if (f->kind != DK_FILE || strcmp(f->name, rel) != 0)
            continue;
        char path[PATH_MAX];
        struct stat ks;
        if (fmt_path(path, sizeof path, "%s/%s", tc->known_dir, rel) != 0 ||
            lstat(path, &ks) != 0 || ks.st_dev != st->st_dev || ks.st_ino != st->st_ino ||
            (uint64_t)st->st_size != f->len || (st->st_mode & 07777) != f->mode ||
            st->st_mtim.tv_sec != STAMP.tv_sec || st->st_mtim.tv_nsec != STAMP.tv_nsec)
            return false;
        *hash = f->hash;
        return true;
    }
    return false;
}

bool dir_image_pristine(const struct dir_image *img, const char *dir)
{
    for (unsigned i = 0; i < img->n; i++) {
        const struct dir_file *f = &img->files[i];
        char path[PATH_MAX];
        struct stat st;
        if (f->kind != DK_FILE)
            continue;
        if (fmt_path(path, sizeof path, "%s/%s", dir, f->name) != 0 || lstat(path, &st) != 0 ||
            !S_ISREG(st.st_mode) || (uint64_t)st.st_size != f->len ||
            (st.st_mode & 07777) != f->mode || st.st_mtim.tv_sec != STAMP.tv_sec ||
            st.st_mtim.tv_nsec != STAMP.tv_nsec)
            return false;
    }
    return true;
}

void dir_image_dontfork(const struct dir_image *img)
{
    (void)img;
}
