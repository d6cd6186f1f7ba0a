/* The in-process mode (--in-process) for the reference: libsnapref is linked into snapcheck,
 * each faulted step runs in a forked child (no exec) through a counting, fault-injecting
 * struct snap_io that follows the interposer's contract (same counted calls, names, ordinals,
 * actions and trace lines: docs/FAULTS.md), and the judging loads and recovery saves run in
 * the worker itself, comparing the loaded image in memory. The census is taken both ways and
 * must agree call by call, so case ids and reproducers are those of the exec mode. */
#ifndef SNAPCHECK_INPROC_H
#define SNAPCHECK_INPROC_H

#include "campaign.h"
#include "oracle.h"

struct scenario;

/* Decode the payload states once. @return 0 or -1 with a message in err. */
int inproc_init(struct campaign *c, char *err, size_t err_cap);
void inproc_finish(struct campaign *c);

/* Run the scenario's step on dir in a forked child with the fault io: trace to trace_path
 * (NULL: none), fault_case "<ordinal>:<action>" (NULL: none), load outputs to so/mo, the
 * failure message to err_path. If the step opens a file that already exists in dir for
 * writing (an in-place write, which the reference never does), the file in_place_marker is
 * created (NULL: not watched), so the caller knows hard-linked files may have changed. */
void inproc_step(struct impl_result *out, const struct campaign *c, const struct scenario *s,
                 const char *dir, const char *trace_path, const char *fault_case, const char *so,
                 const char *mo, const char *err_path, const char *in_place_marker);

/* Clean load of id in dir, judged in memory (as oracle_load). */
void inproc_load(struct load_outcome *out, const struct campaign *c, const char *dir,
                 const char *id, const struct payload *prior, const struct payload *expect_new);

/* Clean full or diff save of payload p as id (base: NULL for full). @return 0, else -1 with the
 * reason in why. */
int inproc_save(const struct campaign *c, const char *dir, const char *id, int payload,
                const char *base, char *why, size_t why_cap);

#endif
