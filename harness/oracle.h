/* The oracles of snapcheck (docs/HARNESS.md): what a load after a faulted operation may return,
 * and the verdict of each. clean-run (the IUT's clean runs), then per case prior-pair,
 * committed, clean-load, clean-exit, recovery, leftovers; determinism overrides them all. */
#ifndef SNAPCHECK_ORACLE_H
#define SNAPCHECK_ORACLE_H

#include "campaign.h"

/* Which pair a load returned, judged byte for byte against the expected payloads. */
enum load_match {
    LOAD_NONE,  /* load failed (no pair) */
    LOAD_PRIOR, /* exactly the prior pair */
    LOAD_NEW,   /* exactly the new pair */
    LOAD_OTHER, /* exited 0 with bytes that are neither (or a mix) */
    LOAD_BROKEN /* load did not exit normally (signal, time-out, cannot run) */
};

struct load_outcome {
    struct impl_result r;
    enum load_match match;
    char text[320]; /* "exit 0: the new pair", "exit 1 (stderr: ...): no pair" */
};

/* Classify a loaded state blob and memory image held in memory. */
enum load_match oracle_classify_bytes(const uint8_t *state, size_t state_len, const uint8_t *mem,
                                      size_t mem_len, const struct payload *prior,
                                      const struct payload *expect_new, char *why, size_t why_cap);

/* Classify output files already written by a load. */
enum load_match oracle_classify(const char *state_out, const char *mem_out,
                                const struct payload *prior, const struct payload *expect_new,
                                char *why, size_t why_cap);

/* Verdict of a faulted save/merge (prior-pair, committed, then clean-exit: a step that died of
 * a signal other than the interposer's SIGKILL, or hung until the time-out, is a finding even
 * when the pairs are fine) from how it ended and what load returned. Fills res->verdict, oracle
 * and detail. had_prior: a committed pair existed before. */
void oracle_judge_save(struct case_result *res, const struct impl_result *step,
                       const struct load_outcome *load, bool had_prior, bool same_bytes);

/* Verdict of a faulted load (oracle 3): exit 0 with the exact pair, or non-zero with a message.
 * match is the classification of its outputs (only looked at when it exited 0). */
void oracle_judge_load(struct case_result *res, const struct impl_result *step,
                       enum load_match match);

/* Mark res as a finding of oracle with a printf-style detail (keeps an earlier finding). */
void oracle_finding(struct case_result *res, const char *oracle, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Mark res as a finding of oracle whatever it held before (a verdict that cannot be trusted). */
void oracle_override(struct case_result *res, const char *oracle, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Free the texts of res (NULL ones accepted) and set them to NULL. */
void case_result_finish(struct case_result *res);

#endif
