/* check_vectors: the conformance test of the golden vectors. Usage: check_vectors <dir>.
 * 1. every file of <dir>/MANIFEST decodes to the result the manifest names (ok or an error);
 *    a pair directory's "<case>/<id>.snap" loads (and verifies) to it with snap_pair_load;
 * 2. each valid vector re-encodes (envelope and state) to the same bytes;
 * 3. the generator's output equals the committed files and manifest byte for byte, and no file
 *    in <dir>/files is missing from or extra to the manifest. */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snap/envelope.h"
#include "snap/error.h"
#include "snap/pair.h"
#include "snap/state.h"

#include "vectors.h"

#define MAX_VECTORS 256

struct entry {
    char file[128];
    char expect[32];
    char desc[256];
    int seen;
};

static struct entry entries[MAX_VECTORS];
static int n_entries;
static int failures;
static const char *dir;

static void failf(const char *what, const char *file)
{
    fprintf(stderr, "FAIL %s: %s\n", file, what);
    failures++;
}

/* "SNAP_ECRC" from "SNAP_ECRC: checksum mismatch", "ok" for 0. */
static void result_name(int rc, char *dst, size_t dst_cap)
{
    const char *s = snap_strerror(rc);
    size_t n = strcspn(s, ":");

    if (rc == 0) {
        snprintf(dst, dst_cap, "ok");
        return;
    }
    snprintf(dst, dst_cap, "%.*s", (int)n, s);
}

static uint8_t *read_all(const char *file, size_t *len)
{
    char path[4096];
    FILE *f;
    uint8_t *buf;
    long size;

    snprintf(path, sizeof(path), "%s/files/%s", dir, file);
    f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    buf = malloc(size > 0 ? (size_t)size : 1);
    if (buf != NULL && fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)size;
    return buf;
}

static int load_manifest(void)
{
    char path[4096], line[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/MANIFEST", dir);
    f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "check_vectors: cannot open %s\n", path);
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        struct entry *e;
        int desc_at = 0;

        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (n_entries == MAX_VECTORS) {
            fprintf(stderr, "check_vectors: more than %d vectors\n", MAX_VECTORS);
            fclose(f);
            return -1;
        }
        e = &entries[n_entries];
        line[strcspn(line, "\n")] = '\0';
        if (sscanf(line, "%127s %31s %n", e->file, e->expect, &desc_at) != 2 || desc_at == 0) {
            fprintf(stderr, "check_vectors: bad MANIFEST line: %s\n", line);
            fclose(f);
            return -1;
        }
        snprintf(e->desc, sizeof(e->desc), "%s", line + desc_at);
        n_entries++;
    }
    fclose(f);
    return 0;
}

/* A valid vector re-encodes to its own bytes. */
static void check_canonical(const struct entry *e, const uint8_t *data, size_t len)
{
    struct snap_envelope env;
    struct snap_vm_state st;
    uint8_t *state = NULL, *again = malloc(len);
    size_t state_len = 0, again_len = 0;
    uint64_t *crcs = NULL;

    if (again == NULL || snap_envelope_decode(&env, data, len, NULL) != 0 ||
        snap_state_decode(&st, env.state, (size_t)env.hdr.state_len) != 0) {
        failf("valid vector does not decode", e->file);
        free(again);
        return;
    }
    if (snap_state_encode_alloc(&state, &state_len, &st) != 0 || state_len != env.hdr.state_len ||
        memcmp(state, env.state, state_len) != 0)
        failf("state does not re-encode to the same bytes", e->file);
    crcs = calloc(env.hdr.mem_pages + 1, sizeof(*crcs));
    for (uint64_t i = 0; crcs != NULL && i < env.hdr.mem_pages; i++)
        crcs[i] = snap_get_le64(env.page_crcs + 8 * i);
    if (crcs == NULL ||
        snap_envelope_encode(again, len, &again_len, &env.hdr, state, env.bitmap, crcs) != 0 ||
        again_len != len || memcmp(again, data, len) != 0)
        failf("envelope does not re-encode to the same bytes", e->file);
    snap_state_finish(&st);
    free(crcs);
    free(state);
    free(again);
}

