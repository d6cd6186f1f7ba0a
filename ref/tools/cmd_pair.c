/* snapref save, load, merge and verify: the adapter commands of docs/ADAPTER.md, each a thin
 * layer over snap_pair_* with the libc I/O table, so that an interposer or libfiu sees every
 * file call the library makes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli-priv.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Read and decode an encoded schema-1 state file. @return 0 or CLI_FAIL (printed). */
static int read_state(struct snap_vm_state *out, const char *cmd, const char *path)
{
    struct cli_input m;
    if (cli_input_read(&m, cmd, "state file", path) != 0)
        return CLI_FAIL;
    if (m.len > SNAP_MAX_STATE_LEN) {
        cli_input_free(&m);
        return cli_fail(cmd, "state file '%s': %zu bytes, over the limit of %u", path, m.len,
                        (unsigned)SNAP_MAX_STATE_LEN);
    }
    int rc = snap_state_decode(out, m.data ? m.data : (const uint8_t *)"", m.len);
    cli_input_free(&m);
    if (rc != 0)
        return cli_lib_fail(cmd, rc, NULL, "state file '%s' is not a schema-1 VM state", path);
    return 0;
}

/* Parse a command whose options are all required, the first two being --dir and --id, and
 * check the id and that the directory exists. @return -1 after --help (exit 0), 0 to go on,
 * else the exit code (printed). */
static int parse_dir_id(const struct cli_cmd *cmd, struct cli_opt *opts, size_t nopts, int argc,
                        char **argv)
{
    const char *pos[1];
    size_t npos;
    int rc = cli_parse(cmd, opts, nopts, argc, argv, pos, &npos);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < nopts; i++)
        if (!opts[i].value)
            return cli_usage_error(cmd->name, "missing --%s", opts[i].name);
    if (cli_check_id(cmd->name, opts[1].value) != 0)
        return CLI_USAGE;
    if (cli_check_dir(cmd->name, opts[0].value) != 0)
        return CLI_FAIL;
    return 0;
}

