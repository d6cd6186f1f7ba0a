/* Removing the stale files of a pair (FORMAT.md 9 step 8): memory files of generations other
 * than the committed one and temporary state files. Load never reads them; this only reclaims
 * space. Names are collected first and unlinked after the listing, one failure does not stop
 * the others, and the directory is fsynced once at the end. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "io-priv.h"
#include "pair-priv.h"
#include "snap/pair.h"

struct victims {
    const char *id;
    bool remove_mem;
    uint64_t keep_gen;
    char **names;
    size_t count;
    size_t cap;
    bool no_memory;
};

static int collect(void *arg, const char *name)
{
    struct victims *v = arg;
    enum snap_name_kind kind;
    uint64_t gen;
    char **grown;

    kind = snap_name_parse(name, v->id, &gen);
    if (kind != SNAP_NAME_TMP && !(kind == SNAP_NAME_MEM && v->remove_mem && gen != v->keep_gen))
        return 0;
    if (v->count == v->cap) {
        size_t cap = v->cap != 0 ? 2 * v->cap : 8;
        grown = realloc(v->names, cap * sizeof(*grown));
        if (grown == NULL)
            goto nomem;
        v->names = grown;
        v->cap = cap;
    }
    v->names[v->count] = strdup(name);
    if (v->names[v->count] == NULL)
        goto nomem;
    v->count++;
    return 0;
nomem:
    v->no_memory = true;
    return 1;
}

int snap_pair_cleanup_keep(unsigned *removed, const struct snap_io *io, const char *dir,
                           const char *id, bool remove_mem, uint64_t keep_gen,
                           struct snap_diag *diag)
{
    struct victims v = {id, remove_mem, keep_gen, NULL, 0, 0, false};
    char path[SNAP_PATH_CAP];
    unsigned gone = 0;
    int rc = 0;

    if (removed != NULL)
        *removed = 0;
    if (io->list(io->ctx, dir, collect, &v) != 0) {
        if (v.no_memory)
            rc = snap_diag_set(diag, SNAP_ENOMEM, 0, "malloc", dir, "no memory to list %s", dir);
        else
            rc = snap_io_fail(diag, "list", dir, errno);
    }
    for (size_t i = 0; i < v.count; i++) {
        if (rc == 0 || rc == SNAP_EIO) {
            /* Fits: dir plus an entry name that was just read from it fits any sane cap. */
            if (snap_path_join(path, sizeof(path), dir, v.names[i]) != 0)
                continue;
            if (io->unlink(io->ctx, path) == 0) {
                gone++;
            } else if (errno != ENOENT) {
                int err = snap_io_fail(diag, "unlink", path, errno);
                rc = rc != 0 ? rc : err;
            }
        }
        free(v.names[i]);
    }
    free(v.names);
    if (gone != 0) {
        int sync_rc = snap_io_fsync_dir(io, dir, diag);
        rc = rc != 0 ? rc : sync_rc;
    }
    if (removed != NULL)
        *removed = gone;
    return rc;
}

int snap_pair_cleanup(unsigned *removed, const struct snap_io *io, const char *dir,
                      const char *id, struct snap_diag *diag)
{
    char name[SNAP_PATH_CAP];
    char path[SNAP_PATH_CAP];
    uint8_t head[SNAP_HEADER_LEN];
    struct snap_header hdr;
    bool known = false;
    int fd;
    int rc;

    snap_diag_clear(diag);
    if (removed != NULL)
        *removed = 0;
    if (io == NULL || dir == NULL || id == NULL || !snap_id_valid(id))
        return snap_diag_set(diag, SNAP_EINVAL, 0, "cleanup", NULL,
                             "cleanup: NULL argument or invalid <id>");
    if (snap_name_state(name, sizeof(name), id) != 0 ||
        snap_path_join(path, sizeof(path), dir, name) != 0)
        return snap_diag_set(diag, SNAP_EINVAL, 0, "cleanup", dir, "cleanup: path too long");
    /* Which memory file is committed: the one the header of <id>.snap names. No state file: none
     * is. A header that does not decode: unknown, so every memory file stays. */
    fd = snap_io_open_retry(io, path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0 && errno != ENOENT)
        return snap_io_fail(diag, "open", path, errno);
    if (fd >= 0) {
        rc = snap_io_read_all(io, fd, head, sizeof(head), 0, path, diag);
        snap_io_close_quiet(io, fd);
        if (rc == SNAP_EIO)
            return rc;
        if (diag != NULL)
            snap_diag_clear(diag);
        known = rc == 0 && snap_header_decode(&hdr, head, sizeof(head), NULL) == 0;
        if (!known)
            return snap_pair_cleanup_keep(removed, io, dir, id, false, 0, diag);
    }
    return snap_pair_cleanup_keep(removed, io, dir, id, true, known ? hdr.generation : 0, diag);
}
