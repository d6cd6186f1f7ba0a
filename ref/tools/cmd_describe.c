/* snapref describe: the header fields and the decoded VM state of one state file (.snap), as text
 * or JSON, without the memory file. A damaged file prints what can be decoded (the header when
 * its 256 bytes are readable) and then the error, and exits 1. The checks are those of FORMAT.md
 * 6.1 steps 1 and 2: the <id> that mem_name must begin with is taken from the file name
 * (<id>.snap); a file named otherwise is described with that check skipped, and says so. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli-priv.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

struct out {
    bool json;
    bool first; /* JSON: no comma before the next member */
};

/* Print a string with anything outside printable ASCII escaped, as JSON or as text. */
static void put_str(const char *s, bool json)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f)
            printf(json ? "\\u%04x" : "\\x%02x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void key(struct out *o, int indent, const char *k)
{
    if (o->json) {
        printf("%s\n%*s\"%s\": ", o->first ? "" : ",", indent * 2, "", k);
        o->first = false;
    } else {
        printf("%*s%s: ", indent * 2, "", k);
    }
}

static void end_line(struct out *o)
{
    if (!o->json)
        putchar('\n');
}

static void kv_u64(struct out *o, int indent, const char *k, uint64_t v)
{
    key(o, indent, k);
    printf("%" PRIu64, v);
    end_line(o);
}

static void kv_str(struct out *o, int indent, const char *k, const char *v)
{
    key(o, indent, k);
    if (v)
        put_str(v, o->json);
    else
        printf(o->json ? "null" : "(none)");
    end_line(o);
}

static void kv_bool(struct out *o, int indent, const char *k, bool v)
{
    key(o, indent, k);
    printf("%s", v ? "true" : "false");
    end_line(o);
}

static void kv_hex16(struct out *o, int indent, const char *k, const uint8_t id[16])
{
    char hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", id[i]);
    kv_str(o, indent, k, hex);
}

static void open_obj(struct out *o, int indent, const char *k)
{
    if (o->json) {
        key(o, indent, k);
        printf("{");
        o->first = true;
    } else {
        printf("%*s%s:\n", indent * 2, "", k);
    }
}

static void close_obj(struct out *o, int indent)
{
    if (o->json) {
        printf("\n%*s}", indent * 2, "");
        o->first = false;
    }
}

static void print_header(struct out *o, const struct snap_header *h)
{
    open_obj(o, 1, "header");
    kv_u64(o, 2, "version_major", h->version_major);
    kv_u64(o, 2, "version_minor", h->version_minor);
    kv_u64(o, 2, "header_len", h->header_len);
    kv_u64(o, 2, "payload_len", h->payload_len);
    kv_u64(o, 2, "schema_version", h->schema_version);
    kv_u64(o, 2, "flags", h->flags);
    kv_str(o, 2, "kind",
           h->kind == SNAP_KIND_FULL   ? "full"
           : h->kind == SNAP_KIND_DIFF ? "diff"
                                       : "unknown");
    kv_u64(o, 2, "page_size", h->page_size);
    kv_u64(o, 2, "ram_size", h->ram_size);
    kv_u64(o, 2, "page_count", h->page_size ? h->ram_size / h->page_size : 0);
    kv_hex16(o, 2, "snapshot_id", h->snapshot_id);
    kv_u64(o, 2, "generation", h->generation);
    kv_hex16(o, 2, "base_id", h->base_id);
    kv_u64(o, 2, "base_generation", h->base_generation);
    kv_u64(o, 2, "state_len", h->state_len);
    kv_u64(o, 2, "mem_pages", h->mem_pages);
    kv_u64(o, 2, "mem_file_len", h->mem_file_len);
    kv_str(o, 2, "mem_name", h->mem_name);
    kv_str(o, 2, "base_name", h->base_name[0] ? h->base_name : NULL);
    close_obj(o, 1);
}

static void kv_blob(struct out *o, int indent, const char *k, const uint8_t *b, uint32_t len)
{
    /* A blob is summarised by its length and CRC: enough to compare two states by eye. */
    char crc[17];
    snprintf(crc, sizeof crc, "%016" PRIx64, snap_crc64(0, b ? b : (const uint8_t *)"", len));
    open_obj(o, indent, k);
    kv_u64(o, indent + 1, "len", len);
    kv_str(o, indent + 1, "crc64", crc);
    close_obj(o, indent);
}

static void print_state(struct out *o, const struct snap_vm_state *st)
{
    open_obj(o, 1, "state");
    open_obj(o, 2, "vm_info");
    kv_u64(o, 3, "mem_size_mib", st->info.mem_size_mib);
    kv_bool(o, 3, "smt", st->info.smt);
    kv_bool(o, 3, "track_dirty_pages", st->info.track_dirty_pages);
    kv_str(o, 3, "cpu_template", st->info.cpu_template);
    kv_str(o, 3, "kernel_image_path", st->info.kernel_image_path);
    kv_str(o, 3, "initrd_path", st->info.initrd_path);
    kv_str(o, 3, "boot_args", st->info.boot_args);
    close_obj(o, 2);
    kv_u64(o, 2, "vcpu_count", st->vcpu_count);
    if (o->json) {
        key(o, 2, "vcpus");
        printf("[");
    } else {
        printf("    vcpus:\n");
    }
    for (uint32_t i = 0; i < st->vcpu_count; i++) {
        const struct snap_vcpu *v = &st->vcpus[i];
        uint64_t crc = snap_crc64(0, v->regs ? v->regs : (const uint8_t *)"", v->regs_len);
        if (o->json)
            printf("%s{\"index\": %" PRIu32 ", \"mpidr\": %" PRIu64 ", \"regs_len\": %" PRIu32
                   ", \"regs_crc64\": \"%016" PRIx64 "\"}",
                   i ? ", " : "", v->index, v->mpidr, v->regs_len, crc);
        else
            printf("    - index %" PRIu32 " mpidr 0x%" PRIx64 " regs %" PRIu32
                   " bytes crc64 %016" PRIx64 "\n",
                   v->index, v->mpidr, v->regs_len, crc);
    }
    if (o->json)
        printf("]");
    kv_u64(o, 2, "device_count", st->device_count);
    if (o->json) {
        key(o, 2, "devices");
        printf("[");
    } else {
        printf("    devices:\n");
    }
    for (uint32_t i = 0; i < st->device_count; i++) {
        const struct snap_device *d = &st->devices[i];
        uint64_t crc = snap_crc64(0, d->state ? d->state : (const uint8_t *)"", d->state_len);
        if (o->json) {
            printf("%s{\"name\": ", i ? ", " : "");
            put_str(d->name ? d->name : "", true);
            printf(", \"state_len\": %" PRIu32 ", \"state_crc64\": \"%016" PRIx64 "\"}",
                   d->state_len, crc);
        } else {
            printf("    - ");
            put_str(d->name ? d->name : "", false);
            printf(" state %" PRIu32 " bytes crc64 %016" PRIx64 "\n", d->state_len, crc);
        }
    }
    if (o->json)
        printf("]");
    kv_blob(o, 2, "gic", st->gic, st->gic_len);
    kv_bool(o, 2, "has_mmds", st->has_mmds);
    if (st->has_mmds)
        kv_blob(o, 2, "mmds", st->mmds, st->mmds_len);
    close_obj(o, 1);
}

static void print_page_map(struct out *o, const struct snap_envelope *env)
{
    const struct snap_header *h = &env->hdr;
    open_obj(o, 1, "page_map");
    if (env->bitmap) {
        uint64_t pages = h->ram_size / h->page_size;
        kv_u64(o, 2, "bitmap_len", snap_bitmap_len(pages));
        kv_u64(o, 2, "dirty_pages", snap_bitmap_count(env->bitmap, pages));
    }
    kv_u64(o, 2, "page_crcs", h->mem_pages);
    close_obj(o, 1);
}

/* The <id> of a state file named "<id>.snap" (any directory), into id; false if the name is not
 * of that form. */
static bool id_of_path(char id[SNAP_ID_MAX_LEN + 1], const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n <= 5 || n - 5 > SNAP_ID_MAX_LEN || strcmp(base + n - 5, ".snap") != 0)
        return false;
    memcpy(id, base, n - 5);
    id[n - 5] = '\0';
    return snap_id_valid(id);
}

