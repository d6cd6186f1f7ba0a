/* badload: an implementation under test (docs/ADAPTER.md) whose save is libsnapref's and whose
 * load is broken in one known way, chosen by --bug, so that `snapcheck conform` must flag it on
 * the requirement that rule belongs to (tests/variants/meson.build).
 * Method: load copies the directory, "repairs" in the copy exactly what a loader with the bug
 * would not have noticed, then loads the copy with snap_pair_load. The repair is the bug:
 *   skip-page-crc    the page map is rewritten from the pages found (page CRCs never checked)
 *   accept-trailing  bytes after the state file's trailer are cut off
 *   accept-major     an unknown version_major is read as 1
 *   ignore-binding   the memory trailer's snapshot_id and generation are taken as the header's
 *   none             no repair: the reference loader (the control)
 * and two that `snapcheck fuzz --lib` must find (the library form, badload_lib.c):
 *   trust-state-len  the state file's state_len field (offset 96) sizes a buffer before the
 *                    file is checked: an allocation of whatever the header says
 *   trust-payload-len  the trailer is read at 256 + payload_len (offset 16) of the state file
 *                    without checking that the file is that long: a read far past the end of
 *                    the buffer (a crash for a large payload_len, even without a sanitizer) */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <snap/snap.h>

enum bug {
    B_NONE,
    B_SKIP_PAGE_CRC,
    B_ACCEPT_TRAILING,
    B_ACCEPT_MAJOR,
    B_IGNORE_BINDING,
    B_TRUST_STATE_LEN,
    B_TRUST_PAYLOAD_LEN
};
static const char *const bug_names[] = {"none",           "skip-page-crc",   "accept-trailing",
                                        "accept-major",   "ignore-binding",  "trust-state-len",
                                        "trust-payload-len"};
static enum bug bug;
static const struct snap_io *const io = &snap_io_posix;

#define MAX_FILE ((uint64_t)1 << 34)

