// A C++ adapter library built against <snapcheck/adapter.h>: proof that the header compiles as
// C++ (extern "C", the layout checks, the export attribute: this library is built with hidden
// visibility and marks nothing itself) and that snapcheck-lib-runner loads what it exports.
// It lists save-full and load and refuses every request with a message.
#include <snapcheck/adapter.h>

#include <cstdio>
#include <string>

namespace {
int refuse(const char *op, const char *id, char *msg, size_t msg_cap)
{
    std::string m = std::string("cxx adapter: ") + op + " " + (id ? id : "") + " refused";
    std::snprintf(msg, msg_cap, "%s", m.c_str());
    return SNAPCHECK_ADAPTER_FAILED;
}
} // namespace

uint32_t snapcheck_adapter_abi(void) { return SNAPCHECK_ADAPTER_ABI_VERSION; }

int snapcheck_adapter_capabilities(uint32_t *out_caps, char *, size_t)
{
    *out_caps = SNAPCHECK_CAP_SAVE_FULL | SNAPCHECK_CAP_LOAD;
    return SNAPCHECK_ADAPTER_OK;
}

int snapcheck_adapter_save(const struct snapcheck_save_req *req, char *msg, size_t msg_cap)
{
    return refuse("save", req->id, msg, msg_cap);
}

int snapcheck_adapter_load(const struct snapcheck_load_req *req, char *msg, size_t msg_cap)
{
    return refuse("load", req->id, msg, msg_cap);
}
