/* Small file-system and memory helpers of the snapcheck tool: whole-file read/write, directory
 * copy, recursive removal and entry listing. Every helper reports failure by return value and
 * never exits, so the runner's worker processes can report set-up errors per case. */
#ifndef SNAPCHECK_UTIL_H
#define SNAPCHECK_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

/* malloc/calloc/strdup that abort with a message on exhaustion (the tool has no useful way on). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
char *xstrdup(const char *s);
/* printf into a new heap string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse s as a decimal number from min to max: digits only (no sign, no space, no "0x"), the
 * whole string, no overflow. @return 0 with *out set, or -1 (out untouched). */
int parse_uint(uint64_t *out, const char *s, uint64_t min, uint64_t max);

/* snprintf that reports truncation: 0 or -1. */
int fmt_path(char *dst, size_t dst_cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Read a whole file into a new heap buffer (*out, free() it; NUL-terminated for text use).
 * @return 0, or -1 with errno (ENOENT when missing, EFBIG over max_len). */
int file_read(uint8_t **out, size_t *out_len, const char *path, size_t max_len);

/* Create or truncate path and write src fully. @return 0 or -1 with errno. */
int file_write(const char *path, const void *src, size_t src_len);

/* true when path's contents equal src exactly (false also when unreadable). */
bool file_equals(const char *path, const uint8_t *src, size_t src_len);

/* Call fn for every entry under directory root (not root itself), depth first, a directory
 * before what it holds, the entries of each directory in strcmp order. rel is the path
 * relative to root ("pairs/vm.pair"), st its lstat. Symlinks are reported, never followed;
 * directories are opened with O_NOFOLLOW. A non-zero return of fn stops the walk.
 * @return 0, fn's non-zero value, or -1 with errno if a directory cannot be read. */
int dir_walk(const char *root, int (*fn)(const char *rel, const struct stat *st, void *ctx),
             void *ctx);

/* Copy regular file src to dst (created, must not exist, with the given mode), keeping holes:
 * only the data extents (SEEK_DATA/SEEK_HOLE) are copied, so a sparse file stays sparse.
 * Never reads the whole file into memory. @return 0 or -1 with errno. */
int file_copy_sparse(const char *dst, const char *src, unsigned mode);

/* CRC-64 (snap_crc64) and length of the contents of regular file path, read in chunks.
 * @return 0 or -1 with errno. */
int file_crc64(uint64_t *out_crc, uint64_t *out_len, const char *path);

/* Copy the tree under directory src into directory dst (created, must not exist): regular
 * files (sparse kept), directories, symlinks as symlinks (never followed). Anything else is
 * EINVAL. @return 0 or -1 with errno. */
int dir_copy(const char *dst, const char *src);

/* Remove path and everything under it (symlinks removed, not followed); a missing path is
 * not an error. @return 0 or -1. */
int path_remove_tree(const char *path);

/* dst := the path of a file called name in the directory of this executable
 * (/proc/self/exe), where the installed helpers live beside snapcheck. @return 0 when that file
 * passes access(mode), else -1 (dst then unspecified). */
int path_beside_self(char *dst, size_t cap, const char *name, int mode);

/* The entries under dir, at every depth (directories and symlinks count as entries), as
 * their relative paths sorted, "a, pairs, pairs/b" in dst.
 * @return the number of entries, or -1 if dir cannot be read. */
int dir_list(char *dst, size_t dst_cap, const char *dir);

/* The entries under dir (at every depth) whose relative path does not exist under ref_dir,
 * "a, pairs/b" in dst ("" if none). @return their number, or -1 if dir cannot be read. */
int dir_new_entries(char *dst, size_t dst_cap, const char *dir, const char *ref_dir);

/* First line of a text file (without the newline) into dst; "" when empty or missing. A line
 * longer than dst is cut at a UTF-8 character boundary. */
void file_first_line(char *dst, size_t dst_cap, const char *path);

/* madvise MADV_DOFORK (fork true) or MADV_DONTFORK on the whole pages inside [p, p+len):
 * large buffers a forked child does not read need not have their page tables copied (and then
 * write-protected in the parent) by every fork. Best effort. */
void mem_fork_advice(const void *p, size_t len, bool fork);

/* Replace every occurrence of needle (non-empty) in buf with repl, in place, truncating at
 * buf_cap. */
void str_replace_all(char *buf, size_t buf_cap, const char *needle, const char *repl);

/* s quoted for a POSIX shell, as one word: in single quotes, each ' written as '\'' (nothing
 * inside single quotes is special to sh). A new heap string. */
char *shell_quote(const char *s);

/* s as valid UTF-8 text fit for JSON and XML 1.0: every byte that does not start a complete,
 * shortest-form UTF-8 sequence of a Unicode scalar value, every C0 control but tab and newline,
 * DEL, U+FFFE and U+FFFF become U+FFFD. A new heap string. */
char *utf8_clean(const char *s);

/* Drop an incomplete UTF-8 sequence at the end of s (a string cut at a byte count). */
void utf8_trim_partial(char *s);

/* Append to dst (always NUL-terminated, truncated with "..." when full, the cut at a UTF-8
 * character boundary). */
void str_append(char *dst, size_t dst_cap, const char *src);

/* s as XML 1.0 character data or attribute value (JUnit, HTML): cleaned by utf8_clean, the
 * five special characters escaped, newline and tab as character references. */
void xml_escape(FILE *f, const char *s);

#endif
