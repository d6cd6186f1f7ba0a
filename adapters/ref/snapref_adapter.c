/* libsnapref-adapter.so: the reference (libsnapref) as an adapter library of the C ABI of
 * <snapcheck/adapter.h>, for `snapcheck faults --lib`. Each operation is the one of the snapref
 * CLI (ref/tools/cmd_pair.c): the same library calls through snap_io_posix, so the interposer
 * counts the same calls in the same order and case ids mean the same in both modes. */
#include <snapcheck/adapter.h>

#include <snap/snap.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT uint32_t snapcheck_adapter_abi(void)
{
    return SNAPCHECK_ADAPTER_ABI_VERSION;
}

EXPORT int snapcheck_adapter_capabilities(uint32_t *out_caps, char *msg, size_t msg_cap)
{
    (void)msg;
    (void)msg_cap;
    *out_caps =
        SNAPCHECK_CAP_SAVE_FULL | SNAPCHECK_CAP_SAVE_DIFF | SNAPCHECK_CAP_LOAD | SNAPCHECK_CAP_MERGE;
    return SNAPCHECK_ADAPTER_OK;
}

static int usage(char *msg, size_t msg_cap, const char *what)
{
    snprintf(msg, msg_cap, "%s", what);
    return SNAPCHECK_ADAPTER_USAGE;
}

static int lib_fail(char *msg, size_t msg_cap, int rc, const struct snap_diag *d, const char *what)
{
    snprintf(msg, msg_cap, "%s: %s: %s", what, snap_strerror(rc), d->msg[0] ? d->msg : "failed");
    return SNAPCHECK_ADAPTER_FAILED;
}

static int check_dir(char *msg, size_t msg_cap, const char *dir)
{
    struct stat st;
    errno = 0;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(msg, msg_cap, "snapshot directory '%s': %s", dir,
                 errno ? strerror(errno) : "not a directory");
        return -1;
    }
    return 0;
}

EXPORT int snapcheck_adapter_save(const struct snapcheck_save_req *req, char *msg, size_t msg_cap)
{
    if (!SNAPCHECK_REQ_HAS(req, struct snapcheck_save_req, dirty_len))
        return usage(msg, msg_cap, "save: request from an older ABI without the in-memory inputs");
    if (!req->dir || !req->id || !req->state || !req->memory)
        return usage(msg, msg_cap, "save: dir, id, state and memory are required");
    int diff = req->kind == SNAPCHECK_KIND_DIFF;
    if (!diff && req->kind != SNAPCHECK_KIND_FULL)
        return usage(msg, msg_cap, "save: kind must be full or diff");
    if (diff && (!req->base_id || !req->dirty))
        return usage(msg, msg_cap, "save: a diff needs base_id and dirty");
    if (!snap_id_valid(req->id) || (diff && !snap_id_valid(req->base_id)))
        return usage(msg, msg_cap, "save: invalid id: 1-40 bytes of [A-Za-z0-9_-]");
    if (diff && !strcmp(req->id, req->base_id))
        return usage(msg, msg_cap, "save: the base must differ from the id");
    if (req->page_size != 4096 && req->page_size != 16384 && req->page_size != 65536)
        return usage(msg, msg_cap, "save: page size must be 4096, 16384 or 65536");
    if (check_dir(msg, msg_cap, req->dir) != 0)
        return SNAPCHECK_ADAPTER_FAILED;
    if (req->state_len > SNAP_MAX_STATE_LEN) {
        snprintf(msg, msg_cap, "save: state of %llu bytes, over the limit",
                 (unsigned long long)req->state_len);
        return SNAPCHECK_ADAPTER_FAILED;
    }
    if (req->memory_len == 0 || req->memory_len % req->page_size != 0 ||
        req->memory_len / req->page_size > SNAP_MAX_PAGES) {
        snprintf(msg, msg_cap, "save: memory of %llu bytes is not 1 to 2^24 whole pages",
                 (unsigned long long)req->memory_len);
        return SNAPCHECK_ADAPTER_FAILED;
    }
    uint64_t pages = req->memory_len / req->page_size;
    if (diff && (req->dirty_len != snap_bitmap_len(pages) ||
                 (pages % 8 && (req->dirty[req->dirty_len - 1] >> (pages % 8)) != 0))) {
        snprintf(msg, msg_cap, "save: dirty bitmap of %llu bytes does not fit %llu pages",
                 (unsigned long long)req->dirty_len, (unsigned long long)pages);
        return SNAPCHECK_ADAPTER_FAILED;
    }
    struct snap_vm_state state;
    int rc = snap_state_decode(&state, req->state, (size_t)req->state_len);
    if (rc != 0) {
        snprintf(msg, msg_cap, "save: the state is not a schema-1 VM state: %s",
                 snap_strerror(rc));
        return SNAPCHECK_ADAPTER_FAILED;
    }
    struct snap_save_req sr = {
        .dir = req->dir,
        .id = req->id,
        .kind = diff ? SNAP_KIND_DIFF : SNAP_KIND_FULL,
        .state = &state,
        .memory = req->memory,
        .ram_size = req->memory_len,
        .page_size = req->page_size,
        .dirty = diff ? req->dirty : NULL,
        .base_id = diff ? req->base_id : NULL,
    };
    struct snap_save_report rep;
    struct snap_diag d;
    snap_diag_clear(&d);
    rc = snap_pair_save(&rep, &snap_io_posix, &sr, &d);
    snap_state_finish(&state);
    return rc == 0 ? SNAPCHECK_ADAPTER_OK : lib_fail(msg, msg_cap, rc, &d, "save");
}

