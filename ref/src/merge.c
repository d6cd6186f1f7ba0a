/* Merging a diff into a self-contained full pair (FORMAT.md section 9, last paragraph): load the
 * diff and its chain, then save the image as a full pair under the diff's <id> with the save
 * protocol. The bases are only read; the diff's old files go with the save's cleanup. */
#include <string.h>

#include "snap/pair.h"

int snap_pair_merge(struct snap_save_report *out, const struct snap_io *io, const char *dir,
                    const char *id, struct snap_diag *diag)
{
    struct snap_save_req req;
    struct snap_image img;
    int rc;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    rc = snap_pair_load(&img, io, dir, id, diag);
    if (rc != 0)
        return rc;
    if (img.hdr.kind == SNAP_KIND_FULL) {
        if (out != NULL) {
            out->already_full = true;
            out->generation = img.hdr.generation;
            memcpy(out->snapshot_id, img.hdr.snapshot_id, sizeof(out->snapshot_id));
        }
        snap_image_finish(&img);
        return 0;
    }
    memset(&req, 0, sizeof(req));
    req.dir = dir;
    req.id = id;
    req.kind = SNAP_KIND_FULL;
    req.state = &img.state;
    req.memory = img.memory;
    req.ram_size = img.hdr.ram_size;
    req.page_size = img.hdr.page_size;
    rc = snap_pair_save(out, io, &req, diag);
    snap_image_finish(&img);
    return rc;
}
