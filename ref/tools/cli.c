/* Helpers shared by the snapref subcommands: the option parser, numbers, messages that name the
 * file and the reason, and whole-file input and output. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli-priv.h"

static void print_help(const struct cli_cmd *cmd, const struct cli_opt *opts, size_t nopts)
{
    printf("usage: snapref %s %s\n\n%s\n\noptions:\n", cmd->name, cmd->synopsis, cmd->summary);
    for (size_t i = 0; i < nopts; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", opts[i].name, opts[i].metavar ? " " : "",
                 opts[i].metavar ? opts[i].metavar : "");
        printf("  %-22s %s\n", left, opts[i].help);
    }
    printf("  %-22s %s\n", "--protocol reference", "the commit protocol (the only one)");
    printf("  %-22s %s\n", "--help", "print this help");
    printf("\nexit status: 0 ok, 1 operation failed or invalid snapshot, 2 usage error\n");
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "snapref %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'snapref %s --help'.\n", cmd);
    return CLI_USAGE;
}

int cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "snapref %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_FAIL;
}

int cli_lib_fail(const char *cmd, int code, const struct snap_diag *diag, const char *fmt, ...)
{
    va_list ap;
    if (diag && diag->code != 0)
        code = diag->code;
    fprintf(stderr, "snapref %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s", snap_strerror(code));
    if (diag) {
        if (diag->msg[0])
            fprintf(stderr, ": %s", diag->msg);
        if (diag->path[0] && !strstr(diag->msg, diag->path))
            fprintf(stderr, " [file %s]", diag->path);
        if (diag->sys_errno)
            fprintf(stderr, " [%s: %s]", diag->op ? diag->op : "call", strerror(diag->sys_errno));
        else if (diag->op && !diag->msg[0])
            fprintf(stderr, " [step %s]", diag->op);
        if (diag->page != SNAP_NO_PAGE && code == SNAP_EPAGE)
            fprintf(stderr, " [page %llu]", (unsigned long long)diag->page);
    }
    fputc('\n', stderr);
    return CLI_FAIL;
}

static struct cli_opt *find_opt(struct cli_opt *opts, size_t nopts, const char *name, size_t len)
{
    for (size_t i = 0; i < nopts; i++)
        if (strlen(opts[i].name) == len && memcmp(opts[i].name, name, len) == 0)
            return &opts[i];
    return NULL;
}

int cli_parse(const struct cli_cmd *cmd, struct cli_opt *opts, size_t nopts, int argc, char **argv,
              const char **pos, size_t *npos)
{
    bool protocol_seen = false;
    bool only_positional = false;
    *npos = 0;
    for (size_t i = 0; i < nopts; i++)
        opts[i].value = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_positional || a[0] != '-' || a[1] == '\0') {
            if (*npos >= cmd->max_positional)
                return cli_usage_error(cmd->name, "unexpected argument '%s'", a);
            pos[(*npos)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_positional = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_help(cmd, opts, nopts);
            return -1;
        }
        if (a[1] != '-')
            return cli_usage_error(cmd->name, "unknown option '%s' (options are --long)", a);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const char *value = eq ? eq + 1 : NULL;
        if (name_len == 8 && memcmp(name, "protocol", 8) == 0) {
            if (!value) {
                if (i + 1 >= argc)
                    return cli_usage_error(cmd->name, "option --protocol needs a value");
                value = argv[++i];
            }
            if (protocol_seen)
                return cli_usage_error(cmd->name, "option --protocol given twice");
            protocol_seen = true;
            if (strcmp(value, "reference") != 0)
                return cli_usage_error(
                    cmd->name, "unknown protocol '%s' (the only protocol is 'reference')", value);
            continue;
        }
        struct cli_opt *o = find_opt(opts, nopts, name, name_len);
        if (!o)
            return cli_usage_error(cmd->name, "unknown option '--%.*s'", (int)name_len, name);
        if (o->value)
            return cli_usage_error(cmd->name, "option --%s given twice", o->name);
        if (!o->metavar) {
            if (value)
                return cli_usage_error(cmd->name, "option --%s takes no value", o->name);
            o->value = "";
            continue;
        }
        if (!value) {
            if (i + 1 >= argc || (argv[i + 1][0] == '-' && argv[i + 1][1] == '-'))
                return cli_usage_error(cmd->name, "option --%s needs a value (%s)", o->name,
                                       o->metavar);
            value = argv[++i];
        }
        if (value[0] == '\0')
            return cli_usage_error(cmd->name, "option --%s has an empty value", o->name);
        o->value = value;
    }
    return CLI_OK;
}

const char *cli_get(const struct cli_opt *opts, size_t nopts, const char *name)
{
    for (size_t i = 0; i < nopts; i++)
        if (strcmp(opts[i].name, name) == 0)
            return opts[i].value;
    return NULL;
}

int cli_parse_u64(uint64_t *out, const char *s)
{
    uint64_t v = 0;
    if (!s || !*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int cli_parse_size(uint64_t *out, const char *s)
{
    char digits[32];
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9')
        n++;
    if (n == 0 || n >= sizeof digits)
        return -1;
    memcpy(digits, s, n);
    digits[n] = '\0';
    uint64_t v;
    if (cli_parse_u64(&v, digits) != 0)
        return -1;
    const char *suf = s + n;
    unsigned shift = 0;
    switch (*suf) {
    case '\0':
        break;
    case 'k':
    case 'K':
        shift = 10;
        break;
    case 'm':
    case 'M':
        shift = 20;
        break;
    case 'g':
    case 'G':
        shift = 30;
        break;
    case 't':
    case 'T':
        shift = 40;
        break;
    default:
        return -1;
    }
    if (*suf) {
        suf++;
        if (strcmp(suf, "iB") != 0 && strcmp(suf, "B") != 0 && *suf != '\0')
            return -1;
    }
    if (shift && v > (UINT64_MAX >> shift))
        return -1;
    *out = v << shift;
    return 0;
}

int cli_page_size(uint32_t *out, const char *cmd, const char *s)
{
    uint64_t v;
    if (!s)
        return cli_usage_error(cmd, "missing --page-size (4096, 16384 or 65536)");
    if (cli_parse_size(&v, s) != 0 || (v != 4096 && v != 16384 && v != 65536))
        return cli_usage_error(cmd, "bad --page-size '%s': must be 4096, 16384 or 65536", s);
    *out = (uint32_t)v;
    return 0;
}

int cli_check_id(const char *cmd, const char *id)
{
    if (!snap_id_valid(id))
        return cli_usage_error(cmd, "bad snapshot id '%s': 1 to %u bytes of [A-Za-z0-9_-]", id,
                               SNAP_ID_MAX_LEN);
    return 0;
}

int cli_check_dir(const char *cmd, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return cli_fail(cmd, "snapshot directory '%s': %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return cli_fail(cmd, "snapshot directory '%s': not a directory", dir);
    return 0;
}

int cli_input_read(struct cli_input *out, const char *cmd, const char *what, const char *path)
{
    struct stat st;
    uint8_t *buf = NULL;
    size_t got = 0;
    int rc = CLI_FAIL;
    out->data = NULL;
    out->len = 0;
    /* O_NONBLOCK: a FIFO must not block the open; it is refused below as not a regular file. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return cli_fail(cmd, "%s '%s': cannot open: %s", what, path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        cli_fail(cmd, "%s '%s': cannot stat: %s", what, path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        cli_fail(cmd, "%s '%s': not a regular file (a FIFO, socket, device or directory)", what,
                 path);
        goto out;
    }
    if ((uint64_t)st.st_size >= SIZE_MAX) {
        cli_fail(cmd, "%s '%s': too large to read", what, path);
        goto out;
    }
    size_t len = (size_t)st.st_size;
    /* One byte more: a file that grows is noticed. An image's buffer (huge pages). */
    buf = snap_image_alloc(len + 1);
    if (!buf) {
        cli_fail(cmd, "%s '%s': no memory for its %zu bytes", what, path, len);
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf + got, len + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            cli_fail(cmd, "%s '%s': read failed at byte %zu: %s", what, path, got, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
        if (got > len)
            break;
    }
    if (got != len) {
        cli_fail(cmd, "%s '%s': changed size while it was read (%zu bytes, then %s)", what, path,
                 len, got < len ? "fewer" : "more");
        goto out;
    }
    if (len > 0) {
        out->data = buf;
        out->len = len;
        buf = NULL;
    }
    rc = 0;
out:
    free(buf);
    close(fd);
    return rc;
}

