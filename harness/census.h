/* The census and the enumeration of cases: parsing the interposer's trace (SNAPFAULT_TRACE,
 * one tab-separated line per counted call) and turning the counted calls of a scenario into
 * one case per (call ordinal x fault) of the tier, each with its stable id. */
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

/* Read the call names of a census trace into run->calls / run->n_calls.
 * @return 0, or -1 with a message in err (unreadable, malformed, more calls than fit). */
int census_read(struct scenario_run *run, const char *trace_path, char *err, size_t err_cap);

/* Append the cases of run at tier to *cases (heap array grown as needed). */
void census_enumerate(struct sc_case **cases, unsigned *n_cases, unsigned *cap,
                      const struct scenario_run *run, const char *scenario_name, enum tier tier);

/* The fault kind of an action spec ("errno=EIO" -> FK_ERRNO). */
enum fault_kind census_action_kind(const char *action);

/* Format the trace lines with ordinal <= upto as readable lines "7 fsync vm.g2.mem -> -1 EIO
 * [errno=EIO]", paths relative to dir, keeping the last lines when dst is full.
 * With fault_reached non-NULL: set to true when line upto carries an injected action. */
void trace_excerpt(char *dst, size_t dst_cap, const char *trace_path, const char *dir,
                   unsigned long upto, bool *fault_reached);

#endif
