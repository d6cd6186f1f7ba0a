/* The exec driver (see driver.h): every operation is one run of the --impl executable with the
 * arguments of docs/ADAPTER.md (impl.c spawns it); a faulted step preloads the interposer with
 * SNAPFAULT_DIR, SNAPFAULT_TRACE and SNAPFAULT_CASE; a judging load writes its two outputs into
 * the work directory, which are then compared with the expected payloads. */
#include "driver-priv.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The argument vector of one operation (borrowed strings, plus the page size). */
struct argv_buf {
    const char *v[24];
    char page[16];
};

static const char *const *op_args(struct argv_buf *b, const struct campaign *c,
                                  const struct step_req *req)
{
    unsigned n = 0;
    switch (req->op) {
    case OP_SAVE_FULL:
    case OP_SAVE_DIFF: {
        bool diff = req->op == OP_SAVE_DIFF;
        const struct payload *p = &c->data.p[req->payload];
        snprintf(b->page, sizeof b->page, "%u", (unsigned)c->data.page_size);
        b->v[n++] = "save";
        b->v[n++] = "--dir";
        b->v[n++] = req->dir;
        b->v[n++] = "--id";
        b->v[n++] = req->id;
        b->v[n++] = "--kind";
        b->v[n++] = diff ? "diff" : "full";
        if (diff) {
            b->v[n++] = "--base";
            b->v[n++] = req->base_id;
        }
        b->v[n++] = "--state";
        b->v[n++] = p->state_path;
        b->v[n++] = "--memory";
        b->v[n++] = p->mem_path;
        if (diff) {
            b->v[n++] = "--dirty";
            b->v[n++] = p->dirty_path;
        }
        b->v[n++] = "--page-size";
        b->v[n++] = b->page;
        break;
    }
    case OP_MERGE:
        b->v[n++] = "merge";
        b->v[n++] = "--dir";
        b->v[n++] = req->dir;
        b->v[n++] = "--id";
        b->v[n++] = req->id;
        break;
    case OP_LOAD:
        b->v[n++] = "load";
        b->v[n++] = "--dir";
        b->v[n++] = req->dir;
        b->v[n++] = "--id";
        b->v[n++] = req->id;
        b->v[n++] = "--state-out";
        b->v[n++] = req->state_out;
        b->v[n++] = "--memory-out";
        b->v[n++] = req->memory_out;
        break;
    }
    b->v[n] = NULL;
    return b->v;
}

static int exec_init(struct campaign *c, char *err, size_t err_cap)
{
    (void)c;
    (void)err;
    (void)err_cap;
    return 0;
}

static void exec_finish(struct campaign *c)
{
    (void)c;
}

int driver_exec_capabilities(const struct campaign *c, char *dst, size_t dst_cap, char *err,
                             size_t err_cap)
{
    char *out = xasprintf("%s/capabilities.out", c->workdir);
    char *errp = xasprintf("%s/capabilities.err", c->workdir);
    const char *args[] = {"capabilities", NULL};
    struct impl_result r;
    impl_run(&r, &c->impl, args, NULL, out, errp);
    uint8_t *buf = NULL;
    size_t len;
    int rc = -1;
    if (r.end != IMPL_EXITED || r.code != 0)
        impl_result_text(err, err_cap, &r);
    else if (file_read(&buf, &len, out, 1 << 16) != 0)
        snprintf(err, err_cap, "cannot read its output %s", out);
    else if (len >= dst_cap)
        snprintf(err, err_cap, "its output is longer than %zu bytes", dst_cap - 1);
    else {
        memcpy(dst, buf, len + 1);
        rc = 0;
    }
    free(buf);
    free(out);
    free(errp);
    return rc;
}

void driver_exec_step(struct impl_result *out, const struct campaign *c,
                      const struct step_req *req, const struct step_faults *f,
                      const char *err_path)
{
    struct argv_buf b;
    struct impl_faults imf = {.interposer = c->interposer, .dir = req->dir};
    if (f) {
        imf.trace = f->trace;
        imf.fault_case = f->fault_case;
        imf.trace_data = f->trace_data;
    }
    impl_run(out, &c->impl, op_args(&b, c, req), f ? &imf : NULL, NULL, err_path);
}

static int exec_census(struct impl_result *out, const struct campaign *c,
                       const struct step_req *req, const char *trace_path, const char *err_path,
                       const struct dir_image *template, const char *work_dir, char *err,
                       size_t err_cap)
{
    (void)template;
    (void)work_dir;
    (void)err;
    (void)err_cap;
    struct step_faults f = {.trace = trace_path};
    driver_exec_step(out, c, req, &f, err_path);
    return 0;
}

static void exec_load(struct load_outcome *out, const struct campaign *c, const char *dir,
                      const char *id, const char *work_dir, const struct payload *prior,
                      const struct payload *expect_new, const char *err_path)
{
    char *so = xasprintf("%s/state.out", work_dir), *mo = xasprintf("%s/memory.out", work_dir);
    unlink(so);
    unlink(mo);
    struct step_req req = {
        .op = OP_LOAD, .dir = dir, .id = id, .state_out = so, .memory_out = mo};
    driver_exec_step(&out->r, c, &req, NULL, err_path);
    char rtext[240];
    impl_result_text(rtext, sizeof rtext, &out->r);
    if (out->r.end != IMPL_EXITED) {
        out->match = LOAD_BROKEN;
        snprintf(out->text, sizeof out->text, "load %s", rtext);
    } else if (out->r.code != 0) {
        out->match = LOAD_NONE;
        snprintf(out->text, sizeof out->text, "load %s: no pair", rtext);
    } else {
        char why[160];
        out->match = oracle_classify(so, mo, prior, expect_new, why, sizeof why);
        snprintf(out->text, sizeof out->text, "load exit 0: %s", why);
    }
    free(so);
    free(mo);
}

const struct driver_ops driver_exec = {
    .name = "exec",
    .in_place_watch = false,
    .init = exec_init,
    .finish = exec_finish,
    .capabilities = driver_exec_capabilities,
    .step = driver_exec_step,
    .census = exec_census,
    .load = exec_load,
};

const struct driver_ops *driver_select(const struct options *o)
{
    if (o->in_process)
        return &driver_inproc;
    return o->serve || o->lib ? &driver_serve : &driver_exec;
}
