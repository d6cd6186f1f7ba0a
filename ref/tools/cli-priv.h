/* Private helpers of the snapref tool: exit codes, the strict long-option parser, number parsing,
 * error reporting that names the file and the reason, and whole-file reading and writing.
 * Only ref/tools/ includes this header. */
#ifndef SNAPREF_CLI_PRIV_H
#define SNAPREF_CLI_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snap/snap.h"

/* Exit codes of every subcommand (docs/ADAPTER.md). */
enum cli_exit {
    CLI_OK = 0,    /* done */
    CLI_FAIL = 1,  /* the operation failed or the snapshot is invalid */
    CLI_USAGE = 2, /* bad command line */
};

/* One option of a subcommand. Parsing is strict: only the exact name is accepted (no
 * abbreviations), each option at most once, `--name value` or `--name=value`. */
struct cli_opt {
    const char *name;    /* without the leading "--" */
    const char *metavar; /* NULL: a flag without a value */
    const char *help;
    const char *value; /* after cli_parse: the value, "" for a flag given, NULL if absent */
};

struct cli_cmd {
    const char *name;
    const char *synopsis; /* after "snapref <name> " */
    const char *summary;  /* one line */
    size_t max_positional;
};

/* Parse argv[1..argc) (argv[0] is the subcommand name) into opts. --protocol (only "reference")
 * and --help are handled here for every subcommand.
 * @param[out] pos   positional arguments, at most cmd->max_positional
 * @return CLI_OK, CLI_USAGE (message printed), or -1 when --help was printed (exit 0). */
int cli_parse(const struct cli_cmd *cmd, struct cli_opt *opts, size_t nopts, int argc, char **argv,
              const char **pos, size_t *npos);

/* Value of option name ("" for a flag), NULL if absent. */
const char *cli_get(const struct cli_opt *opts, size_t nopts, const char *name);

/* Print "snapref <cmd>: <message>" and a hint to stderr. @return CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print "snapref <cmd>: <message>" to stderr. @return CLI_FAIL. */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print a library failure: "snapref <cmd>: <context>: <error name>: <diag message> (file, call,
 * errno, page)". @return CLI_FAIL. */
int cli_lib_fail(const char *cmd, int code, const struct snap_diag *diag, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Strict decimal u64 (digits only, no sign, no overflow). @return 0 or -1. */
int cli_parse_u64(uint64_t *out, const char *s);
/* A byte size: decimal with an optional K, M, G or T suffix (powers of 1024, optionally followed
 * by "iB" or "B"). @return 0 or -1 (syntax or overflow). */
int cli_parse_size(uint64_t *out, const char *s);
/* --page-size: 4096, 16384 or 65536 (K suffixes accepted). @return 0 or CLI_USAGE (printed). */
int cli_page_size(uint32_t *out, const char *cmd, const char *s);
/* An --id: snap_id_valid. @return 0 or CLI_USAGE (printed). */
int cli_check_id(const char *cmd, const char *id);
/* An existing directory. @return 0 or CLI_FAIL (printed, names the directory and reason). */
int cli_check_dir(const char *cmd, const char *dir);

/* A whole input file, read into memory (data NULL for an empty file). Read, not mapped: a mapped
 * file that shrinks while it is used kills the process with SIGBUS; a copy cannot change. */
struct cli_input {
    const uint8_t *data;
    size_t len;
};
/* Read the regular file path (a FIFO is refused without blocking). what names the file's role
 * in messages ("memory image"). A file that changes size while it is read is refused.
 * @return 0 or CLI_FAIL (printed). */
int cli_input_read(struct cli_input *out, const char *cmd, const char *what, const char *path);
void cli_input_free(struct cli_input *m); /* NULL and freed accepted */

/* Create or truncate path and write src_len bytes (EINTR retried, short writes continued).
 * @return 0 or CLI_FAIL (printed). */
int cli_write_file(const char *cmd, const char *what, const char *path, const void *src,
                   size_t src_len);

/* An output file written in pieces. */
struct cli_out {
    int fd;
    uint64_t off;
    const char *path;
    const char *what;
};
int cli_out_open(struct cli_out *out, const char *cmd, const char *what, const char *path);
int cli_out_write(struct cli_out *o, const char *cmd, const void *src, size_t src_len);
int cli_out_close(struct cli_out *o, const char *cmd); /* closes even on error */

/* Subcommands: argv[0] is the subcommand name. Each returns an enum cli_exit. */
int cmd_save(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_describe(int argc, char **argv);
int cmd_gen(int argc, char **argv);

#endif
