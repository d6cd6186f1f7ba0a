/* The parallel runner: executes the campaign's cases in forked worker processes (-j N), each
 * case in its own directory, results in shared memory, with a progress line on stderr. */
#ifndef SNAPCHECK_RUNNER_H
#define SNAPCHECK_RUNNER_H

#include "campaign.h"

/* Run every case of c (c->results must be allocated with runner_alloc_results).
 * @return 0, or -1 if workers could not be started (message printed). */
int runner_run(struct campaign *c);

/* SIGINT/SIGTERM stop the campaign: the workers are killed and the work directory removed
 * (call once, before any work). */
void runner_catch_signals(void);

/* Allocate c->results for c->n_cases in memory shared with forked workers. */
void runner_alloc_results(struct campaign *c);
void runner_free_results(struct campaign *c);

#endif