void cli_input_free(struct cli_input *m)
{
    if (m && m->data) {
        free((void *)(uintptr_t)m->data);
        m->data = NULL;
        m->len = 0;
    }
}

int cli_out_open(struct cli_out *o, const char *cmd, const char *what, const char *path)
{
    o->path = path;
    o->what = what;
    o->off = 0;
    o->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (o->fd < 0)
        return cli_fail(cmd, "%s '%s': cannot create: %s", what, path, strerror(errno));
    return 0;
}

int cli_out_write(struct cli_out *o, const char *cmd, const void *src, size_t src_len)
{
    const uint8_t *p = src;
    while (src_len > 0) {
        ssize_t n = write(o->fd, p, src_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return cli_fail(cmd, "%s '%s': write failed at byte %llu: %s", o->what, o->path,
                            (unsigned long long)o->off, n < 0 ? strerror(errno) : "no progress");
        p += n;
        src_len -= (size_t)n;
        o->off += (uint64_t)n;
    }
    return 0;
}

int cli_out_close(struct cli_out *o, const char *cmd)
{
    if (o->fd < 0)
        return 0;
    int rc = close(o->fd);
    o->fd = -1;
    if (rc != 0)
        return cli_fail(cmd, "%s '%s': close failed: %s", o->what, o->path, strerror(errno));
    return 0;
}

int cli_write_file(const char *cmd, const char *what, const char *path, const void *src,
                   size_t src_len)
{
    struct cli_out o;
    if (cli_out_open(&o, cmd, what, path) != 0)
        return CLI_FAIL;
    int rc = cli_out_write(&o, cmd, src, src_len);
    int rc2 = cli_out_close(&o, cmd);
    return rc ? rc : rc2;
}
