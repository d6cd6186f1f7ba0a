/* Saving, loading, verifying and merging a snapshot pair in a directory, with the commit
 * protocol of docs/FORMAT.md section 9: the prior good pair survives any failure or crash. */
#ifndef SNAP_PAIR_H
#define SNAP_PAIR_H

#include <stdbool.h>
#include <stdint.h>

#include "envelope.h"
#include "io.h"
#include "state.h"

#define SNAP_MAX_CHAIN 8u

struct snap_diag;

/* What to save. memory holds the whole guest image (ram_size bytes) for both kinds; a diff
 * stores only the pages whose bit is set in dirty. */
struct snap_save_req {
    const char *dir;                   /* existing directory */
    const char *id;                    /* snap_id_valid() */
    enum snap_kind kind;
    const struct snap_vm_state *state; /* must pass snap_state_verify_compatible */
    const uint8_t *memory;             /* ram_size bytes */
    uint64_t ram_size;
    uint32_t page_size;                /* 4096, 16384 or 65536 */
    const uint8_t *dirty;              /* diff: snap_bitmap_len(ram_size/page_size) bytes */
    const char *base_id;               /* diff: id of the base pair in dir, != id */
};

struct snap_save_report {
    uint64_t generation;
    uint64_t pages_written;  /* pages stored in the memory file */
    uint8_t snapshot_id[16];
    bool cleanup_incomplete; /* committed and durable, but old files remain (next save removes) */
    bool already_full;       /* merge only: the pair was full, nothing was written */
};

/* Save a pair with the commit protocol of FORMAT.md 9.
 * @param[out] out  may be NULL
 * @return 0 when the new pair is committed and durable.
 *         SNAP_EINVAL / SNAP_EINCOMPAT: request refused before any file was created.
 *         SNAP_ENOENT / SNAP_EPAIR / SNAP_ELIMIT / decode errors: a state file of the diff's base
 *         chain missing or one that load would refuse (FORMAT.md 9 step 1; nothing created).
 *         SNAP_EIO / SNAP_ENOMEM: failed; diag->op says where. If diag->op is "fsync-dir-commit"
 *         the commit rename happened and the new pair may be durable or not (ambiguous);
 *         otherwise the committed pair is untouched and the new files were removed (best effort).
 */
int snap_pair_save(struct snap_save_report *out, const struct snap_io *io,
                   const struct snap_save_req *req, struct snap_diag *diag);

/* A loaded pair: the full guest image (base chain applied for a diff). */
struct snap_image {
    struct snap_header hdr;      /* of <id>.snap */
    struct snap_vm_state state;  /* decoded */
    uint8_t *state_bytes;        /* the encoded state exactly as stored */
    size_t state_len;
    uint8_t *memory;             /* hdr.ram_size bytes */
};

/* Load and verify <dir>/<id>.snap (its VM state decoded first) and its memory file (FORMAT.md
 * 6.1), and for a diff its base chain. Memory: the image plus one level of the chain. Files are
 * opened without following links and must be regular (6.2).
 * @return 0; SNAP_ENOENT; any decode error; SNAP_EINCOMPAT; SNAP_EPAIR (memory file, binding,
 * missing base, a loop in the chain); SNAP_ELIMIT (chain depth); SNAP_EPAGE (diag->page);
 * SNAP_EIO (an OS call, a link or a file that is not regular); SNAP_ENOMEM. out is zeroed on
 * failure. */
int snap_pair_load(struct snap_image *out, const struct snap_io *io, const char *dir,
                   const char *id, struct snap_diag *diag);

void snap_image_finish(struct snap_image *img); /* NULL accepted */

/* A buffer of len bytes for a guest image (freed with free): aligned to the 2 MiB huge page size
 * and with transparent huge pages asked for when it holds one, so that it faults in a huge page
 * at a time rather than 4 KiB at a time (several times the cost of filling it). The loader's
 * image is one; a caller reading a memory image into memory may use it too. NULL when out of
 * memory. */
void *snap_image_alloc(size_t len);

/* Verify a pair without keeping the image: same checks and errors as snap_pair_load, memory read
 * in chunks (constant memory). diag->page names the first bad page. */
int snap_pair_verify(const struct snap_io *io, const char *dir, const char *id,
                     struct snap_diag *diag);

/* Fold diff <id> (and its chain) into a self-contained full pair under the same <id>, with the
 * save protocol; the base pairs are only read. A full <id> is left as is: it is loaded (so it
 * must be valid), nothing is written, and 0 is returned with out->already_full set and
 * out->generation its generation.
 * @return as snap_pair_load, then as snap_pair_save. */
int snap_pair_merge(struct snap_save_report *out, const struct snap_io *io, const char *dir,
                    const char *id, struct snap_diag *diag);

/* Remove stale files of <id> in dir: memory files of other generations than the committed one
 * and *.snap.tmp files. Never removes the committed pair. Used by save after the commit.
 * @param[out] removed  may be NULL. @return 0 or SNAP_EIO (first failure; the rest still tried). */
int snap_pair_cleanup(unsigned *removed, const struct snap_io *io, const char *dir,
                      const char *id, struct snap_diag *diag);

/* Names. dst gets "<id>.snap" / "<id>.g<gen>.mem"; @return 0 or SNAP_EINVAL (too long). */
int snap_name_state(char *dst, size_t dst_cap, const char *id);
int snap_name_mem(char *dst, size_t dst_cap, const char *id, uint64_t generation);

#endif
