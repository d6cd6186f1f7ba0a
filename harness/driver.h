/* The driver seam: one interface that runs one operation of an implementation under test (IUT)
 * and judges a load, whatever runs the IUT. Scenarios (scenario.c) and oracles (oracle.c) only
 * call through struct driver_ops; they never know which driver is in use.
 *
 * Method: as libsnapref's struct snap_io hides the file calls from the commit protocol (and
 * SQLite's VFS hides the OS from the pager), a driver hides how a step is run:
 *   - step:   one operation (save full/diff, merge, load) on a directory, clean or with a
 *             fault case and a trace, reporting how it ended (struct impl_result: exit code,
 *             simulated crash = SIGKILL, other signal, time-out, could not run);
 *   - census: the clean step under the interposer with a trace, the reference list of counted
 *             calls that case ids number (a driver that does not run the exec'd adapter takes
 *             it with exec and then checks its own calls are the very same);
 *   - load:   a clean judging load of one id, classified against the expected payloads;
 *   - capabilities: the adapter's capability words.
 * Drivers: exec (driver_exec.c: any executable of docs/ADAPTER.md, the interposer preloaded
 * for a faulted step) and in-process (driver_inproc.c: libsnapref linked in, each faulted step
 * in a forked child with a counting snap_io). A C-library driver (dlopen) or a fork server
 * plug in by filling the same table; nothing above this header changes. */
#ifndef SNAPCHECK_DRIVER_H
#define SNAPCHECK_DRIVER_H

#include "campaign.h"
#include "oracle.h"

#include <stdbool.h>
#include <stddef.h>

/* One operation of the adapter contract. */
enum step_op { OP_SAVE_FULL, OP_SAVE_DIFF, OP_MERGE, OP_LOAD };

/* What to run. Strings are borrowed for the duration of the call. */
struct step_req {
    enum step_op op;
    const char *dir;        /* the snapshot directory (absolute) */
    const char *id;         /* the pair saved, merged or loaded */
    const char *base_id;    /* OP_SAVE_DIFF: the base pair */
    int payload;            /* OP_SAVE_*: enum payload_id of what is saved */
    const char *state_out;  /* OP_LOAD: where the state blob goes */
    const char *memory_out; /* OP_LOAD: where the memory image goes */
};

/* The faults of a step; a NULL struct step_faults means a clean run without the interposer. */
struct step_faults {
    const char *trace;      /* SNAPFAULT_TRACE: one line per counted call (NULL: none) */
    const char *fault_case; /* SNAPFAULT_CASE "<ordinal>:<action>" (NULL: count only) */
    /* Drivers with in_place_watch: created when the step opens an existing file of dir for
     * writing (NULL: not watched). Tells the caller at once that hard-linked files of the case
     * directory may have been written (it also checks their mtimes: dir_image_pristine). */
    const char *in_place_marker;
    /* SNAPFAULT_TRACE_DATA: the written bytes too (docs/FAULTS.md 5), for snapcheck crash. A
     * driver that cannot record them runs the step through the interposer (NULL: none). */
    const char *trace_data;
};

struct driver_ops {
    const char *name; /* "exec", "in-process" */
    /* true when the driver honours step_faults.in_place_marker (case directories are hard
     * links to a per-worker copy of the template with every driver: scenario.c). */
    bool in_place_watch;

    /* Once per campaign, after the inputs exist and before any other call.
     * @return 0, or -1 with a message in err (a set-up error). */
    int (*init)(struct campaign *c, char *err, size_t err_cap);
    /* Release what init took (called even when init failed, or never ran). */
    void (*finish)(struct campaign *c);

    /* The adapter's capability words ("save-full save-diff load merge") into dst.
     * @return 0, or -1 with how the query ended in err. */
    int (*capabilities)(const struct campaign *c, char *dst, size_t dst_cap, char *err,
                        size_t err_cap);

    /* Run req once; f NULL: clean, else under the fault model with f's trace and case.
     * The IUT's stderr goes to err_path (NULL: discarded); its first line is in out->stderr1.
     * Blocks until the step ended (time-out included). */
    void (*step)(struct impl_result *out, const struct campaign *c, const struct step_req *req,
                 const struct step_faults *f, const char *err_path);

    /* The census of req: the clean step under the interposer, trace to trace_path, how it
     * ended in out. Then, when it exited 0, the driver checks that its own way of running the
     * step makes exactly the calls that trace lists (work_dir: an empty directory it may use;
     * template: the bytes req->dir started from). @return 0, or -1 with a message in err (the
     * calls differ: a set-up error; how the step ended is in out either way). */
    int (*census)(struct impl_result *out, const struct campaign *c, const struct step_req *req,
                  const char *trace_path, const char *err_path, const struct dir_image *template,
                  const char *work_dir, char *err, size_t err_cap);

    /* A clean judging load of id in dir, classified against prior (NULL: none) and expect_new
     * (oracle_classify_bytes). work_dir: a directory for the outputs; err_path: the IUT's
     * stderr. */
    void (*load)(struct load_outcome *out, const struct campaign *c, const char *dir,
                 const char *id, const char *work_dir, const struct payload *prior,
                 const struct payload *expect_new, const char *err_path);
};

extern const struct driver_ops driver_exec;
extern const struct driver_ops driver_inproc;
extern const struct driver_ops driver_serve; /* --serve, --lib: driver_serve.h */

/* The driver the options ask for. */
const struct driver_ops *driver_select(const struct options *o);

#endif
