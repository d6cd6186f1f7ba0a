/* The reports of a campaign: the text summary (scenario x fault kind table, each finding with
 * its oracle, trace, load outcome and reproducer, the VERDICT line), --json and --junit. */
#ifndef SNAPCHECK_REPORT_H
#define SNAPCHECK_REPORT_H

#include "campaign.h"

#include <stdio.h>

/* Text report on out. */
void report_text(FILE *out, const struct campaign *c, double seconds);

/* The reproducer command of case k into dst. */
void report_reproducer(char *dst, size_t dst_cap, const struct campaign *c,
                       const struct sc_case *k);

/* Write the JSON / JUnit report to path. @return 0 or -1 (message printed). */
int report_json(const char *path, const struct campaign *c, double seconds);
int report_junit(const char *path, const struct campaign *c, double seconds);

/* Counts over all cases. */
struct report_totals {
    unsigned cases, passed, ambiguous, findings, not_reached, left_behind;
};
void report_totals(struct report_totals *out, const struct campaign *c);

#endif
