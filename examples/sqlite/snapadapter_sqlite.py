#!/usr/bin/env python3
"""snapadapter_sqlite: a snapcheck adapter (docs/ADAPTER.md) that keeps every snapshot of a
directory in one SQLite database, through Python's sqlite3 module (standard library only).

Storage: <dir>/snapshots.db, one row per id in the table `pair`: kind, generation, page and RAM
size, the state blob, the stored memory (the full image, or for a diff only its dirty pages in
page order), the dirty bitmap, the base id and the base generation and check it was saved on,
and a SHA-256 of every blob (SQLite keeps no checksums of its own, and load must refuse damaged
bytes rather than return them).

Durability: `PRAGMA synchronous=EXTRA` is set before `PRAGMA journal_mode=WAL`. In WAL mode
FULL and EXTRA are the same: every commit fsyncs the WAL before it returns, and SQLite fsyncs
the directory after creating the WAL. EXTRA matters for the one transaction SQLite runs in the
default DELETE mode, the switch of a new database to WAL: with FULL the rollback journal is
unlinked without a directory fsync, so power loss can bring the journal back and roll the
switch back (sqlite.org/pragma.html#pragma_synchronous); EXTRA syncs the directory after the
unlink. Each save and each merge is one `BEGIN IMMEDIATE ... COMMIT` transaction; the
connection is closed before the operation exits, which checkpoints the WAL into the database
and removes the -wal and -shm files (a crash leaves them; the next open recovers from them).

`volatile=*-shm` (docs/ADAPTER.md 1): SQLite writes the WAL index, snapshots.db-shm, through a
shared mapping that no interposer sees, and never relies on it after a crash: the first
connection to open the database rebuilds it from the WAL. snapcheck then ignores its bytes in
its audit, and every power-cut state gives it garbage.

`serve` (docs/ADAPTER.md 9) is the fork server of examples/python/snapadapter.py: one
interpreter per campaign, a forked child per operation; no connection is opened in the server.
"""
import errno
import hashlib
import os
import re
import sqlite3
import sys

DB_NAME = "snapshots.db"
MAX_CHAIN = 8
ID_RE = re.compile(r"[A-Za-z0-9_-]{1,40}\Z")
EXIT_FAIL, EXIT_USAGE = 1, 2
OPS = ("capabilities", "save", "load", "merge", "serve")
SERVE_PROTOCOL = 1
FAULT_VARS = ("SNAPFAULT_DIR", "SNAPFAULT_TRACE", "SNAPFAULT_CASE", "SNAPFAULT_CRASH_AT",
              "SNAPFAULT_TRACE_DATA")
SCHEMA = ("CREATE TABLE IF NOT EXISTS pair (id TEXT PRIMARY KEY, kind TEXT NOT NULL, "
          "generation INTEGER NOT NULL, page_size INTEGER NOT NULL, ram_size INTEGER NOT NULL, "
          "state BLOB NOT NULL, state_sha TEXT NOT NULL, memory BLOB NOT NULL, "
          "memory_sha TEXT NOT NULL, dirty BLOB, base_id TEXT, base_generation INTEGER, "
          "base_check TEXT)")


class Refused(Exception):
    """The operation cannot be done: the message names the thing and the reason."""


# ---- input and output files (outside the snapshot directory) ----

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


# ---- the database ----

def digest(data):
    return hashlib.sha256(data).hexdigest()


def want(cond, what):
    if not cond:
        raise Refused(what)


def popcount(bitmap):
    return sum(bin(b).count("1") for b in bitmap)


def open_db(d, create):
    """A connection to <d>/snapshots.db in autocommit mode, WAL, synchronous=EXTRA."""
    path = os.path.join(d, DB_NAME)
    want(os.path.isdir(d), "%s: not a directory" % d)
    if not create and not os.path.exists(path):
        raise Refused("%s: no snapshot database" % path)
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA synchronous=EXTRA")
        mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        want(mode == "wal", "%s: journal_mode is %s, not wal" % (path, mode))
        con.execute("PRAGMA synchronous=EXTRA")
        if create:
            con.execute(SCHEMA)
    except BaseException:
        con.close()
        raise
    return con