/* Write an output file (outside the snapshot directory) whole. */
static int write_out(char *msg, size_t msg_cap, const char *path, const uint8_t *src, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(msg, msg_cap, "load: output %s: %s", path, strerror(errno));
        return -1;
    }
    while (len > 0) {
        ssize_t n = write(fd, src, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(msg, msg_cap, "load: output %s: %s", path, n < 0 ? strerror(errno) : "no progress");
            close(fd);
            return -1;
        }
        src += n;
        len -= (size_t)n;
    }
    if (close(fd) != 0) {
        snprintf(msg, msg_cap, "load: output %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

EXPORT int snapcheck_adapter_load(const struct snapcheck_load_req *req, char *msg, size_t msg_cap)
{
    if (!SNAPCHECK_REQ_HAS(req, struct snapcheck_load_req, memory_out) || !req->dir || !req->id ||
        !req->state_out || !req->memory_out)
        return usage(msg, msg_cap, "load: dir, id, state_out and memory_out are required");
    if (!snap_id_valid(req->id))
        return usage(msg, msg_cap, "load: invalid id");
    if (check_dir(msg, msg_cap, req->dir) != 0)
        return SNAPCHECK_ADAPTER_FAILED;
    struct snap_image img;
    struct snap_diag d;
    snap_diag_clear(&d);
    int rc = snap_pair_load(&img, &snap_io_posix, req->dir, req->id, &d);
    if (rc != 0)
        return lib_fail(msg, msg_cap, rc, &d, "load");
    rc = write_out(msg, msg_cap, req->state_out, img.state_bytes, img.state_len) == 0 &&
                 write_out(msg, msg_cap, req->memory_out, img.memory, (size_t)img.hdr.ram_size) ==
                     0
             ? SNAPCHECK_ADAPTER_OK
             : SNAPCHECK_ADAPTER_FAILED;
    snap_image_finish(&img);
    return rc;
}

EXPORT int snapcheck_adapter_merge(const struct snapcheck_merge_req *req, char *msg,
                                   size_t msg_cap)
{
    if (!SNAPCHECK_REQ_HAS(req, struct snapcheck_merge_req, id) || !req->dir || !req->id)
        return usage(msg, msg_cap, "merge: dir and id are required");
    if (!snap_id_valid(req->id))
        return usage(msg, msg_cap, "merge: invalid id");
    if (check_dir(msg, msg_cap, req->dir) != 0)
        return SNAPCHECK_ADAPTER_FAILED;
    struct snap_save_report rep;
    struct snap_diag d;
    snap_diag_clear(&d);
    int rc = snap_pair_merge(&rep, &snap_io_posix, req->dir, req->id, &d);
    return rc == 0 ? SNAPCHECK_ADAPTER_OK : lib_fail(msg, msg_cap, rc, &d, "merge");
}
