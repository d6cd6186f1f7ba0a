/* Budgets (--max-cases, --time-budget): a deterministic stratified sample of the case list.
 * Method: the strata are (scenario, fault kind, call name). Cases are put in a priority order
 * that takes one case of every stratum per round, and inside a stratum spreads over its
 * ordinals (bit-reversed index order: first, middle, quarters, ...). Within a round,
 * scenarios take turns and each goes diagonally over (call, fault kind), so that even a budget
 * below the number of strata spreads over scenarios, calls and kinds. Any prefix of that order is a stratified sample, so --max-cases N keeps its
 * first N cases, and --time-budget runs cases in that order until the time is up. The cases
 * kept are reported in their usual order, and the verdict says "sampled X of Y cases". */
#ifndef SNAPCHECK_SAMPLE_H
#define SNAPCHECK_SAMPLE_H

#include "campaign.h"

/* Number of strata of cases[0..n). */
unsigned sample_strata(const struct sc_case *cases, unsigned n);

/* Write the priority order of cases[0..n) into order (n entries, a permutation). */
void sample_order(unsigned *order, const struct sc_case *cases, unsigned n);

/* Apply the budgets of c->opt to c->cases before the run: keep the first --max-cases of the
 * priority order (in list order); with --time-budget, put the cases in priority order and set
 * c->deadline. Sets c->n_enumerated to the number of cases before sampling.
 * @return the number of strata of the whole list. */
unsigned sample_apply(struct campaign *c, double now);

/* After the run: drop the cases a time budget left unrun and restore list order. */
void sample_finish(struct campaign *c);

#endif
