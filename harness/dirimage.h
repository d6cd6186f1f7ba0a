/* A directory image: the list of what a scenario's template directory holds (relative path,
 * kind, size, CRC-64 of the contents or symlink target), taken once. The template directory
 * itself stays on disk as the source of every copy; the image never holds file contents, so
 * a large or sparse file costs nothing in memory. Case directories are written from it (sparse
 * copies, or hard links) and compared with it, so the judge can skip clean runs of the IUT
 * whose result on these exact bytes is already known. Subdirectories and symlinks are part of
 * the image; symlinks are copied as symlinks and never followed. */
#ifndef SNAPCHECK_DIRIMAGE_H
#define SNAPCHECK_DIRIMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dir_kind { DK_FILE, DK_DIR, DK_LINK };

struct dir_file {
    char *name; /* path relative to the image's root, "pairs/vm.pair" */
    enum dir_kind kind;
    unsigned mode; /* permission bits */
    uint64_t len;  /* DK_FILE: size in bytes */
    uint64_t hash; /* DK_FILE: snap_crc64 of the contents */
    char *target;  /* DK_LINK: the link's target, as read (never resolved) */
    bool marked;   /* caller's flag (e.g. "belongs to the base pair") */
};

/* Invariant: files in dir_walk order (a directory before what it holds); root is the
 * directory taken, which must keep exactly these contents while the image is in use. */
struct dir_image {
    struct dir_file *files;
    unsigned n;
    char *root;
};

/* List every entry under dir (files hashed by streaming, never read whole). A FIFO, socket
 * or device is EINVAL. @return 0 or -1 with errno. */
int dir_image_take(struct dir_image *out, const char *dir);
void dir_image_finish(struct dir_image *img); /* NULL accepted */

/* dir_image_take, but a file that is a hard link to src_dir's file of the same name in img
 * (made by dir_image_link from a dir_image_write_stamped copy), still pristine (the stamp, its
 * size and mode), takes img's hash without being read. @return 0 or -1 with errno. */
int dir_image_take_linked(struct dir_image *out, const char *dir, const struct dir_image *img,
                          const char *src_dir);

/* Create directory dst (must not exist) holding a copy of the image, copied from its root:
 * sparse files stay sparse, symlinks are recreated. @return 0 or -1 with errno. */
int dir_image_write(const struct dir_image *img, const char *dst);

/* true when the tree under dir is exactly the image: the same relative paths and kinds,
 * nothing else, files of the same size and CRC-64 (read by streaming), the same link
 * targets. */
bool dir_image_same(const struct dir_image *img, const char *dir);

/* true when every marked entry of the image is in dir with the same contents (others
 * ignored). */
bool dir_image_marked_intact(const struct dir_image *img, const char *dir);

/* Create directory dst (must not exist) holding the image with its files hard-linked to
 * src_dir's copies (src_dir must hold exactly the image); directories and symlinks are
 * recreated. @return 0 or -1 with errno. */
int dir_image_link(const struct dir_image *img, const char *dst, const char *src_dir);

/* With dir made by dir_image_link from src_dir, and no file of src_dir written in place: true
 * when dir still holds exactly those links (same paths, same inodes, same link targets,
 * nothing else); with marked_only, when every marked entry is still there (others ignored).
 * Only stats files. */
bool dir_image_links_same(const struct dir_image *img, const char *dir, const char *src_dir,
                          bool marked_only);

/* dir_image_write, then every file's mtime set to a fixed past time (2001-09-09), so that a
 * write through a hard link to it shows in dir_image_pristine. @return 0 or -1 with errno. */
int dir_image_write_stamped(const struct dir_image *img, const char *dst);

/* With dir made by dir_image_write_stamped: true when every file of the image is still a
 * regular file there with its size, permission bits and the fixed mtime, i.e. nothing wrote
 * to it (through any hard link) or changed its mode. An IUT that sets a file's mtime back
 * by hand is not detected. Only stats files. */
bool dir_image_pristine(const struct dir_image *img, const char *dir);

/* Kept for the runner: an image holds no file contents any more, so there is nothing to keep
 * out of forked processes. */
void dir_image_dontfork(const struct dir_image *img);

/* Mark the entries of img whose names are also in names. */
void dir_image_mark(struct dir_image *img, const struct dir_image *names);

#endif
