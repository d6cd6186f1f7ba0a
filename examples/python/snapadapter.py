#!/usr/bin/env python3
"""snapadapter: a correct snapcheck adapter in Python 3 (standard library only), docs/ADAPTER.md.

It keeps snapshots in a format of its own, not docs/FORMAT.md: per <id> a JSON manifest, the
commit record, naming a state file and a memory file of one generation with their SHA-256.
The state blob is opaque bytes. examples/README.md explains the format and the protocol.

Method (save): new generation-numbered data files created with O_EXCL, written fully (short
writes continued), fsynced and closed; the new manifest written the same way under a temporary
name; directory fsynced; the single commit point is the rename of the manifest over
<id>.manifest; directory fsynced again; only then are older generations removed. A crash or a
failed call at any point leaves either the old manifest or the new one, each naming files that
are complete and durable. Load verifies every digest and length and refuses anything else.

`serve` (docs/ADAPTER.md 9) keeps one interpreter running for a whole campaign and forks a child
per operation: the child applies the fault settings snapcheck sent (SNAPFAULT_*, then
snapfault_reconfigure() of the preloaded interposer, through ctypes), runs the operation exactly
as the command line would, and exits.
"""
import errno
import hashlib
import json
import os
import re
import sys

FORMAT = "snapadapter"
VERSION = 1
MAX_CHAIN = 8
ID_RE = re.compile(r"[A-Za-z0-9_-]{1,40}\Z")
GEN_RE = re.compile(r"\.g([1-9][0-9]{0,18})\.(mem|state|manifest\.tmp)\Z")
EXIT_FAIL, EXIT_USAGE = 1, 2
OPS = ("capabilities", "save", "load", "merge", "serve")
SERVE_PROTOCOL = 1
FAULT_VARS = ("SNAPFAULT_DIR", "SNAPFAULT_TRACE", "SNAPFAULT_CASE", "SNAPFAULT_CRASH_AT",
              "SNAPFAULT_TRACE_DATA")


class Refused(Exception):
    """The operation cannot be done: the message names the thing and the reason."""


# ---- file calls: every one goes through libc (os.*), so an LD_PRELOAD interposer sees it ----

def write_all(fd, data, path):
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except InterruptedError:
            continue
        if n <= 0:
            raise OSError(errno.EIO, "write made no progress", path)
        view = view[n:]


def read_all(path, max_len):
    """The whole file (a bytearray), or Refused; FileNotFoundError passes through.

    One read into a buffer of the size fstat gives (plus one byte, so a file that grew shows),
    not a list of chunks joined: half the copying of a 2 MiB image."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if size > max_len:
            raise Refused("%s: %d bytes, more than the %d expected" % (path, size, max_len))
        buf = bytearray(min(size, max_len) + 1)
        got = 0
        while True:
            if got == len(buf):
                if got > max_len:
                    raise Refused("%s: longer than the %d bytes expected" % (path, max_len))
                buf.extend(bytes(min(1 << 20, max_len + 1 - got)))  # it grew: read on
            with memoryview(buf) as view:
                try:
                    n = os.readv(fd, [view[got:]])
                except InterruptedError:
                    continue
            if n == 0:
                break
            got += n
        del buf[got:]
        return buf
    finally:
        os.close(fd)


# serve: the inputs of a save (files outside the snapshot directory, which snapcheck writes once
# per campaign) read by the server before it forks, keyed by what stat says of them.
INPUTS = {}


def input_key(path):
    st = os.stat(path)
    return (path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def read_input(path, max_len):
    key = input_key(path)
    data = INPUTS.get(key)
    return data if data is not None else read_all(path, max_len)


def create_file(path, data):
    """Create path (it must not exist), write data, fsync, close. A failed fsync is not retried."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        write_all(fd, data, path)
        os.fsync(fd)
    except BaseException:
        try:
            os.close(fd)
        except OSError:
            pass
        raise
    os.close(fd)


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---- names and the manifest ----

def name(ident, gen, kind):
    return "%s.g%d.%s" % (ident, gen, kind)


def digest(data):
    return hashlib.sha256(data).hexdigest()


def manifest_bytes(body):
    body = dict(body)
    body["check"] = digest(json.dumps(body, sort_keys=True).encode())
    return (json.dumps(body, sort_keys=True, indent=1) + "\n").encode()


def popcount(bitmap):
    return sum(bin(b).count("1") for b in bitmap)


def want(cond, what):
    if not cond:
        raise Refused(what)


