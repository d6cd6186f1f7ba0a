/* In-memory files behind the library's I/O table (struct snap_io), so that the pair_load target
 * runs the real snap_pair_load with no disk I/O per input. Read-only: every call that would
 * change a file fails with EROFS. Files are looked up by the last component of the path.
 * One injected fault, chosen by the input (struct memio_fault), makes the n-th open, pread,
 * fstat or close fail with a real errno of that call, return EINTR once, or read short. */
#ifndef FUZZ_MEMIO_H
#define FUZZ_MEMIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snap/io.h"
#include "snap/snap.h"

#define MEMIO_MAX_FILES 32
#define MEMIO_MAX_FDS 64
#define MEMIO_NAME_MAX 128
#define MEMIO_MAX_LEVELS (SNAP_MAX_CHAIN + 2) /* chain levels of the split format */
#define MEMIO_MAX_OWNED (2 * MEMIO_MAX_LEVELS + 2)
#define MEMIO_ABSENT 0xffffffffu /* section length of an absent file */

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

/* Which call the fault hits, counted per kind from memio_fault_arm. */
enum memio_call { MEMIO_OPEN, MEMIO_PREAD, MEMIO_FSIZE, MEMIO_CLOSE, MEMIO_CALLS };

/* What it does there. */
enum memio_fault_mode {
    MEMIO_FAIL,  /* return -1 with err: the library must report SNAP_EIO naming the call */
    MEMIO_SHORT, /* pread: return fewer bytes than asked (at least 1): must be continued */
    MEMIO_EINTR, /* return -1 with EINTR once: open and pread must retry */
    MEMIO_EOF,   /* pread: return 0 as if the file ended there (it shrank under the reader) */
};

/* The fault of one run. Armed by memio_fault_arm; fired is set when the call was reached. */
struct memio_fault {
    bool armed;
    enum memio_call call;
    unsigned nth;  /* 0-based index among the calls of that kind */
    enum memio_fault_mode mode;
    int err;       /* MEMIO_FAIL: the errno */
    uint8_t frac;  /* MEMIO_SHORT: bytes returned = 1 + frac * (len - 1) / 256 */
    bool fired;
    unsigned seen[MEMIO_CALLS];
};

/* Invariant: fds[i] is 0 for a free descriptor, else 1 + the index of the open file. */
struct memio {
    struct snap_io io; /* io.ctx points back at this struct */
    struct memio_file files[MEMIO_MAX_FILES];
    size_t file_count;
    int fds[MEMIO_MAX_FDS];
    struct memio_fault fault;
    uint8_t *owned[MEMIO_MAX_OWNED]; /* heap blocks the files borrow: freed by memio_release */
    size_t owned_count;
};

/* Set up an empty file system and its I/O table. */
void memio_init(struct memio *m);

/* Decode a fault from 4 input bytes b (see pair_load.c) and arm it; counts restart at 0. */
void memio_fault_arm(struct memio *m, const uint8_t b[4]);

/* Restart the call counts of the armed fault (for a second library call on the same files). */
void memio_fault_rearm(struct memio *m);

/* The op name the library records for a failed call ("open", "pread", "fstat", "close"). */
const char *memio_call_op(enum memio_call call);

/* Add file f (its name field included). A name already present is kept (the first wins).
 * @return 0, or -1 if the name is empty, too long, contains '/', or the table is full. */
int memio_add(struct memio *m, const struct memio_file *f);

/* The file stored under name, or NULL. */
const struct memio_file *memio_find(const struct memio *m, const char *name);

/* Length of f. */
size_t memio_file_len(const struct memio_file *f);

/* Copy up to len bytes of f from off into dst; @return the bytes copied (0 past the end). */
size_t memio_file_read(const struct memio_file *f, void *dst, size_t len, uint64_t off);

/* CRC-64/XZ (snap_crc64) of f's bytes [off, off + len), which must lie inside f. The CRC of a
 * range inside the zero run is computed once per length and remembered. */
uint64_t memio_file_crc(const void *f, uint64_t off, uint64_t len);

/* True if f's bytes [off, off + len) (inside f) equal src. */
bool memio_file_equal(const struct memio_file *f, uint64_t off, const uint8_t *src, size_t len);

/* Number of descriptors still open: after a library call returns it must be 0. */
unsigned memio_open_count(const struct memio *m);

/* Set up m (memio_init) with the snapshot directory an input in the split format of the
 * pair_load target describes (pair_load.c: flags byte, optional fault, sections), the fault
 * armed, the checksums repaired when the flags ask (fuzzing builds only), memory files padded
 * to their mem_file_len. Inputs declaring a ram_size over max_ram are skipped.
 * @return false to skip the input (call memio_release all the same). */
bool memio_parse_split(struct memio *m, const uint8_t *data, size_t size, uint64_t max_ram);

/* Keep heap block p until memio_release (it frees p and returns false when the table is full). */
bool memio_keep(struct memio *m, void *p);

/* Free the blocks kept for m's files. */
void memio_release(struct memio *m);

#endif
