/* The scenarios of snapcheck faults: the directory each starts from (prepared once by clean
 * saves), the faulted step, the census of its calls, and the execution of one case with the
 * load, base, recovery and leftovers checks. docs/HARNESS.md lists them. */
#ifndef SNAPCHECK_SCENARIO_H
#define SNAPCHECK_SCENARIO_H

#include "campaign.h"
#include "driver.h"

struct setup_save {
    const char *id;
    int payload;      /* enum payload_id */
    const char *base; /* diff base id, NULL for a full save */
};

struct scenario {
    const char *name;
    const char *summary;
    enum step_op op;
    struct setup_save setup[2];
    unsigned n_setup;
    const char *id;      /* the id the step works on */
    const char *base_id; /* OP_SAVE_DIFF: the base */
    int step_payload;    /* OP_SAVE_*: what is saved */
    int prior;           /* what id holds before the step, -1: nothing */
    int expect_new;      /* what id holds after a successful step */
    int base_payload;    /* the base pair that must stay intact, -1: none */
};

/* All scenarios in their fixed order. */
const struct scenario *scenario_table(unsigned *out_n);

/* Index of the scenario named name, or -1. */
int scenario_find(const char *name);

/* true when the IUT's capabilities allow the scenario. */
bool scenario_supported(const struct campaign *c, const struct scenario *s);

/* Prepare run (template directory by clean saves, census of the step under the interposer,
 * clean recovery baseline) in c->workdir.
 * @return 0; 1 when the IUT failed a clean run (a clean save exited non-zero or died, what it
 * saved loads back different, the clean recovery save failed): run->clean_run says why, the
 * scenario's only case is then its clean-run pseudo-case (census_add_clean_run); or -1 with a
 * plain message in err for a broken set-up (a directory cannot be made, the IUT cannot be run,
 * the interposer counted nothing, the driver's census check failed). */
int scenario_prepare(struct campaign *c, struct scenario_run *run, char *err, size_t err_cap);

/* Release what scenario_prepare and the census allocated in run. */
void scenario_run_finish(struct scenario_run *run);

/* Run one case in the fresh directory case_dir (must not exist; left behind for the caller to
 * remove) and judge it into res (cleared first; its texts are heap strings, never NULL
 * afterwards: release with case_result_finish). */
void scenario_run_case(const struct campaign *c, const struct sc_case *k, const char *case_dir,
                       struct case_result *res);

#endif
