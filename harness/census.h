/* The census and the enumeration of cases: parsing the interposer's trace (SNAPFAULT_TRACE,
 * one tab-separated line per counted call), turning the counted calls of a scenario into one
 * case per (call ordinal x fault) of the tier, each with its stable id, and comparing the trace
 * of a faulted run with the census.
 * Run reduction: a run is a sequence of consecutive counted calls of the same call on the same
 * file. The smoke and full tiers fault the first, second, middle, second-to-last and last call
 * of each run and collapse the others (docs/HARNESS.md argues why); the all tier faults every
 * call. */
#ifndef SNAPCHECK_CENSUS_H
#define SNAPCHECK_CENSUS_H

#include "campaign.h"

#include <stddef.h>

/* One parsed trace line. Fields point into the caller's line buffer. */
struct trace_line {
    unsigned long ordinal;
    const char *call, *path, *path2, *fd, *offset, *length, *result, *err, *injected;
};

/* Split one trace line (modified in place: tabs become NULs). @return 0 or -1 if malformed. */
int trace_parse_line(struct trace_line *out, char *line);

/* A whole trace file in memory, its lines sorted by ordinal (lines of concurrent threads may
 * be written out of order: docs/FAULTS.md section 3). Lines of equal ordinal keep file order. */
struct trace {
    char *text;
    struct trace_line *lines;
    size_t n;
};

/* @return 0; -1 with errno when the file cannot be read; -2 when a line is malformed (its
 * 1-based number in file order in *bad_line). Release with trace_finish in every case. */
int trace_load(struct trace *out, const char *path, size_t *bad_line);
void trace_finish(struct trace *t); /* NULL accepted */

/* Read a census trace into run->n_calls, calls, paths (paths made relative to dir). Ordinals
 * must be 1..n without gap or repeat once sorted.
 * @return 0, or -1 with a message in err (unreadable, malformed, a gap). */
int census_read(struct scenario_run *run, const char *trace_path, const char *dir, char *err,
                size_t err_cap);

/* Release what census_read and census_enumerate allocated in run (names, paths, ids). */
void census_free(struct scenario_run *run);

/* Compare the lines of t with ordinal <= upto (paths relative to dir) with the census of run.
 * @return 0 when every such line names the census's call on the census's path, else the first
 * ordinal that differs, described in why ("call 7: pwrite64 a.tmp where the census has ..."). */
unsigned long census_diverges(const struct scenario_run *run, const struct trace *t,
                              const char *dir, unsigned long upto, struct strbuf *why);

/* Append the cases of run at tier to *cases (heap array grown as needed); ids are allocated in
 * run->text. Sets run->collapsed: the calls the tier leaves out by run reduction. */
void census_enumerate(struct sc_case **cases, unsigned *n_cases, unsigned *cap,
                      struct scenario_run *run, const char *scenario_name, enum tier tier);

/* Append the pseudo-case "<scenario>/clean-run" of a scenario whose clean run failed. */
void census_add_clean_run(struct sc_case **cases, unsigned *n_cases, unsigned *cap,
                          struct scenario_run *run, const char *scenario_name);

/* The fault kind of an action spec ("errno=EIO" -> FK_ERRNO). */
enum fault_kind census_action_kind(const char *action);

/* Append the lines of t with ordinal <= upto to dst as readable lines "7 fsync vm.g2.mem = -1
 * EIO [injected errno=EIO]", paths relative to dir: the last 24, after "(N earlier calls)"
 * when there were more. With fault_reached non-NULL: set to true when line upto carries an
 * injected action. */
void trace_excerpt(struct strbuf *dst, const struct trace *t, const char *dir,
                   unsigned long upto, bool *fault_reached);

#endif
