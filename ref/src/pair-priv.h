/* Private to ref/src: what the pair modules (names, save, load, merge, cleanup) share: the
 * directory-entry grammar of FORMAT.md section 1, path building, the state file reader and the
 * cleanup used by save after its commit. */
#ifndef SNAP_PAIR_PRIV_H
#define SNAP_PAIR_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snap/envelope.h"
#include "snap/error.h"
#include "snap/io.h"

#define SNAP_PATH_CAP 4096u
/* Pages are read and written in chunks of this many bytes (a multiple of every page size). */
#define SNAP_IO_CHUNK (1u << 20)
/* Largest well-formed state file: header, SNAP_MAX_PAYLOAD, trailer. */
#define SNAP_STATE_FILE_MAX ((uint64_t)SNAP_HEADER_LEN + SNAP_MAX_PAYLOAD + SNAP_TRAILER_LEN)
/* Generations are 1 <= gen < 2^63. */
#define SNAP_GENERATION_MAX ((UINT64_C(1) << 63) - 1)

/* What a directory entry is, relative to one <id> (FORMAT.md section 1). */
enum snap_name_kind {
    SNAP_NAME_OTHER = 0, /* not a file of this <id>: never touched */
    SNAP_NAME_STATE,     /* <id>.snap */
    SNAP_NAME_MEM,       /* <id>.g<gen>.mem */
    SNAP_NAME_TMP,       /* <id>.g<gen>.snap.tmp */
};

/* Classify name. @param[out] gen  the <gen> of a MEM or TMP name, else 0. A <gen> with a leading
 * zero, no digits or a value >= 2^63 makes the name OTHER. */
enum snap_name_kind snap_name_parse(const char *name, const char *id, uint64_t *gen);

/* "<id>.g<gen>.snap.tmp". @return 0 or SNAP_EINVAL (invalid id or gen, too long). */
int snap_name_tmp(char *dst, size_t dst_cap, const char *id, uint64_t generation);

/* "<dir>/<name>". @return 0 or SNAP_EINVAL (too long). */
int snap_path_join(char *dst, size_t dst_cap, const char *dir, const char *name);

/* Read and decode the state file at path (FORMAT.md 3.2, errors exactly as there even for a file
 * longer than any valid one). @param[out] out_buf  the file (free() it; envelope views point
 * into it), NULL on failure. @return 0, SNAP_ENOENT, SNAP_EIO, SNAP_ENOMEM, decode errors. */
int snap_state_file_read(uint8_t **out_buf, struct snap_envelope *env, const struct snap_io *io,
                         const char *path, struct snap_diag *diag);

/* The chain check of a diff save (FORMAT.md 9 step 1): walk the state files from base_id down to
 * its full pair as load would (6.1 steps 1 and 2 for each, the binding, the loop and depth checks
 * of step 5; no memory file is read), counting a new diff new_id above base_id. The base must
 * have page_size and ram_size; a missing state file is SNAP_ENOENT.
 * @param[out] out  the header of base_id. @return 0, SNAP_ENOENT, SNAP_EPAIR, SNAP_ELIMIT, SNAP_EIO,
 * SNAP_ENOMEM, SNAP_EINCOMPAT, decode errors. */
int snap_chain_check(struct snap_header *out, const struct snap_io *io, const char *dir,
                     const char *new_id, const char *base_id, uint32_t page_size,
                     uint64_t ram_size, struct snap_diag *diag);

/* Remove the stale files of <id>: every <id>.g<N>.snap.tmp, and every <id>.g<N>.mem with
 * N != keep_gen when remove_mem (keep_gen 0 keeps none), then fsync dir if anything went.
 * @param[out] removed  may be NULL. @return 0, SNAP_EIO (first failure; the rest still tried),
 * SNAP_ENOMEM. */
int snap_pair_cleanup_keep(unsigned *removed, const struct snap_io *io, const char *dir,
                           const char *id, bool remove_mem, uint64_t keep_gen,
                           struct snap_diag *diag);

/* Give dst the failure recorded in src unless dst already holds one. @return src->code. */
static inline int snap_diag_forward(struct snap_diag *dst, const struct snap_diag *src)
{
    if (dst != NULL && dst->code == 0)
        *dst = *src;
    return src->code;
}

/* Name the file of a failure that a lower layer (a codec) recorded without one. */
static inline void snap_diag_name_file(struct snap_diag *diag, const char *path)
{
    size_t n;

    if (diag == NULL || diag->code == 0 || diag->path[0] != '\0')
        return;
    n = 0;
    while (path[n] != '\0' && n + 1 < sizeof(diag->path)) {
        diag->path[n] = path[n];
        n++;
    }
    diag->path[n] = '\0';
}

#endif
