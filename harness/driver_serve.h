/* The fork-server driver (--serve, and --lib through snapcheck-lib-runner): the adapter starts
 * once per snapcheck process as `IMPL serve`, reads one operation per line and runs each in a
 * forked child of its own, with the fault settings snapcheck sent (docs/ADAPTER.md section 9).
 * Same results as exec'ing `IMPL <op>` per operation, without an exec and an interpreter start
 * per operation. */
#ifndef SNAPCHECK_DRIVER_SERVE_H
#define SNAPCHECK_DRIVER_SERVE_H

#include "impl.h"

/* The version of the line protocol; the server's first line is "snapcheck-serve 1". */
#define SERVE_PROTOCOL 1

/* Run one operation as impl_exec does, through this process's server (started on first use,
 * and again after it died or was killed at a time-out; a forked worker starts its own).
 * impl_run calls it when im->serve is set. The driver (driver_serve in driver.h) adds the
 * census cross-check: the census by the server and by exec must count the same calls. */
void serve_run(struct impl_result *out, const struct impl *im, const char *const *op_args,
               const struct impl_faults *f, const char *stdout_path, const char *stderr_path);

/* End this process's server, if it started one (closing its input ends it; its group is then
 * killed). */
void serve_stop(void);

#endif