def pair_check(row):
    """What binds a diff to its base: the base's generation and blob digests."""
    return digest(("%s/%d/%s/%s" % (row["id"], row["generation"], row["state_sha"],
                                     row["memory_sha"])).encode())


COLS = ("id", "kind", "generation", "page_size", "ram_size", "state", "state_sha", "memory",
        "memory_sha", "dirty", "base_id", "base_generation", "base_check")


def read_row(con, ident):
    try:
        r = con.execute("SELECT %s FROM pair WHERE id = ?" % ", ".join(COLS),
                        (ident,)).fetchone()
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            r = None
        else:
            raise
    if r is None:
        raise Refused("no snapshot %s in the database" % ident)
    return dict(zip(COLS, r))


def load_pair(con, ident, depth=0):
    """(row, state bytes, full memory image) of ident, every digest checked, or Refused."""
    want(depth <= MAX_CHAIN, "%s: diff chain longer than %d" % (ident, MAX_CHAIN))
    m = read_row(con, ident)
    want(m["kind"] in ("full", "diff") and type(m["page_size"]) is int and m["page_size"] > 0
         and type(m["ram_size"]) is int and m["ram_size"] > 0
         and m["ram_size"] % m["page_size"] == 0, "%s: bad kind or sizes" % ident)
    want(isinstance(m["state"], bytes) and digest(m["state"]) == m["state_sha"],
         "%s: state SHA-256 mismatch" % ident)
    want(isinstance(m["memory"], bytes) and digest(m["memory"]) == m["memory_sha"],
         "%s: memory SHA-256 mismatch" % ident)
    ps, pages = m["page_size"], m["ram_size"] // m["page_size"]
    if m["kind"] == "full":
        want(len(m["memory"]) == m["ram_size"], "%s: memory length is not %d" % (ident, m["ram_size"]))
        return m, m["state"], m["memory"]
    bitmap = m["dirty"]
    want(isinstance(bitmap, bytes) and len(bitmap) == (pages + 7) // 8
         and not (pages % 8 and bitmap[-1] >> (pages % 8)),
         "%s: dirty bitmap does not fit %d pages" % (ident, pages))
    want(len(m["memory"]) == popcount(bitmap) * ps,
         "%s: memory length is not %d pages" % (ident, popcount(bitmap)))
    want(isinstance(m["base_id"], str) and m["base_id"] != ident, "%s: bad base" % ident)
    bm, _, image = load_pair(con, m["base_id"], depth + 1)
    want(bm["generation"] == m["base_generation"] and pair_check(bm) == m["base_check"]
         and bm["page_size"] == ps and bm["ram_size"] == m["ram_size"],
         "%s: base %s is not the pair this diff was saved on" % (ident, m["base_id"]))
    image = bytearray(image)
    k = 0
    for p in range(pages):
        if bitmap[p >> 3] >> (p & 7) & 1:
            image[p * ps:(p + 1) * ps] = m["memory"][k * ps:(k + 1) * ps]
            k += 1
    return m, m["state"], bytes(image)


def store(con, ident, row):
    """Insert or replace ident's row with the next generation, inside the open transaction."""
    r = con.execute("SELECT generation FROM pair WHERE id = ?", (ident,)).fetchone()
    row = dict(row, id=ident, generation=(r[0] if r else 0) + 1,
               state_sha=digest(row["state"]), memory_sha=digest(row["memory"]))
    for k in COLS:
        row.setdefault(k, None)
    con.execute("INSERT OR REPLACE INTO pair (%s) VALUES (%s)"
                % (", ".join(COLS), ", ".join("?" * len(COLS))), [row[k] for k in COLS])


