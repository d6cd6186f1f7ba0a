/* What the drivers share among themselves (not for scenarios or oracles): the exec driver's
 * operations, which a driver that does not exec the adapter reuses for the census and the
 * capabilities, and the census comparison. */
#ifndef SNAPCHECK_DRIVER_PRIV_H
#define SNAPCHECK_DRIVER_PRIV_H

#include "driver.h"

int driver_exec_capabilities(const struct campaign *c, char *dst, size_t dst_cap, char *err,
                             size_t err_cap);
void driver_exec_step(struct impl_result *out, const struct campaign *c,
                      const struct step_req *req, const struct step_faults *f,
                      const char *err_path);

#endif