/* dir/name into dst; -1 when it does not fit. */
static int join(char *dst, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(dst, cap, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static bool quiet; /* the library form keeps the fuzzer's output clean */

static int fail(const char *what, int code, const struct snap_diag *d)
{
    if (quiet)
        return 1;
    fprintf(stderr, "badload: %s: %s%s%s\n", what, snap_strerror(code), d ? ": " : "",
            d ? d->msg : "");
    return 1;
}

static int read_all(uint8_t **out, size_t *out_len, const char *path)
{
    struct snap_diag d;
    snap_diag_clear(&d);
    return snap_io_read_file(out, out_len, io, path, MAX_FILE, &d);
}

static int write_all(const char *path, const uint8_t *src, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = len ? fwrite(src, 1, len, f) : 0;
    return (fclose(f) != 0 || n != len) ? -1 : 0;
}

/* The repair of one state file (and its memory file) in the copy. */
static void repair(const char *dir, const char *name)
{
    char sp[1024], mp[1200];
    uint8_t *s, *m = NULL;
    size_t slen, mlen = 0;
    if (join(sp, sizeof sp, dir, name) || read_all(&s, &slen, sp) != 0)
        return;
    if (bug == B_ACCEPT_TRAILING && slen >= SNAP_HEADER_LEN) {
        uint64_t payload = snap_get_le64(s + 16);
        if (payload <= SNAP_MAX_PAYLOAD && slen > SNAP_HEADER_LEN + payload + SNAP_TRAILER_LEN)
            write_all(sp, s, SNAP_HEADER_LEN + payload + SNAP_TRAILER_LEN);
    } else if (bug == B_ACCEPT_MAJOR && slen >= 10 && snap_get_le16(s + 8) != 1) {
        snap_put_le16(s + 8, 1);
        write_all(sp, s, slen);
    } else if (bug == B_SKIP_PAGE_CRC || bug == B_IGNORE_BINDING) {
        struct snap_envelope env;
        if (snap_envelope_decode(&env, s, slen, NULL) != 0)
            goto out;
        if (join(mp, sizeof mp, dir, env.hdr.mem_name) || read_all(&m, &mlen, mp) != 0 ||
            mlen != env.hdr.mem_file_len)
            goto out;
        uint8_t *t = m + mlen - SNAP_MEM_TRAILER_LEN;
        if (bug == B_IGNORE_BINDING) {
            struct snap_mem_trailer tr;
            if (snap_mem_trailer_decode(&tr, t) != 0)
                goto out;
            memcpy(tr.snapshot_id, env.hdr.snapshot_id, 16);
            tr.generation = env.hdr.generation;
            snap_mem_trailer_encode(t, &tr);
            write_all(mp, m, mlen);
        } else {
            size_t map = SNAP_HEADER_LEN + env.hdr.state_len +
                         (env.hdr.kind == SNAP_KIND_DIFF
                              ? snap_bitmap_len(env.hdr.ram_size / env.hdr.page_size)
                              : 0);
            for (uint64_t k = 0; k < env.hdr.mem_pages; k++)
                snap_put_le64(s + map + 8 * k,
                              snap_crc64(0, m + k * env.hdr.page_size, env.hdr.page_size));
            size_t body = slen - SNAP_TRAILER_LEN;
            snap_put_le64(s + body, snap_crc64(0, s, body));
            write_all(sp, s, slen);
        }
    }
out:
    free(s);
    free(m);
}

/* Copy the regular files of dir into a new temporary directory, repairing each state file. */
static int copy_repaired(char *tmp, size_t cap, const char *dir)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmp, cap, "%s/badload.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmp))
        return -1;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) && rc == 0) {
        if (e->d_name[0] == '.')
            continue;
        char from[1024], to[1024];
        uint8_t *b;
        size_t len;
        if (join(from, sizeof from, dir, e->d_name) || join(to, sizeof to, tmp, e->d_name)) {
            rc = -1;
        } else if (read_all(&b, &len, from) == 0) {
            rc = write_all(to, b, len);
            free(b);
        }
    }
    closedir(d);
    if (rc)
        return -1;
    d = opendir(tmp);
    if (!d)
        return -1;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 5 && !strcmp(e->d_name + n - 5, ".snap"))
            repair(tmp, e->d_name);
    }
    closedir(d);
    return 0;
}

static void remove_tree(const char *tmp)
{
    DIR *d = opendir(tmp);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char p[1024];
            if (join(p, sizeof p, tmp, e->d_name) == 0)
                unlink(p);
        }
        closedir(d);
    }
    rmdir(tmp);
}