def transaction(d, work):
    """Run work(con) in one BEGIN IMMEDIATE ... COMMIT; close the connection in every case."""
    con = open_db(d, True)
    try:
        con.execute("BEGIN IMMEDIATE")
        try:
            work(con)
        except BaseException:
            try:
                con.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise
        con.execute("COMMIT")
    finally:
        con.close()


def cmd_save(o):
    d, ident, ps = o["dir"], o["id"], o["page-size"]
    want(ID_RE.match(ident), "invalid id %r" % ident)
    try:
        ps = int(ps)
    except ValueError:
        raise Refused("--page-size %r: not a number" % ps) from None
    state = bytes(read_input(o["state"], 1 << 30))
    memory = bytes(read_input(o["memory"], 1 << 34))
    want(ps > 0 and memory and len(memory) % ps == 0,
         "%s: %d bytes, not a whole number of %d-byte pages" % (o["memory"], len(memory), ps))
    pages = len(memory) // ps
    row = {"kind": o["kind"], "page_size": ps, "ram_size": len(memory), "state": state}
    if o["kind"] == "full":
        row["memory"] = memory
        return transaction(d, lambda con: store(con, ident, row))
    base = o["base"]
    want(ID_RE.match(base) and base != ident, "invalid diff base %r" % base)
    bitmap = bytes(read_input(o["dirty"], (pages + 7) // 8))
    want(len(bitmap) == (pages + 7) // 8 and not (pages % 8 and bitmap[-1] >> (pages % 8)),
         "%s: dirty bitmap must be %d bytes with no bit past page %d"
         % (o["dirty"], (pages + 7) // 8, pages - 1))

    def work(con):
        bm, _, _ = load_pair(con, base, 1)  # the new diff adds one to the chain
        want(bm["page_size"] == ps and bm["ram_size"] == len(memory),
             "diff base %s: page size or RAM size differs" % base)
        row.update(memory=b"".join(memory[p * ps:(p + 1) * ps] for p in range(pages)
                                   if bitmap[p >> 3] >> (p & 7) & 1),
                   dirty=bitmap, base_id=base, base_generation=bm["generation"],
                   base_check=pair_check(bm))
        store(con, ident, row)
    return transaction(d, work)


def write_output(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fd, data, path)
    finally:
        os.close(fd)


def cmd_load(o):
    con = open_db(o["dir"], False)
    try:
        _, state, image = load_pair(con, o["id"])
    finally:
        con.close()
    write_output(o["state-out"], state)
    write_output(o["memory-out"], image)


def cmd_merge(o):
    ident = o["id"]

    def work(con):
        m, state, image = load_pair(con, ident)
        if m["kind"] == "diff":
            store(con, ident, {"kind": "full", "page_size": m["page_size"],
                               "ram_size": m["ram_size"], "state": state, "memory": image})
    transaction(o["dir"], work)


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
    print("snapadapter_sqlite: %s" % msg, file=sys.stderr)
    print("usage: snapadapter_sqlite.py capabilities | save ... | load ... | merge ... | serve "
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
            print("snapadapter_sqlite: serve: SNAPFAULT_* given but libsnapfault.so is not preloaded",
                  file=sys.stderr)
            rc = 99
            raise SystemExit
        rc = main(fields[split + 1:])
    except SystemExit:
        pass
    except BaseException as e:  # a bug of the adapter: say it, exit non-zero
        print("snapadapter_sqlite: serve: %r" % (e,), file=sys.stderr)
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
            print("snapadapter_sqlite: serve: malformed request %r" % line[:80], file=sys.stderr)
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
            print("save-full save-diff load merge serve volatile=*-shm")
        else:
            {"save": cmd_save, "load": cmd_load, "merge": cmd_merge}[op](o)
    except Refused as e:
        print("snapadapter_sqlite: %s %s: %s" % (op, o.get("id", ""), e), file=sys.stderr)
        return EXIT_FAIL
    except (OSError, sqlite3.Error) as e:
        print("snapadapter_sqlite: %s %s: %s: %s" % (op, o.get("id", ""), DB_NAME, e),
              file=sys.stderr)
        return EXIT_FAIL
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