def read_manifest(d, ident):
    """The committed manifest of ident, validated field by field, or Refused."""
    path = os.path.join(d, ident + ".manifest")
    try:
        raw = read_all(path, 1 << 24)
    except FileNotFoundError:
        raise Refused("no snapshot %s in %s (%s missing)" % (ident, d, path)) from None
    try:
        m = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise Refused("%s: not a valid manifest (%s)" % (path, e)) from None
    want(isinstance(m, dict), "%s: not a JSON object" % path)
    check = m.pop("check", None)
    want(check == digest(json.dumps(m, sort_keys=True).encode()),
         "%s: manifest checksum mismatch" % path)
    m["check"] = check
    want(m.get("format") == FORMAT and m.get("version") == VERSION,
         "%s: not a %s version %d manifest" % (path, FORMAT, VERSION))
    ints = ("generation", "page_size", "ram_size")
    want(all(type(m.get(k)) is int and m[k] > 0 for k in ints), "%s: bad sizes" % path)
    want(m.get("id") == ident and m.get("kind") in ("full", "diff"), "%s: bad id or kind" % path)
    want(m["ram_size"] % m["page_size"] == 0, "%s: RAM size not whole pages" % path)
    pages = m["ram_size"] // m["page_size"]
    for part, suffix in (("state", "state"), ("memory", "mem")):
        f = m.get(part)
        want(isinstance(f, dict) and f.get("file") == name(ident, m["generation"], suffix)
             and type(f.get("len")) is int and f["len"] >= 0
             and isinstance(f.get("sha256"), str), "%s: bad %s entry" % (path, part))
    if m["kind"] == "diff":
        base = m.get("base")
        want(isinstance(base, dict) and isinstance(base.get("id"), str)
             and ID_RE.match(base["id"]) and base["id"] != ident
             and type(base.get("generation")) is int and isinstance(base.get("check"), str),
             "%s: bad base entry" % path)
        try:
            bitmap = bytes.fromhex(m.get("dirty", ""))
        except (TypeError, ValueError):
            raise Refused("%s: bad dirty bitmap" % path) from None
        want(len(bitmap) == (pages + 7) // 8 and not (pages % 8 and bitmap[-1] >> (pages % 8)),
             "%s: dirty bitmap does not fit %d pages" % (path, pages))
        m["dirty_bitmap"] = bitmap
        stored = popcount(bitmap)
    else:
        stored = pages
    want(m["memory"]["len"] == stored * m["page_size"],
         "%s: memory length is not %d pages" % (path, stored))
    return m


def read_part(d, entry):
    path = os.path.join(d, entry["file"])
    try:
        data = read_all(path, entry["len"])
    except FileNotFoundError:
        raise Refused("%s: missing" % path) from None
    want(len(data) == entry["len"], "%s: %d bytes, expected %d" % (path, len(data), entry["len"]))
    want(digest(data) == entry["sha256"], "%s: SHA-256 mismatch" % path)
    return data


