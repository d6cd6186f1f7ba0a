#!/usr/bin/env python3
"""Run snapcheck faults and conform on the SQLite adapter.

examples/sqlite/snapadapter_sqlite.py keeps its snapshots in one SQLite database (WAL,
synchronous=EXTRA): a correct implementation on a well-tested transactional store, so faults
(smoke tier, serve mode) must exit 0 with VERDICT: PASS (no
finding, nothing UNCHECKED), and conform must exit 0 with VERDICT: CONFORMS (its whole-file
swap of the one database by the previous save's is that save's directory, not damage: the
probe is skipped, docs/CONFORMANCE.md), and crash (posix model, first-save)
must exit 0 with VERDICT: PASS: it needs the file system shutdown after a failed directory
fsync (SQLite ignores that failure by design) and the adapter's volatile=*-shm (SQLite writes
its wal-index through a mapping); without either it reported findings or UNCHECKED
(docs/CRASH.md 3.4 and 5). Exit 0 when they do,
1 when not, 77 (skip) when snapcheck is not built or this interpreter has no sqlite3 module,
99 when snapcheck could not run.
"""
import os
import subprocess
import sys

SKIP, SETUP_ERROR = 77, 99


def main(argv):
    if len(argv) != 2:
        print("usage: check_sqlite.py SNAPCHECK ADAPTER", file=sys.stderr)
        return SETUP_ERROR
    snapcheck, adapter = argv
    if not snapcheck or not os.access(snapcheck, os.X_OK):
        print("snapcheck is not built: skipped")
        return SKIP
    try:
        import sqlite3  # noqa: F401
    except ImportError:
        print("%s has no sqlite3 module: skipped" % sys.executable)
        return SKIP
    impl = "%s -I -S %s" % (sys.executable, os.path.abspath(adapter))
    env = dict(os.environ)
    if "TMPDIR" not in env and os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        env["TMPDIR"] = "/dev/shm"  # SQLite fsyncs every commit: on a disk each case waits
    failed = 0
    for cmd, verdict in ((["faults", "--tier", "smoke", "--serve", "-j", "2"], "PASS"),
                         (["conform"], "CONFORMS"),
                         (["crash", "--serve", "--model", "posix", "--scenario", "first-save",
                           "-j", "2"], "PASS")):
        cmd = [snapcheck] + cmd + ["--impl", impl, "-q"]
        print("running: %s" % " ".join(cmd))
        sys.stdout.flush()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              check=False, env=env)
        log = proc.stdout.decode("utf-8", "replace")
        print(log[-6000:])
        if proc.returncode == 2 or proc.returncode < 0:
            print("FAIL: snapcheck could not run (exit %d)" % proc.returncode)
            return SETUP_ERROR
        if proc.returncode != 0 or "VERDICT: " + verdict not in log:
            print("FAIL: %s exited %d without VERDICT: %s" % (cmd[1], proc.returncode, verdict))
            failed = 1
    if not failed:
        print("OK")
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