/* "<case>/<id>.snap" of a pair directory: load and verify <id> from files/<case> (6.1). */
static void check_pair_entry(const struct entry *e)
{
    const char *slash = strchr(e->file, '/');
    size_t n = strlen(slash + 1);
    char pdir[4096], id[128], got[32], vgot[32];
    struct snap_image img;
    int rc, vrc;

    if (n <= 5 || strcmp(slash + 1 + n - 5, ".snap") != 0) {
        failf("a pair directory's vector must be its <id>.snap", e->file);
        return;
    }
    snprintf(pdir, sizeof(pdir), "%s/files/%.*s", dir, (int)(slash - e->file), e->file);
    snprintf(id, sizeof(id), "%.*s", (int)(n - 5), slash + 1);
    rc = snap_pair_load(&img, &snap_io_posix, pdir, id, NULL);
    if (rc == 0)
        snap_image_finish(&img);
    vrc = snap_pair_verify(&snap_io_posix, pdir, id, NULL);
    result_name(rc, got, sizeof(got));
    result_name(vrc, vgot, sizeof(vgot));
    if (strcmp(got, e->expect) != 0 || strcmp(vgot, e->expect) != 0) {
        char msg[160];

        snprintf(msg, sizeof(msg), "loads to %s and verifies to %s, MANIFEST says %s", got, vgot,
                 e->expect);
        failf(msg, e->file);
    }
}

static void check_entry(const struct entry *e)
{
    char stem[128], got[32];
    size_t len = 0, n = strlen(e->file);
    uint8_t *data;
    int rc;

    if (strchr(e->file, '/') != NULL) {
        if (strcmp(e->expect, "-") != 0)
            check_pair_entry(e);
        return;
    }
    if (n <= 5 || strcmp(e->file + n - 5, ".snap") != 0) {
        failf("name does not end in .snap", e->file);
        return;
    }
    snprintf(stem, sizeof(stem), "%.*s", (int)(n - 5), e->file);
    data = read_all(e->file, &len);
    if (data == NULL) {
        failf("cannot read the file", e->file);
        return;
    }
    rc = vectors_decode(stem, data, len);
    result_name(rc, got, sizeof(got));
    if (strcmp(got, e->expect) != 0) {
        char msg[128];

        snprintf(msg, sizeof(msg), "decodes to %s, MANIFEST says %s", got, e->expect);
        failf(msg, e->file);
    }
    if (rc == 0)
        check_canonical(e, data, len);
    free(data);
}

static int compare_generated(void *ctx, const char *file, const char *expect, const char *desc,
                             const uint8_t *data, size_t len)
{
    size_t have_len = 0;
    uint8_t *have;

    (void)ctx;
    for (int i = 0; i < n_entries; i++) {
        struct entry *e = &entries[i];

        if (strcmp(e->file, file) != 0)
            continue;
        e->seen++;
        if (strcmp(e->expect, expect) != 0 || strcmp(e->desc, desc) != 0)
            failf("MANIFEST line differs from the generator (run tests/vectors/regen)", file);
        have = read_all(file, &have_len);
        if (have == NULL || have_len != len || (len != 0 && memcmp(have, data, len) != 0))
            failf("committed file differs from the generator (run tests/vectors/regen)", file);
        free(have);
        return 0;
    }
    failf("generated but not in MANIFEST (run tests/vectors/regen)", file);
    return 0;
}

static bool in_manifest(const char *file)
{
    for (int i = 0; i < n_entries; i++)
        if (strcmp(entries[i].file, file) == 0)
            return true;
    return false;
}

/* Every file under <dir>/files (sub is "" or a pair directory "<case>/") is in the manifest. */
static void check_no_stray_files(const char *sub)
{
    char path[4096], file[300];
    DIR *d;
    struct dirent *de;

    snprintf(path, sizeof(path), "%s/files/%s", dir, sub);
    d = opendir(path);
    if (d == NULL) {
        failf("cannot list the directory", path);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(file, sizeof(file), "%s%s", sub, de->d_name);
        if (sub[0] == '\0' && de->d_type == DT_DIR) {
            snprintf(file, sizeof(file), "%s/", de->d_name);
            check_no_stray_files(file);
        } else if (!in_manifest(file)) {
            failf("file not in MANIFEST", file);
        }
    }
    closedir(d);
}

int main(int argc, char **argv)
{
    int ok = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: check_vectors <tests/vectors dir>\n");
        return 99;
    }
    dir = argv[1];
    if (load_manifest() != 0 || n_entries == 0)
        return 99;
    for (int i = 0; i < n_entries; i++) {
        check_entry(&entries[i]);
        ok += strcmp(entries[i].expect, "ok") == 0;
    }
    if (vectors_generate(compare_generated, NULL) != 0)
        failf("the generator failed", "vectors_generate");
    for (int i = 0; i < n_entries; i++) {
        if (entries[i].seen != 1)
            failf(entries[i].seen == 0 ? "in MANIFEST but no longer generated"
                                       : "generated more than once",
                  entries[i].file);
    }
    check_no_stray_files("");
    printf("check_vectors: %d vectors (%d valid, %d invalid), %d failure(s)\n", n_entries, ok,
           n_entries - ok, failures);
    return failures == 0 ? 0 : 1;
}
