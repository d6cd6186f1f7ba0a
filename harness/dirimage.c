/* Directory images (see dirimage.h). */
#include "dirimage.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int dir_image_take(struct dir_image *out, const char *dir)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    unsigned cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char path[4096];
        if (fmt_path(path, sizeof path, "%s/%s", dir, e->d_name) != 0) {
            rc = -1;
            break;
        }
        if (out->n == cap) {
            cap = cap ? cap * 2 : 8;
            struct dir_file *grown = realloc(out->files, cap * sizeof *grown);
            if (!grown) {
                rc = -1;
                break;
            }
            out->files = grown;
        }
        struct dir_file *f = &out->files[out->n];
        memset(f, 0, sizeof *f);
        if (file_read(&f->data, &f->len, path, (size_t)1 << 34) != 0) {
            rc = -1;
            break;
        }
        f->name = xstrdup(e->d_name);
        out->n++;
    }
    int saved = errno;
    closedir(d);
    if (rc != 0) {
        dir_image_finish(out);
        errno = saved;
    }
    return rc;
}

void dir_image_finish(struct dir_image *img)
{
    if (!img)
        return;
    for (unsigned i = 0; i < img->n; i++) {
        free(img->files[i].name);
        free(img->files[i].data);
    }
    free(img->files);
    memset(img, 0, sizeof *img);
}

int dir_image_write(const struct dir_image *img, const char *dst)
{
    if (mkdir(dst, 0755) != 0)
        return -1;
    for (unsigned i = 0; i < img->n; i++) {
        char path[4096];
        if (fmt_path(path, sizeof path, "%s/%s", dst, img->files[i].name) != 0 ||
            file_write(path, img->files[i].data, img->files[i].len) != 0)
            return -1;
    }
    return 0;
}

static bool file_intact(const struct dir_file *f, const char *dir)
{
    char path[4096];
    return fmt_path(path, sizeof path, "%s/%s", dir, f->name) == 0 &&
           file_equals(path, f->data, f->len);
}

bool dir_image_same(const struct dir_image *img, const char *dir)
{
    char names[8];
    if (dir_list(names, sizeof names, dir) != (int)img->n)
        return false;
    for (unsigned i = 0; i < img->n; i++)
        if (!file_intact(&img->files[i], dir))
            return false;
    return true;
}

bool dir_image_marked_intact(const struct dir_image *img, const char *dir)
{
    for (unsigned i = 0; i < img->n; i++)
        if (img->files[i].marked && !file_intact(&img->files[i], dir))
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

int dir_image_link(const struct dir_image *img, const char *dst, const char *src_dir)
{
    if (mkdir(dst, 0755) != 0)
        return -1;
    for (unsigned i = 0; i < img->n; i++) {
        char from[4096], to[4096];
        if (fmt_path(from, sizeof from, "%s/%s", src_dir, img->files[i].name) != 0 ||
            fmt_path(to, sizeof to, "%s/%s", dst, img->files[i].name) != 0 || link(from, to) != 0)
            return -1;
    }
    return 0;
}

bool dir_image_links_same(const struct dir_image *img, const char *dir, const char *src_dir,
                          bool marked_only)
{
    if (!marked_only) {
        char names[8];
        if (dir_list(names, sizeof names, dir) != (int)img->n)
            return false;
    }
    for (unsigned i = 0; i < img->n; i++) {
        if (marked_only && !img->files[i].marked)
            continue;
        char a[4096], b[4096];
        struct stat sa, sb;
        if (fmt_path(a, sizeof a, "%s/%s", dir, img->files[i].name) != 0 ||
            fmt_path(b, sizeof b, "%s/%s", src_dir, img->files[i].name) != 0 ||
            lstat(a, &sa) != 0 || lstat(b, &sb) != 0 || sa.st_ino != sb.st_ino ||
            sa.st_dev != sb.st_dev || (uint64_t)sb.st_size != img->files[i].len)
            return false;
    }
    return true;
}

void dir_image_dontfork(const struct dir_image *img)
{
    for (unsigned i = 0; i < img->n; i++)
        mem_fork_advice(img->files[i].data, img->files[i].len, false);
}
