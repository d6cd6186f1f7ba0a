/* Shared state of `snapcheck conform` (conform*.c): options, the IUT, the requirement table
 * with one result per requirement, the findings, and the helpers every part uses (run one
 * operation of the IUT, load and compare a pair). Only harness/conform*.c include it. */
#ifndef SNAPCHECK_CONFORM_PRIV_H
#define SNAPCHECK_CONFORM_PRIV_H

#include "data.h"
#include "impl.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum conform_format { FMT_AUTO, FMT_REFERENCE, FMT_OWN };

/* Which modes a requirement applies to. */
enum { MODE_REF = 1, MODE_OWN = 2, MODE_BOTH = 3 };

enum req_status { REQ_NOT_RUN, REQ_PASS, REQ_FAIL, REQ_NA };

/* One requirement: a rule of docs/FORMAT.md (F-...) or docs/ADAPTER.md (P-...). The id is
 * stable: reports and CI filters rely on it. */
struct req_def {
    const char *id;
    const char *spec;  /* "FORMAT.md 3.1", "ADAPTER.md 2" */
    const char *title; /* the rule in one line */
    unsigned modes;
};

/* What conform found for one requirement. Invariant: status is REQ_FAIL exactly when
 * failures > 0; evidence holds the first failures (or what passed), cut with "..." when long. */
struct req_result {
    enum req_status status;
    unsigned checks;   /* checks run */
    unsigned failures; /* checks failed */
    char evidence[600];
    char na_reason[200]; /* why not applicable / not run */
};

struct conform_opts {
    const char *impl_cmd;
    enum conform_format format;
    uint64_t seed;
    unsigned max_probes;
    uint32_t page_size; /* 0: 4096, 16384 and 65536 */
    const char *vectors_dir;
    const char *json_path, *junit_path, *html_path;
    const char *keep_dir;
    const char *tier; /* NULL: protocol campaign not run; "smoke" or "full" */
    const char *interposer;
    bool quiet;
};

struct conform {
    struct conform_opts opt;
    struct impl impl;
    bool cap_diff, cap_merge;
    enum conform_format format; /* decided: FMT_REFERENCE or FMT_OWN */
    bool format_detected;       /* decided from the IUT's pair rather than --format */
    char interposer[4096];      /* "" when none was found */
    char workdir[512];
    char vectors_buf[4096]; /* the golden vectors' directory when found beside the executable */
    unsigned seq;           /* numbering of scratch directories */
    struct dataset data;    /* at 4096-byte pages */
    struct req_result *res; /* one per conform_reqs() entry */
    char **findings;        /* "<id>: <what>", heap strings */
    unsigned n_findings, cap_findings;
};

/* The requirement table (conform_report.c). */
const struct req_def *conform_reqs(unsigned *n);

/* The HTML page of the report into o (opened with report_out_open before the run).
 * @return 0 or -1 (message printed). */
struct report_out;
int conform_report_html(const struct conform *c, struct report_out *o);

/* Record one check of requirement id: pass, or a failure described by what (also a finding).
 * An unknown id is a programmer error (assert). */
void conform_pass(struct conform *c, const char *id, const char *what);
void conform_fail(struct conform *c, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Mark a requirement not applicable (if nothing was checked) with the reason. */
void conform_na(struct conform *c, const char *id, const char *reason);

/* A fresh empty scratch directory under the work directory, its path in dst (cap 512). */
int conform_scratch(struct conform *c, char *dst, size_t cap, const char *tag);

/* What a load of the IUT gave, compared with the expected pair. */
enum load_outcome { LOAD_EXACT, LOAD_WRONG, LOAD_REFUSED, LOAD_ABNORMAL };
struct load_check {
    enum load_outcome outcome;
    char text[400]; /* "exit 0 with 3 wrong pages", "exit 1 (...)", "killed by signal 11" */
};

/* Run `IMPL load --dir dir --id id` (no faults) and compare its outputs with state/mem.
 * page_size: the page size used to count wrong pages. */
void conform_load(struct load_check *out, struct conform *c, const char *dir, const char *id,
                  const uint8_t *state, size_t state_len, const uint8_t *mem, size_t mem_len,
                  uint32_t page_size);

/* Run one operation of the IUT (no faults); stdout and stderr to files of the work directory.
 * @return the result; r->code 0 with IMPL_EXITED is success. */
void conform_run(struct impl_result *out, struct conform *c, const char *const *args);

/* Save through the IUT: full when base/dirty_path are NULL. @return 0 or -1 (message in err). */
int conform_save(struct conform *c, const char *dir, const char *id, const struct payload *p,
                 uint32_t page_size, const char *base, const char *dirty_path, char *err,
                 size_t err_cap);

/* The regular files of one directory, sorted by name (conform_fset.c). */
struct fset {
    unsigned n;
    char **name;
    uint8_t **data;
    size_t *len;
};
/* Read every regular file of dir. @return 0, or -1 (unreadable; out left empty). */
int fset_read(struct fset *out, const char *dir);
/* Write every file of s into the existing directory dir. @return 0 or -1. */
int fset_write(const struct fset *s, const char *dir);
void fset_finish(struct fset *s); /* leaves s empty */
/* name with the id at its start and every run of digits abstracted ("vm.g2.mem" and
 * "other.g1.mem" both give ".g#.mem"), to match a file with its counterpart. */
void name_key(char *dst, size_t cap, const char *name, const char *id);

/* Parts of the run (each records its requirements). */
int conform_vectors(struct conform *c); /* decoder conformance; -1: set-up error */
int conform_interop(struct conform *c); /* interoperability; -1: set-up error */
int conform_probe(struct conform *c);   /* corruption probing; -1: set-up error */

/* Reports (conform_report.c). @return 0 or -1 (message on stderr). */
void conform_report_text(const struct conform *c);
int conform_report_json(const struct conform *c, const char *path);
int conform_report_junit(const struct conform *c, const char *path);
/* true when no requirement failed. */
bool conform_ok(const struct conform *c);

#endif
