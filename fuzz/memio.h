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

struct memio_file {
    char name[MEMIO_NAME_MAX];
    const uint8_t *data; /* borrowed: must outlive the memio */
    size_t len;
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

/* Add file name with contents data[0, len). A name already present is kept (the first wins).
 * @return 0, or -1 if the name is too long, contains '/', or the table is full. */
int memio_add(struct memio *m, const char *name, const uint8_t *data, size_t len);

/* Number of descriptors still open: after a library call returns it must be 0. */
unsigned memio_open_count(const struct memio *m);

#endif
