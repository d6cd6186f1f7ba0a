/* An in-memory image of a directory of regular files: taken once from a scenario's template,
 * written into each case directory (no re-read), and compared with what a case left, so the
 * judge can skip clean runs of the IUT whose result on these exact bytes is already known. */
#ifndef SNAPCHECK_DIRIMAGE_H
#define SNAPCHECK_DIRIMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dir_file {
    char *name;
    uint8_t *data;
    size_t len;
    bool marked; /* caller's flag (e.g. "belongs to the base pair") */
};

struct dir_image {
    struct dir_file *files;
    unsigned n;
};

/* Read every regular file of dir. @return 0 or -1 with errno. */
int dir_image_take(struct dir_image *out, const char *dir);
void dir_image_finish(struct dir_image *img); /* NULL accepted */

/* Create directory dst (must not exist) holding exactly the image. @return 0 or -1. */
int dir_image_write(const struct dir_image *img, const char *dst);

/* true when dir holds exactly the image's files (same names, same bytes, nothing else). */
bool dir_image_same(const struct dir_image *img, const char *dir);

/* true when every marked file of the image is in dir with the same bytes (others ignored). */
bool dir_image_marked_intact(const struct dir_image *img, const char *dir);

/* Create directory dst (must not exist) holding hard links to src_dir's copies of the image's
 * files (src_dir must hold exactly the image). @return 0 or -1. */
int dir_image_link(const struct dir_image *img, const char *dst, const char *src_dir);

/* With dir made by dir_image_link from src_dir, and no file of src_dir written in place: true
 * when dir still holds exactly those links (same names, same inodes, nothing else); with
 * marked_only, when every marked file is still linked (others ignored). Only stats files. */
bool dir_image_links_same(const struct dir_image *img, const char *dir, const char *src_dir,
                          bool marked_only);

/* Keep the image's large buffers out of processes forked from now on (madvise MADV_DONTFORK
 * on the whole pages inside each buffer): a child that runs an IUT step never reads them, and
 * not copying their page tables makes each fork cheaper. Best effort. */
void dir_image_dontfork(const struct dir_image *img);

/* Mark the files of img whose names are also in names. */
void dir_image_mark(struct dir_image *img, const struct dir_image *names);

#endif