int cmd_save(int argc, char **argv)
{
    static const struct cli_cmd cmd = {
        "save",
        "--dir D --id ID --kind full|diff [--base B --dirty BM] --state S --memory M "
        "--page-size N",
        "Save a snapshot pair <ID>.snap + <ID>.g<gen>.mem in D with the commit protocol; exit 0\n"
        "only when the new pair is committed and durable.",
        0,
    };
    struct cli_opt opts[] = {
        {"dir", "D", "existing snapshot directory", NULL},
        {"id", "ID", "snapshot id: 1-40 bytes of [A-Za-z0-9_-]", NULL},
        {"kind", "KIND", "full or diff", NULL},
        {"base", "B", "diff: id of the base pair in D", NULL},
        {"state", "S", "encoded schema-1 VM state (input)", NULL},
        {"memory", "M", "full guest memory image (input, multiple of the page size)", NULL},
        {"dirty", "BM", "diff: dirty bitmap, bit i of byte j = page 8j+i", NULL},
        {"page-size", "N", "4096, 16384 or 65536", NULL},
    };
    const char *pos[1];
    size_t npos;
    int rc = cli_parse(&cmd, opts, COUNT(opts), argc, argv, pos, &npos);
    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    const char *dir = cli_get(opts, COUNT(opts), "dir");
    const char *id = cli_get(opts, COUNT(opts), "id");
    const char *kind_s = cli_get(opts, COUNT(opts), "kind");
    const char *base = cli_get(opts, COUNT(opts), "base");
    const char *state_path = cli_get(opts, COUNT(opts), "state");
    const char *mem_path = cli_get(opts, COUNT(opts), "memory");
    const char *dirty_path = cli_get(opts, COUNT(opts), "dirty");
    static const char *const required[] = {"dir", "id", "kind", "state", "memory", "page-size"};
    for (size_t i = 0; i < COUNT(required); i++)
        if (!cli_get(opts, COUNT(opts), required[i]))
            return cli_usage_error(cmd.name, "missing --%s", required[i]);
    enum snap_kind kind;
    if (strcmp(kind_s, "full") == 0)
        kind = SNAP_KIND_FULL;
    else if (strcmp(kind_s, "diff") == 0)
        kind = SNAP_KIND_DIFF;
    else
        return cli_usage_error(cmd.name, "bad --kind '%s': must be full or diff", kind_s);
    if (kind == SNAP_KIND_DIFF && (!base || !dirty_path))
        return cli_usage_error(cmd.name, "--kind diff needs --base and --dirty");
    if (kind == SNAP_KIND_FULL && (base || dirty_path))
        return cli_usage_error(cmd.name, "--base and --dirty are only for --kind diff");
    uint32_t page_size;
    if (cli_page_size(&page_size, cmd.name, cli_get(opts, COUNT(opts), "page-size")) != 0)
        return CLI_USAGE;
    if (cli_check_id(cmd.name, id) != 0)
        return CLI_USAGE;
    if (base) {
        if (cli_check_id(cmd.name, base) != 0)
            return CLI_USAGE;
        if (strcmp(base, id) == 0)
            return cli_usage_error(cmd.name, "--base must differ from --id");
    }
    if (cli_check_dir(cmd.name, dir) != 0)
        return CLI_FAIL;

    struct snap_vm_state state;
    memset(&state, 0, sizeof state);
    struct cli_input mem = {NULL, 0}, dirty = {NULL, 0};
    rc = CLI_FAIL;
    if (read_state(&state, cmd.name, state_path) != 0)
        goto out;
    if (cli_input_read(&mem, cmd.name, "memory image", mem_path) != 0)
        goto out;
    if (mem.len == 0 || mem.len % page_size != 0) {
        cli_fail(cmd.name,
                 "memory image '%s': %zu bytes is not a non-zero multiple of the page "
                 "size %u",
                 mem_path, mem.len, page_size);
        goto out;
    }
    uint64_t pages = (uint64_t)mem.len / page_size;
    if (pages > SNAP_MAX_PAGES) {
        cli_fail(cmd.name, "memory image '%s': %llu pages, over the limit of %llu", mem_path,
                 (unsigned long long)pages, (unsigned long long)SNAP_MAX_PAGES);
        goto out;
    }
    if (kind == SNAP_KIND_DIFF) {
        if (cli_input_read(&dirty, cmd.name, "dirty bitmap", dirty_path) != 0)
            goto out;
        if (dirty.len != snap_bitmap_len(pages)) {
            cli_fail(cmd.name, "dirty bitmap '%s': %zu bytes, expected %llu for %llu pages",
                     dirty_path, dirty.len, (unsigned long long)snap_bitmap_len(pages),
                     (unsigned long long)pages);
            goto out;
        }
        if (pages % 8 && (dirty.data[dirty.len - 1] >> (pages % 8)) != 0) {
            cli_fail(cmd.name, "dirty bitmap '%s': bits set past the last page %llu", dirty_path,
                     (unsigned long long)(pages - 1));
            goto out;
        }
    }
    struct snap_save_req req = {
        .dir = dir,
        .id = id,
        .kind = kind,
        .state = &state,
        .memory = mem.data,
        .ram_size = mem.len,
        .page_size = page_size,
        .dirty = dirty.data,
        .base_id = base,
    };
    struct snap_save_report rep;
    struct snap_diag diag;
    memset(&rep, 0, sizeof rep);
    snap_diag_clear(&diag);
    int lrc = snap_pair_save(&rep, &snap_io_posix, &req, &diag);
    if (lrc != 0) {
        bool ambiguous = diag.op && strcmp(diag.op, "fsync-dir-commit") == 0;
        cli_lib_fail(cmd.name, lrc, &diag, "save of '%s' in '%s' failed%s", id, dir,
                     ambiguous ? " after the commit rename (the new pair may or may not be "
                                 "durable)"
                               : "");
        goto out;
    }
    printf("saved %s generation %llu kind %s pages %llu\n", id, (unsigned long long)rep.generation,
           kind_s, (unsigned long long)rep.pages_written);
    if (rep.cleanup_incomplete)
        fprintf(stderr,
                "snapref save: warning: old files of '%s' remain in '%s'; the next save "
                "removes them\n",
                id, dir);
    rc = CLI_OK;
out:
    cli_input_free(&dirty);
    cli_input_free(&mem);
    snap_state_finish(&state);
    return rc;
}

/* Is path inside the directory rdir (a real path)? */
static bool path_inside(const char *rpath, const char *rdir)
{
    size_t n = strlen(rdir);
    if (strcmp(rdir, "/") == 0)
        return true;
    return strncmp(rpath, rdir, n) == 0 && (rpath[n] == '\0' || rpath[n] == '/');
}

/* An output of load must not be able to overwrite a file of the pair it loads: refuse a path
 * inside dir (through links too), or the same file (st_dev, st_ino) as any entry of dir, which
 * holds every file of the pair and of its chain. @return 0 or CLI_FAIL (printed). */
static int check_output(const char *cmd, const char *what, const char *path, const char *dir)
{
    char rdir[PATH_MAX], rparent[PATH_MAX], rpath[PATH_MAX], parent[PATH_MAX];
    struct stat st;
    if (!realpath(dir, rdir))
        return cli_fail(cmd, "snapshot directory '%s': %s", dir, strerror(errno));
    if (strlen(path) >= sizeof parent)
        return cli_fail(cmd, "%s '%s': path too long", what, path);
    memcpy(parent, path, strlen(path) + 1);
    if ((realpath(dirname(parent), rparent) && path_inside(rparent, rdir)) ||
        (realpath(path, rpath) && path_inside(rpath, rdir)))
        return cli_fail(cmd,
                        "%s '%s' is inside the snapshot directory '%s': refused, it could "
                        "overwrite a file of the pair",
                        what, path, dir);
    if (stat(path, &st) != 0)
        return 0; /* a new file: it cannot be a file of the pair */
    DIR *d = opendir(dir);
    if (!d)
        return cli_fail(cmd, "snapshot directory '%s': %s", dir, strerror(errno));
    int rc = 0;
    for (struct dirent *e; rc == 0 && (e = readdir(d)) != NULL;) {
        struct stat es;
        if (fstatat(dirfd(d), e->d_name, &es, AT_SYMLINK_NOFOLLOW) == 0 && es.st_dev == st.st_dev &&
            es.st_ino == st.st_ino)
            rc = cli_fail(cmd,
                          "%s '%s' is the same file as '%s/%s' of the snapshot directory: "
                          "refused",
                          what, path, dir, e->d_name);
    }
    closedir(d);
    return rc;
}