static const char *opt(int argc, char **argv, const char *name)
{
    for (int i = 0; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return NULL;
}

static int cmd_load(int argc, char **argv)
{
    const char *dir = opt(argc, argv, "--dir"), *id = opt(argc, argv, "--id");
    const char *so = opt(argc, argv, "--state-out"), *mo = opt(argc, argv, "--memory-out");
    if (!dir || !id || !so || !mo) {
        fprintf(stderr, "badload: load needs --dir --id --state-out --memory-out\n");
        return 2;
    }
    if (bug == B_TRUST_STATE_LEN || bug == B_TRUST_PAYLOAD_LEN) {
        char sp[1024];
        uint8_t *s;
        size_t slen;
        if (snprintf(sp, sizeof sp, "%s/%s.snap", dir, id) < (int)sizeof sp &&
            read_all(&s, &slen, sp) == 0) {
            /* the bug: a header field trusted before the file's length is */
            volatile uint8_t sink = 0;
            if (bug == B_TRUST_STATE_LEN && slen >= 104) {
                uint8_t *state = malloc(snap_get_le64(s + 96) + 1);
                if (state)
                    sink = state[0] = 1;
                free(state);
            } else if (bug == B_TRUST_PAYLOAD_LEN && slen >= 24) {
                /* the trailer's first byte, wherever payload_len puts it */
                uintptr_t at = (uintptr_t)s + SNAP_HEADER_LEN + (uintptr_t)snap_get_le64(s + 16);
                sink = *(const volatile uint8_t *)at;
            }
            (void)sink;
            free(s);
        }
    }
    char tmp[1024];
    if (copy_repaired(tmp, sizeof tmp, dir) != 0) {
        fprintf(stderr, "badload: load %s: cannot copy %s\n", id, dir);
        return 1;
    }
    struct snap_image img;
    struct snap_diag d;
    snap_diag_clear(&d);
    int rc = snap_pair_load(&img, io, tmp, id, &d);
    remove_tree(tmp);
    if (rc)
        return fail(id, rc, &d);
    rc = write_all(so, img.state_bytes, img.state_len) ||
         write_all(mo, img.memory, img.hdr.ram_size);
    snap_image_finish(&img);
    if (rc)
        fprintf(stderr, "badload: cannot write the outputs of %s\n", id);
    return rc ? 1 : 0;
}

static int cmd_save(int argc, char **argv)
{
    const char *dir = opt(argc, argv, "--dir"), *id = opt(argc, argv, "--id");
    const char *kind = opt(argc, argv, "--kind"), *sp = opt(argc, argv, "--state");
    const char *mp = opt(argc, argv, "--memory"), *ps = opt(argc, argv, "--page-size");
    const char *base = opt(argc, argv, "--base"), *dp = opt(argc, argv, "--dirty");
    if (!dir || !id || !kind || !sp || !mp || !ps) {
        fprintf(stderr, "badload: save needs --dir --id --kind --state --memory --page-size\n");
        return 2;
    }
    bool diff = !strcmp(kind, "diff");
    uint8_t *sb = NULL, *mb = NULL, *db = NULL;
    size_t sl, ml, dl;
    struct snap_vm_state st;
    memset(&st, 0, sizeof st);
    int rc = read_all(&sb, &sl, sp);
    if (!rc)
        rc = read_all(&mb, &ml, mp);
    if (!rc && diff)
        rc = dp ? read_all(&db, &dl, dp) : SNAP_EINVAL;
    if (!rc)
        rc = snap_state_decode(&st, sb, sl);
    struct snap_diag d;
    snap_diag_clear(&d);
    if (!rc) {
        struct snap_save_req req = {.dir = dir,
                                    .id = id,
                                    .kind = diff ? SNAP_KIND_DIFF : SNAP_KIND_FULL,
                                    .state = &st,
                                    .memory = mb,
                                    .ram_size = ml,
                                    .page_size = (uint32_t)strtoul(ps, NULL, 10),
                                    .dirty = db,
                                    .base_id = base};
        rc = snap_pair_save(NULL, io, &req, &d);
    }
    snap_state_finish(&st);
    free(sb);
    free(mb);
    free(db);
    return rc ? fail(id, rc, &d) : 0;
}

int main(int argc, char **argv)
{
    int i = 1;
    if (i + 1 < argc && !strcmp(argv[i], "--bug")) {
        size_t n = sizeof bug_names / sizeof bug_names[0], b = 0;
        while (b < n && strcmp(argv[i + 1], bug_names[b]))
            b++;
        if (b == n) {
            fprintf(stderr, "badload: unknown --bug '%s'\n", argv[i + 1]);
            return 2;
        }
        bug = (enum bug)b;
        i += 2;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: badload [--bug NAME] capabilities|save|load ...\n");
        return 2;
    }
    if (!strcmp(argv[i], "capabilities")) {
        printf("save-full save-diff load\n");
        return 0;
    }
    if (!strcmp(argv[i], "save"))
        return cmd_save(argc - i, argv + i);
    if (!strcmp(argv[i], "load"))
        return cmd_load(argc - i, argv + i);
    fprintf(stderr, "%s: unsupported operation\n", argv[i]);
    return 2;
}
