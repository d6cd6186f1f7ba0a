/* snapcheck crash: the power-loss crash-state explorer (docs/CRASH.md). Each scenario's step is
 * recorded once with the data trace (and once more per fsync, that fsync failing), the states a
 * power cut could leave are rebuilt under the persistence models of faults/persist.h, and every
 * distinct state is judged with clean runs of the IUT through the campaign's driver. */
#ifndef SNAPCHECK_CRASH_H
#define SNAPCHECK_CRASH_H

#include "campaign.h"

#include <stdio.h>

/* A crash option of the command line (--model, --export-corpus, --budget; --ram-mib, which
 * snapcheck faults takes too) with value v.
 * @return 1 when it was one (consumed), 0 when not, -1 on a bad value (message printed). */
int crash_option(struct options *o, const char *a, const char *v);

void crash_usage(FILE *f);

/* Run the exploration on the prepared scenarios of c (scenario_prepare done), print the report
 * and write --json/--junit/--html into json/junit/html (opened by the caller when asked for).
 * t0: the campaign's start (monotonic seconds).
 * @return EXIT_HELD, EXIT_FINDINGS (findings or an unchecked scenario) or EXIT_SETUP. */
struct report_out;
int crash_run(struct campaign *c, double t0, struct report_out *json, struct report_out *junit,
              struct report_out *html);

/* The trace-completeness audit (docs/CRASH.md): replay the data trace recorded while the step
 * ran in dir (started from a copy of template_dir) and compare with what dir holds now.
 * @return 0 when they agree, 1 when they differ (the names in diff), -1 when the trace cannot
 * be replayed (the reason in diff). */
int crash_audit(const char *trace, const char *trace_data, const char *dir,
                const char *template_dir, char *diff, size_t diff_cap);

#endif
