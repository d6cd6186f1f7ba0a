/* The C-library driver (see driver_lib.h). */
#include "driver_lib.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SNAPCHECK_LIB_RUNNER_PATH
#define SNAPCHECK_LIB_RUNNER_PATH ""
#endif

static int locate_runner(char *dst, size_t dst_cap, char *err, size_t err_cap)
{
    const char *env = getenv("SNAPCHECK_LIB_RUNNER");
    if (env && *env) {
        if (access(env, X_OK) != 0) {
            snprintf(err, err_cap, "SNAPCHECK_LIB_RUNNER=%s: not an executable file (%s)", env,
                     strerror(errno));
            return -1;
        }
        snprintf(dst, dst_cap, "%s", env);
        return 0;
    }
    if (path_beside_self(dst, dst_cap, "snapcheck-lib-runner", X_OK) == 0)
        return 0;
    if (SNAPCHECK_LIB_RUNNER_PATH[0] && access(SNAPCHECK_LIB_RUNNER_PATH, X_OK) == 0) {
        snprintf(dst, dst_cap, "%s", SNAPCHECK_LIB_RUNNER_PATH);
        return 0;
    }
    snprintf(err, err_cap,
             "--lib needs snapcheck-lib-runner, found neither beside the snapcheck "
             "executable nor in the build (or set SNAPCHECK_LIB_RUNNER)");
    return -1;
}

int lib_command(char **out, const char *lib_opt, char *err, size_t err_cap)
{
    *out = NULL;
    char path[PATH_MAX];
    size_t skip = strspn(lib_opt, " \t\n");
    size_t len = strcspn(lib_opt + skip, " \t\n");
    if (len == 0 || len >= sizeof path) {
        snprintf(err, err_cap, "--lib '%s': give the path of the adapter library", lib_opt);
        return -1;
    }
    memcpy(path, lib_opt + skip, len);
    path[len] = 0;
    if (access(path, R_OK) != 0) {
        snprintf(err, err_cap, "--lib: the adapter library %s cannot be read (%s)", path,
                 strerror(errno));
        return -1;
    }
    char runner[PATH_MAX];
    if (locate_runner(runner, sizeof runner, err, err_cap) != 0)
        return -1;
    /* dlopen searches the library path for a name without a '/': make it a path. */
    *out = strchr(path, '/') ? xasprintf("%s %s --", runner, lib_opt)
                             : xasprintf("%s ./%s --", runner, lib_opt + skip);
    return 0;
}