int cmd_describe(int argc, char **argv)
{
    static const struct cli_cmd cmd = {
        "describe",
        "FILE [--json]",
        "Print the header fields and the decoded VM state of the state file FILE (<id>.snap),\n"
        "without reading the memory file, and check it as load does (FORMAT.md 6.1 steps 1-2;\n"
        "mem_name must begin with the <id> of the file name: a FILE not named <id>.snap is\n"
        "described with that check skipped). For a damaged file, print what can be decoded and\n"
        "the error, and exit 1.",
        1,
    };
    struct cli_opt opts[] = {
        {"json", NULL, "print one JSON object instead of text", NULL},
    };
    const char *pos[1];
    size_t npos;
    int rc = cli_parse(&cmd, opts, COUNT(opts), argc, argv, pos, &npos);
    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    if (npos != 1)
        return cli_usage_error(cmd.name, "missing FILE (a .snap state file)");
    const char *path = pos[0];
    struct cli_input m;
    if (cli_input_read(&m, cmd.name, "state file", path) != 0)
        return CLI_FAIL;
    const uint8_t *src = m.data ? m.data : (const uint8_t *)"";

    struct out o = {opts[0].value != NULL, true};
    struct snap_envelope env;
    struct snap_header hdr;
    struct snap_vm_state st;
    struct snap_diag diag;
    memset(&st, 0, sizeof st);
    snap_diag_clear(&diag);
    bool have_hdr = false, have_env = false, have_state = false;
    char id[SNAP_ID_MAX_LEN + 1] = "";
    bool have_id = id_of_path(id, path);
    const char *stage = "state file";
    int lrc = snap_envelope_decode(&env, src, m.len, &diag);
    if (lrc == 0) {
        have_env = have_hdr = true;
        hdr = env.hdr;
        stage = "encoded VM state";
        lrc = snap_state_decode(&st, env.state, (size_t)env.hdr.state_len);
        have_state = lrc == 0;
        if (lrc == 0) {
            stage = "VM state compatibility";
            lrc = snap_state_verify_compatible(&st, env.hdr.ram_size, &diag);
        }
        size_t n = strlen(id);
        if (lrc == 0 && have_id &&
            (strncmp(env.hdr.mem_name, id, n) != 0 || env.hdr.mem_name[n] != '.')) {
            stage = "state file for the <id> of its name";
            lrc = snap_diag_set(&diag, SNAP_ECORRUPT, 0, "decode", path,
                                "mem_name %s does not begin with the <id> %s of the file name "
                                "(load refuses it, FORMAT.md 6.1 step 2)",
                                env.hdr.mem_name, id);
        }
    } else {
        struct snap_diag hdiag;
        snap_diag_clear(&hdiag);
        have_hdr = snap_header_decode(&hdr, src, m.len, &hdiag) == 0;
    }

    if (o.json) {
        printf("{");
        kv_str(&o, 1, "file", path);
        kv_u64(&o, 1, "file_len", m.len);
    } else {
        kv_str(&o, 0, "file", path);
        kv_u64(&o, 0, "file_len", m.len);
    }
    if (have_hdr)
        print_header(&o, &hdr);
    if (have_env)
        print_page_map(&o, &env);
    if (have_state)
        print_state(&o, &st);
    key(&o, o.json ? 1 : 0, "id_check");
    if (have_id) {
        put_str(id, o.json);
    } else if (o.json) {
        printf("null");
    } else {
        printf("skipped: the file is not named <id>.snap, so the <id> prefix of mem_name is not "
               "checked");
    }
    end_line(&o);
    int code = diag.code ? diag.code : lrc;
    key(&o, o.json ? 1 : 0, "status");
    if (lrc == 0) {
        printf(o.json ? "\"ok\"" : "ok");
    } else {
        char msg[1200];
        /* The library's messages about the container already say "state file". */
        snprintf(msg, sizeof msg, "%s%s%s%s%s", have_env ? stage : "", have_env ? ": " : "",
                 snap_strerror(code), diag.msg[0] ? ": " : "", diag.msg);
        if (o.json) {
            put_str("invalid", true);
            key(&o, 1, "error");
            put_str(msg, true);
        } else {
            printf("invalid: %s", msg);
        }
    }
    printf(o.json ? "\n}\n" : "\n");
    snap_state_finish(&st);
    cli_input_free(&m);
    if (lrc != 0)
        return cli_lib_fail(cmd.name, lrc, &diag, "'%s' is not a valid %s", path, stage);
    return CLI_OK;
}
