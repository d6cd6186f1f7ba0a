/* Small file-system and memory helpers of the snapcheck tool: whole-file read/write, directory
 * copy, recursive removal and entry listing. Every helper reports failure by return value and
 * never exits, so the runner's worker processes can report set-up errors per case. */
#ifndef SNAPCHECK_UTIL_H
#define SNAPCHECK_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* malloc/calloc/strdup that abort with a message on exhaustion (the tool has no useful way on). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
char *xstrdup(const char *s);
/* printf into a new heap string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* snprintf that reports truncation: 0 or -1. */
int fmt_path(char *dst, size_t dst_cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Read a whole file into a new heap buffer (*out, free() it; NUL-terminated for text use).
 * @return 0, or -1 with errno (ENOENT when missing, EFBIG over max_len). */
int file_read(uint8_t **out, size_t *out_len, const char *path, size_t max_len);

/* Create or truncate path and write src fully. @return 0 or -1 with errno. */
int file_write(const char *path, const void *src, size_t src_len);

/* true when path's contents equal src exactly (false also when unreadable). */
bool file_equals(const char *path, const uint8_t *src, size_t src_len);

/* Copy the regular files of directory src into directory dst (created, must not exist).
 * @return 0 or -1 with errno. */
int dir_copy(const char *dst, const char *src);

/* Remove path and everything under it; a missing path is not an error. @return 0 or -1. */
int path_remove_tree(const char *path);

/* Names of the entries of dir (not . and ..), sorted, as one string "a, b, c" in dst.
 * @return the number of entries, or -1 if dir cannot be read. */
int dir_list(char *dst, size_t dst_cap, const char *dir);

/* Names of the entries of dir that do not exist in ref_dir, "a, b" in dst ("" if none).
 * @return their number, or -1 if dir cannot be read. */
int dir_new_entries(char *dst, size_t dst_cap, const char *dir, const char *ref_dir);

/* First line of a text file (without the newline) into dst; "" when empty or missing. */
void file_first_line(char *dst, size_t dst_cap, const char *path);

/* madvise MADV_DOFORK (fork true) or MADV_DONTFORK on the whole pages inside [p, p+len):
 * large buffers a forked child does not read need not have their page tables copied (and then
 * write-protected in the parent) by every fork. Best effort. */
void mem_fork_advice(const void *p, size_t len, bool fork);

/* Replace every occurrence of needle (non-empty) in buf with repl, in place, truncating at
 * buf_cap. */
void str_replace_all(char *buf, size_t buf_cap, const char *needle, const char *repl);

/* Append to dst (always NUL-terminated, truncated with "..." when full). */
void str_append(char *dst, size_t dst_cap, const char *src);

#endif
