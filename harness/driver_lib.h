/* The C-library driver (--lib): an adapter library exporting the C ABI of
 * <snapcheck/adapter.h> is loaded by snapcheck-lib-runner (lib_runner.c), which speaks the
 * fork-server protocol of driver_serve.h; snapcheck itself never loads it. This module turns
 * --lib into the runner's command line. */
#ifndef SNAPCHECK_DRIVER_LIB_H
#define SNAPCHECK_DRIVER_LIB_H

#include <stddef.h>

/* The command line that serves the library of --lib 'PATH [ARG...]':
 * "<runner> PATH [ARG...] --" (heap, free()). The runner is $SNAPCHECK_LIB_RUNNER, else
 * snapcheck-lib-runner beside the snapcheck executable (installed, or in the build), else the
 * one of the build tree.
 * @return 0, or -1 with a message in err (library or runner missing). */
int lib_command(char **out, const char *lib_opt, char *err, size_t err_cap);

#endif