int cmd_load(int argc, char **argv)
{
    static const struct cli_cmd cmd = {
        "load",
        "--dir D --id ID --state-out S --memory-out M",
        "Load and verify the pair <ID> of D (a diff with its base chain) and write the stored\n"
        "state bytes to S and the full guest memory image to M. S and M must lie outside D and\n"
        "must not be (links to) files of D: such outputs are refused.",
        0,
    };
    struct cli_opt opts[] = {
        {"dir", "D", "snapshot directory", NULL},
        {"id", "ID", "snapshot id", NULL},
        {"state-out", "S", "output: the encoded VM state exactly as stored", NULL},
        {"memory-out", "M", "output: the full guest memory image", NULL},
    };
    int rc = parse_dir_id(&cmd, opts, COUNT(opts), argc, argv);
    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    const char *dir = opts[0].value, *id = opts[1].value;
    if (check_output(cmd.name, "state output", opts[2].value, dir) != 0 ||
        check_output(cmd.name, "memory output", opts[3].value, dir) != 0)
        return CLI_FAIL;
    struct snap_image img;
    struct snap_diag diag;
    snap_diag_clear(&diag);
    int lrc = snap_pair_load(&img, &snap_io_posix, dir, id, &diag);
    if (lrc != 0)
        return cli_lib_fail(cmd.name, lrc, &diag, "load of '%s' from '%s' failed", id, dir);
    rc = cli_write_file(cmd.name, "state output", opts[2].value, img.state_bytes, img.state_len);
    if (rc == 0)
        rc = cli_write_file(cmd.name, "memory output", opts[3].value, img.memory,
                            (size_t)img.hdr.ram_size);
    if (rc == 0)
        printf("loaded %s generation %llu kind %s ram %llu\n", id,
               (unsigned long long)img.hdr.generation,
               img.hdr.kind == SNAP_KIND_DIFF ? "diff" : "full",
               (unsigned long long)img.hdr.ram_size);
    snap_image_finish(&img);
    return rc;
}

int cmd_merge(int argc, char **argv)
{
    static const struct cli_cmd cmd = {
        "merge",
        "--dir D --id ID",
        "Fold the diff pair <ID> and its base chain into a self-contained full pair under the\n"
        "same id (commit protocol of a save; the bases are only read). A full pair is left as is.",
        0,
    };
    struct cli_opt opts[] = {
        {"dir", "D", "snapshot directory", NULL},
        {"id", "ID", "snapshot id", NULL},
    };
    int rc = parse_dir_id(&cmd, opts, COUNT(opts), argc, argv);
    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    const char *dir = opts[0].value, *id = opts[1].value;
    struct snap_save_report rep;
    struct snap_diag diag;
    memset(&rep, 0, sizeof rep);
    snap_diag_clear(&diag);
    int lrc = snap_pair_merge(&rep, &snap_io_posix, dir, id, &diag);
    if (lrc != 0)
        return cli_lib_fail(cmd.name, lrc, &diag, "merge of '%s' in '%s' failed", id, dir);
    if (rep.already_full)
        printf("%s is a full snapshot already (generation %llu): nothing was done\n", id,
               (unsigned long long)rep.generation);
    else
        printf("merged %s into full generation %llu\n", id, (unsigned long long)rep.generation);
    return CLI_OK;
}

int cmd_verify(int argc, char **argv)
{
    static const struct cli_cmd cmd = {
        "verify",
        "--dir D --id ID",
        "Check the pair <ID> of D (state file, memory file, every page CRC, the base chain)\n"
        "without keeping the image. Prints \"ok\", or names the first bad page.",
        0,
    };
    struct cli_opt opts[] = {
        {"dir", "D", "snapshot directory", NULL},
        {"id", "ID", "snapshot id", NULL},
    };
    int rc = parse_dir_id(&cmd, opts, COUNT(opts), argc, argv);
    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    const char *dir = opts[0].value, *id = opts[1].value;
    struct snap_diag diag;
    snap_diag_clear(&diag);
    int lrc = snap_pair_verify(&snap_io_posix, dir, id, &diag);
    if (lrc == 0) {
        printf("ok\n");
        return CLI_OK;
    }
    int code = diag.code ? diag.code : lrc;
    if (code == SNAP_EPAGE && diag.page != SNAP_NO_PAGE)
        printf("bad page %llu\n", (unsigned long long)diag.page);
    else
        printf("invalid: %s\n", snap_strerror(code));
    return cli_lib_fail(cmd.name, lrc, &diag, "pair '%s' in '%s' is invalid", id, dir);
}
