/* The reports of a campaign: the text summary (scenario x fault kind table, each finding with
 * its oracle, trace, load outcome and reproducer, the VERDICT line), --json, --junit, --html. */
#ifndef SNAPCHECK_REPORT_H
#define SNAPCHECK_REPORT_H

#include "campaign.h"

#include <stdbool.h>
#include <stdio.h>

/* Text report on out. */
void report_text(FILE *out, const struct campaign *c, double seconds);

/* The reproducer command of case k: a shell command line, every argument quoted with
 * shell_quote (a new heap string). */
char *report_reproducer(const struct campaign *c, const struct sc_case *k);

/* A report file, opened before the first case so that an unwritable path is a usage error at
 * once and not after the whole campaign. Invariant: fd >= 0 between open and write/abandon. */
struct report_out {
    const char *path;
    const char *what; /* "JSON", "JUnit", ... for messages */
    int fd;
    bool created; /* the file did not exist before report_out_open */
};

/* Open path for writing (created if missing, not truncated yet). @return 0, or -1 with a
 * message on stderr naming the path and the reason. */
int report_out_open(struct report_out *out, const char *path, const char *what);

/* Close a report that will not be written; remove the file if report_out_open created it.
 * Accepts an unopened (fd < 0) report. */
void report_out_abandon(struct report_out *o);

/* Truncate the opened report and hand it over as a stream (the fd is the stream's now).
 * @return the stream, or NULL with a message printed (the report is closed). */
FILE *report_out_stream(struct report_out *o);

/* Close a stream from report_out_stream. @return 0, or -1 with a message printed when
 * anything failed to be written. */
int report_out_close(struct report_out *o, FILE *f);

/* Replace the report's contents and close it. @return 0 or -1 (message printed). */
int report_json(struct report_out *o, const struct campaign *c, double seconds);
int report_junit(struct report_out *o, const struct campaign *c, double seconds);

/* The self-contained HTML page (report_html.c): verdict, a fault matrix per scenario (call
 * ordinal x fault kind, coloured pass/ambiguous/finding/not run, each cell linking to its
 * cases with trace and reproducer), the findings. @return 0 or -1 (message printed). */
int report_html(struct report_out *o, const struct campaign *c, double seconds);

/* The frame every HTML page of snapcheck shares (faults, crash, conform): doctype, the one
 * style sheet (classes pass, ambiguous, finding, notrun, unchecked, na; table.matrix with
 * a.cell cells, a.wide for cells with text; table.reqs; div.cases shown on :target;
 * div.findings), and the verdict as the h1. No script, no external asset. */
void html_begin(FILE *f, const char *command, const char *verdict, bool bad);
void html_end(FILE *f);

/* A page of the frame above with a meta line and a list of findings (each shown as
 * preformatted text), for the commands without a matrix (fuzz). total: the findings counted,
 * of which the n given are shown. @return 0 or -1 (message printed). */
int report_html_findings(struct report_out *o, const char *command, const char *verdict,
                         bool bad, const char *meta, const char *const *findings, unsigned n,
                         unsigned total);

/* Counts over all cases. */
struct report_totals {
    unsigned cases, passed, ambiguous, findings, not_reached, left_behind;
};
void report_totals(struct report_totals *out, const struct campaign *c);

#endif
