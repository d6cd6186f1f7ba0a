/* In-memory files behind the library's I/O table (struct snap_io), so that the pair_load target
 * runs the real snap_pair_load with no disk I/O per input. Read-only: every call that would
 * change a file fails with EROFS. Files are looked up by the last component of the path. */
#ifndef FUZZ_MEMIO_H
#define FUZZ_MEMIO_H

#include <stddef.h>
#include <stdint.h>

#include "snap/io.h"

#define MEMIO_MAX_FILES 32
#define MEMIO_MAX_FDS 64
#define MEMIO_NAME_MAX 128

/* A file is head bytes, then `zeros` zero bytes, then tail bytes (all borrowed: they must outlive
 * the memio). The zero run lets a seed of a few bytes stand for a memory file of megabytes
 * without allocating it. */
struct memio_file {
    char name[MEMIO_NAME_MAX];
    const uint8_t *head;
    size_t head_len;
    size_t zeros;
    const uint8_t *tail;
    size_t tail_len;
};

/* Invariant: fds[i] is 0 for a free descriptor, else 1 + the index of the open file. */
struct memio {
    struct snap_io io; /* io.ctx points back at this struct */
    struct memio_file files[MEMIO_MAX_FILES];
    size_t file_count;
    int fds[MEMIO_MAX_FDS];
};

/* Set up an empty file system and its I/O table. */
void memio_init(struct memio *m);

/* Add file f (its name field included). A name already present is kept (the first wins).
 * @return 0, or -1 if the name is empty, too long, contains '/', or the table is full. */
int memio_add(struct memio *m, const struct memio_file *f);

/* The file stored under name, or NULL. */
const struct memio_file *memio_find(const struct memio *m, const char *name);

/* Length of f. */
size_t memio_file_len(const struct memio_file *f);

/* Copy up to len bytes of f from off into dst; @return the bytes copied (0 past the end). */
size_t memio_file_read(const struct memio_file *f, void *dst, size_t len, uint64_t off);

/* CRC-64/XZ (snap_crc64) of f's bytes [off, off + len), which must lie inside f. */
uint64_t memio_file_crc(const void *f, uint64_t off, uint64_t len);

/* Number of descriptors still open: after a library call returns it must be 0. */
unsigned memio_open_count(const struct memio *m);

#endif