def load_pair(d, ident, depth=0):
    """(manifest, state bytes, full memory image) of ident, every digest checked, or Refused."""
    want(depth <= MAX_CHAIN, "%s: diff chain longer than %d" % (ident, MAX_CHAIN))
    m = read_manifest(d, ident)
    state = read_part(d, m["state"])
    stored = read_part(d, m["memory"])
    if m["kind"] == "full":
        return m, state, stored
    base = m["base"]
    bm, _, image = load_pair(d, base["id"], depth + 1)
    want(bm["generation"] == base["generation"] and bm["check"] == base["check"]
         and bm["page_size"] == m["page_size"] and bm["ram_size"] == m["ram_size"],
         "%s: base %s is not the pair this diff was saved on" % (ident, base["id"]))
    image = bytearray(image)
    ps, k = m["page_size"], 0
    for p in range(m["ram_size"] // ps):
        if m["dirty_bitmap"][p >> 3] >> (p & 7) & 1:
            image[p * ps:(p + 1) * ps] = stored[k * ps:(k + 1) * ps]
            k += 1
    return m, state, bytes(image)


# ---- save: the commit protocol ----

def generations(d, ident):
    """Every generation named by a file of ident in d, in ascending order."""
    found = set()
    for entry in os.listdir(d):
        if entry.startswith(ident + ".g"):
            match = GEN_RE.match(entry, len(ident))
            if match:
                found.add(int(match.group(1)))
    return sorted(found)


def committed_generation(d, ident):
    try:
        return read_manifest(d, ident)["generation"]
    except Refused:
        return 0


def save_pair(d, ident, state, stored, body):
    """Commit a new generation of ident; body holds the manifest fields but the files'."""
    gen = max([committed_generation(d, ident)] + generations(d, ident)) + 1
    want(gen < 1 << 62, "%s: generations exhausted" % ident)
    files = [(name(ident, gen, "mem"), stored), (name(ident, gen, "state"), state)]
    body = dict(body, format=FORMAT, version=VERSION, id=ident, generation=gen,
                memory={"file": files[0][0], "len": len(stored), "sha256": digest(stored)},
                state={"file": files[1][0], "len": len(state), "sha256": digest(state)})
    tmp = name(ident, gen, "manifest.tmp")
    files.append((tmp, manifest_bytes(body)))
    created = []
    try:
        for fname, data in files:
            path = os.path.join(d, fname)
            created.append(path)
            create_file(path, data)
        fsync_dir(d)
        os.rename(os.path.join(d, tmp), os.path.join(d, ident + ".manifest"))
    except OSError as e:
        if isinstance(e, FileExistsError):
            created.pop()  # not ours: never remove a file this save did not create
        for path in reversed(created):  # best effort: the next save removes what stays
            try:
                os.unlink(path)
            except OSError:
                pass
        raise
    # Committed. The new manifest's entry must be durable before save reports success; if this
    # fsync fails, the new pair may or may not survive a crash: fail, but keep its files.
    fsync_dir(d)
    try:
        for old in generations(d, ident):
            if old != gen:
                for suffix in ("mem", "state", "manifest.tmp"):
                    try:
                        os.unlink(os.path.join(d, name(ident, old, suffix)))
                    except FileNotFoundError:
                        pass
        fsync_dir(d)
    except OSError as e:
        print("snapadapter: save %s: committed; old files remain (%s)" % (ident, e),
              file=sys.stderr)


def cmd_save(o):
    d, ident, ps = o["dir"], o["id"], o["page-size"]
    want(ID_RE.match(ident), "invalid id %r" % ident)
    try:
        ps = int(ps)
    except ValueError:
        raise Refused("--page-size %r: not a number" % ps) from None
    state = read_input(o["state"], 1 << 30)
    memory = read_input(o["memory"], 1 << 34)
    want(ps > 0 and memory and len(memory) % ps == 0,
         "%s: %d bytes, not a whole number of %d-byte pages" % (o["memory"], len(memory), ps))
    pages = len(memory) // ps
    body = {"kind": o["kind"], "page_size": ps, "ram_size": len(memory)}
    if o["kind"] == "full":
        return save_pair(d, ident, state, memory, body)
    base = o["base"]
    want(ID_RE.match(base) and base != ident, "invalid diff base %r" % base)
    bitmap = read_input(o["dirty"], (pages + 7) // 8)
    want(len(bitmap) == (pages + 7) // 8 and not (pages % 8 and bitmap[-1] >> (pages % 8)),
         "%s: dirty bitmap must be %d bytes with no bit past page %d"
         % (o["dirty"], (pages + 7) // 8, pages - 1))
    bm, _, _ = load_pair(d, base, 1)  # the new diff adds one to the chain
    want(bm["page_size"] == ps and bm["ram_size"] == len(memory),
         "diff base %s: page size or RAM size differs" % base)
    stored = b"".join(memory[p * ps:(p + 1) * ps] for p in range(pages)
                      if bitmap[p >> 3] >> (p & 7) & 1)
    body.update(dirty=bitmap.hex(),
                base={"id": base, "generation": bm["generation"], "check": bm["check"]})
    return save_pair(d, ident, state, stored, body)


def write_output(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fd, data, path)
    finally:
        os.close(fd)


def cmd_load(o):
    _, state, image = load_pair(o["dir"], o["id"])
    write_output(o["state-out"], state)
    write_output(o["memory-out"], image)


def cmd_merge(o):
    m, state, image = load_pair(o["dir"], o["id"])
    if m["kind"] == "diff":
        save_pair(o["dir"], o["id"], state, image,
                  {"kind": "full", "page_size": m["page_size"], "ram_size": m["ram_size"]})


NEEDS = {
    "save": ("dir", "id", "kind", "state", "memory", "page-size"),
    "load": ("dir", "id", "state-out", "memory-out"),
    "merge": ("dir", "id"),
    "capabilities": (),
    "serve": (),
}
KNOWN = {"dir", "id", "kind", "base", "state", "memory", "dirty", "page-size", "state-out",
         "memory-out"}


def usage(msg):
    print("snapadapter: %s" % msg, file=sys.stderr)
    print("usage: snapadapter.py capabilities | save ... | load ... | merge ... | serve "
          "(docs/ADAPTER.md)", file=sys.stderr)
    return EXIT_USAGE


# ---- serve: the fork server of docs/ADAPTER.md section 9 ----

def serve_child(fields, reconfigure):
    """In the forked child: outputs, fault settings, the interposer reset, one operation."""
    rc = EXIT_FAIL
    try:
        for fd, path in ((1, fields[0]), (2, fields[1])):
            out = os.open(path if path != "-" else os.devnull,
                          os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(out, fd)
            os.close(out)
        split = fields.index("--")
        for var in FAULT_VARS:
            os.environ.pop(var, None)
        for setting in fields[2:split]:
            key, _, value = setting.partition("=")
            os.environ[key] = value
        if reconfigure is not None:
            reconfigure()
        elif any(k.startswith("SNAPFAULT_") for k in os.environ):
            print("snapadapter: serve: SNAPFAULT_* given but libsnapfault.so is not preloaded",
                  file=sys.stderr)
            rc = 99
            raise SystemExit
        rc = main(fields[split + 1:])
    except SystemExit:
        pass
    except BaseException as e:  # a bug of the adapter: say it, exit non-zero
        print("snapadapter: serve: %r" % (e,), file=sys.stderr)
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(rc)


def serve():
    """Read one operation per line on stdin; run each in a forked child; answer its end."""
    import ctypes  # here, not at the top: the one-shot operations do not pay for it
    import gc
    try:
        reconfigure = ctypes.CDLL(None).snapfault_reconfigure
    except AttributeError:
        reconfigure = None
    out = sys.stdout
    out.write("snapcheck-serve %d\n" % SERVE_PROTOCOL)
    out.flush()
    for line in sys.stdin:
        fields = line.rstrip("\n").split("\t")
        if len(fields) < 4 or "--" not in fields[2:]:
            print("snapadapter: serve: malformed request %r" % line[:80], file=sys.stderr)
            return EXIT_USAGE
        args = fields[fields.index("--") + 1:]
        for i in range(1, len(args) - 1, 2):
            if args[i] in ("--state", "--memory", "--dirty") and len(INPUTS) < 16:
                try:
                    key = input_key(args[i + 1])
                    if key not in INPUTS:
                        INPUTS[key] = read_all(args[i + 1], 1 << 34)
                except (OSError, Refused):
                    pass  # the child meets the same error and reports it
        gc.freeze()  # the child's collector then leaves the server's objects (and pages) alone
        pid = os.fork()
        if pid == 0:
            serve_child(fields, reconfigure)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            out.write("signal %d\n" % os.WTERMSIG(status))
        else:
            out.write("exit %d\n" % os.WEXITSTATUS(status))
        out.flush()
    return 0


def main(argv):
    if not argv:
        return usage("no operation")
    op, rest = argv[0], argv[1:]
    if op not in OPS:
        return usage("%s: unsupported operation" % op)
    if op == "serve":
        return serve()
    o = {}
    for i in range(0, len(rest), 2):
        key = rest[i][2:] if rest[i].startswith("--") else None
        if key not in KNOWN or i + 1 >= len(rest):
            return usage("%s: unknown option or missing value" % rest[i])
        o[key] = rest[i + 1]
    missing = [k for k in NEEDS[op] if k not in o]
    if op == "save" and o.get("kind") == "diff":
        missing += [k for k in ("base", "dirty") if k not in o]
    if missing:
        return usage("%s needs --%s" % (op, " --".join(missing)))
    if op == "save" and o["kind"] not in ("full", "diff"):
        return usage("--kind %s: must be full or diff" % o["kind"])
    try:
        if op == "capabilities":
            print("save-full save-diff load merge serve")
        else:
            {"save": cmd_save, "load": cmd_load, "merge": cmd_merge}[op](o)
    except Refused as e:
        print("snapadapter: %s %s: %s" % (op, o.get("id", ""), e), file=sys.stderr)
        return EXIT_FAIL
    except OSError as e:
        print("snapadapter: %s %s: %s" % (op, o.get("id", ""), e), file=sys.stderr)
        return EXIT_FAIL
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
