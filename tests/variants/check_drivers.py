#!/usr/bin/env python3
"""Checks of snapcheck's drivers and of how it handles the processes of an IUT.

  same-as-exec   the Python adapter (a known-bad copy, so there are findings to compare) gives
                 the same case list and the same verdict per case with --serve as by exec
  serve-check    a copy that makes one more counted call only when served is refused at the
                 census (exit 2, "differ"): serve mode cannot silently change the case ids
  lib-as-exec    --lib lists the same cases as the runner exec'd per operation, and as --impl
  term-setup     SIGTERM while the IUT hangs in set-up: snapcheck ends at once, the IUT and the
                 child it forked are gone
  int-setup      SIGINT (Ctrl-C) in set-up: ends at once, says "interrupted", exit 2, no work
                 directory left, no IUT left
  term-run       SIGTERM while a worker's IUT hangs in a faulted step: same
  timeout-child  SNAPCHECK_TIMEOUT=2 and a faulted step that hangs after forking a child: the
                 step is killed at the time-out with the child it forked
  escape         a faulted step leaves a daemon (setsid, double fork): it does not outlive
                 snapcheck (snapcheck is the subreaper of its IUTs)
  abi            an adapter library built by another compiler (--lib, or --cargo-dir: a Rust
                 crate built here) is loaded by snapcheck-lib-runner: its capabilities, and its
                 refusal message relayed on stderr with exit 1

Exit 0 when the check holds, 1 when not, 77 when snapcheck is not built.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77

# A hostile adapter: the Python example, except that its save forks a child that sleeps, records
# both pids, then hangs (in set-up, or only in a faulted step).
HANG_ADAPTER = r'''
import importlib.util, os, sys, time
spec = importlib.util.spec_from_file_location("snapadapter", os.environ["HANG_REAL"])
real = importlib.util.module_from_spec(spec)
spec.loader.exec_module(real)
where = os.environ["HANG_AT"]
if sys.argv[1] == "save" and where == "escape" and "SNAPFAULT_CASE" in os.environ:
    if os.fork() == 0:  # a daemon: new session (out of the step's process group), double fork
        os.setsid()
        if os.fork() == 0:
            with open(os.environ["HANG_PIDS"] + ".tmp", "w") as f:
                f.write("%d\n" % os.getpid())
            os.rename(os.environ["HANG_PIDS"] + ".tmp", os.environ["HANG_PIDS"])
            time.sleep(300)
        os._exit(0)
    os.wait()
    while not os.path.exists(os.environ["HANG_PIDS"]):
        time.sleep(0.01)
elif sys.argv[1] == "save" and (where == "setup" or "SNAPFAULT_CASE" in os.environ):
    child = os.fork()
    if child == 0:
        time.sleep(300)
        os._exit(0)
    with open(os.environ["HANG_PIDS"] + ".tmp", "w") as f:
        f.write("%d %d\n" % (os.getpid(), child))
    os.rename(os.environ["HANG_PIDS"] + ".tmp", os.environ["HANG_PIDS"])
    time.sleep(300)
sys.exit(real.main(sys.argv[1:]))
'''

SERVE_EXTRA_CALL = (
    "        rc = main(fields[split + 1:])\n",
    "        if os.environ.get(\"SNAPFAULT_DIR\"):\n"
    "            fsync_dir(os.environ[\"SNAPFAULT_DIR\"])\n"
    "        rc = main(fields[split + 1:])\n")

IGNORE_FAILED_RENAME = (
    '        os.rename(os.path.join(d, tmp), os.path.join(d, ident + ".manifest"))\n',
    '        try:\n'
    '            os.rename(os.path.join(d, tmp), os.path.join(d, ident + ".manifest"))\n'
    '        except OSError:\n'
    '            pass\n')


def mutate(script, tmp, name, *edits):
    with open(script, encoding="utf-8") as f:
        text = f.read()
    for old, new in edits:
        if text.count(old) != 1:
            sys.exit("FAIL: the text to replace for %s is not in %s exactly once" % (name, script))
        text = text.replace(old, new)
    out = os.path.join(tmp, name + ".py")
    with open(out, "w", encoding="utf-8") as f:
        f.write(text)
    return out


def env_tmp(tmp):
    env = dict(os.environ)
    env["TMPDIR"] = tmp
    return env


def snapcheck(sc, args, tmp, check=None):
    p = subprocess.run([sc, "faults"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env_tmp(tmp), check=False)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    if check is not None and p.returncode != check:
        sys.exit("FAIL: snapcheck faults %s exited %d, expected %d\n%s%s" % (
            " ".join(args), p.returncode, check, out[-3000:], err[-3000:]))
    return p.returncode, out, err


def verdicts(report_path):
    with open(report_path, encoding="utf-8") as f:
        r = json.load(f)
    return {
        "cases": r["cases"],
        "verdict": r["verdict"],
        "findings": sorted((x["id"], x["oracle"]) for x in r["findings"]),
        "ambiguous": sorted(r["ambiguous_cases"]),
    }


def same_as_exec(a, tmp):
    py = "%s -I -S %s" % (sys.executable, mutate(a.adapter, tmp, "mutant", IGNORE_FAILED_RENAME))
    base = ["--impl", py, "--scenario", "full-over-full"]
    lists = [snapcheck(a.snapcheck, base + extra + ["--list"], tmp, 0)[1]
             for extra in ([], ["--serve"])]
    if lists[0] != lists[1] or not lists[0].strip():
        sys.exit("FAIL: the case lists differ (exec %d lines, serve %d lines)" % (
            len(lists[0].splitlines()), len(lists[1].splitlines())))
    got = []
    for extra in ([], ["--serve"]):
        rep = os.path.join(tmp, "report%d.json" % len(got))
        snapcheck(a.snapcheck, base + extra + ["-j", "2", "-q", "--json", rep], tmp, 1)
        got.append(verdicts(rep))
    if got[0] != got[1]:
        sys.exit("FAIL: verdicts differ:\nexec:  %s\nserve: %s" % (got[0], got[1]))
    if not got[0]["findings"]:
        sys.exit("FAIL: the known-bad copy was not flagged: nothing was compared")
    print("OK: %d cases, the same %d findings and %d ambiguous cases in both modes" % (
        got[0]["cases"], len(got[0]["findings"]), len(got[0]["ambiguous"])))


def serve_check(a, tmp):
    py = "%s -I -S %s" % (sys.executable, mutate(a.adapter, tmp, "extra", SERVE_EXTRA_CALL))
    rc, out, err = snapcheck(a.snapcheck, ["--impl", py, "--serve", "--scenario", "first-save",
                                           "-q"], tmp)
    if rc != 2 or "differ" not in err:
        sys.exit("FAIL: expected exit 2 naming the difference, got %d:\n%s%s" % (rc, out, err))
    print("OK: refused: %s" % err.strip().splitlines()[-1][:300])


def lib_as_exec(a, tmp):
    runner = "%s %s --" % (a.runner, a.lib)
    lists = [snapcheck(a.snapcheck, how + ["--list", "--tier", "full"], tmp, 0)[1]
             for how in (["--lib", a.lib], ["--impl", runner], ["--impl", a.ref])]
    if not lists[0].strip() or lists[0] != lists[1] or lists[0] != lists[2]:
        sys.exit("FAIL: --lib, the runner by exec and the reference list different cases "
                 "(%s lines)" % [len(x.splitlines()) for x in lists])
    print("OK: %d cases, the same with --lib, the runner by exec and snapref" %
          len(lists[0].splitlines()))


def abi(a, tmp):
    lib = a.lib
    if a.cargo_dir:
        cargo = os.environ.get("CARGO", "cargo")
        target = os.path.join(tmp, "target")
        try:
            p = subprocess.run([cargo, "build", "--release", "--offline", "-q",
                                "--manifest-path", os.path.join(a.cargo_dir, "Cargo.toml"),
                                "--target-dir", target], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, check=False)
        except FileNotFoundError:
            print("cargo is not installed: skipped")
            sys.exit(SKIP)
        if p.returncode != 0:
            sys.exit("FAIL: cargo build failed:\n%s" % p.stdout.decode(errors="replace"))
        libs = [f for f in os.listdir(os.path.join(target, "release")) if f.endswith(".so")]
        if len(libs) != 1:
            sys.exit("FAIL: cargo built %s, not one cdylib" % libs)
        lib = os.path.join(target, "release", libs[0])
    caps = subprocess.run([a.runner, lib, "--", "capabilities"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=False)
    if caps.returncode != 0 or caps.stdout.decode().split() != ["save-full", "load", "serve"]:
        sys.exit("FAIL: capabilities of %s: exit %d, %r %r" % (
            lib, caps.returncode, caps.stdout, caps.stderr))
    load = subprocess.run([a.runner, lib, "--", "load", "--dir", tmp, "--id", "vm",
                           "--state-out", os.devnull, "--memory-out", os.devnull],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    want = "%s load vm refused" % a.expect_msg
    if load.returncode != 1 or want not in load.stderr.decode(errors="replace"):
        sys.exit("FAIL: load by %s: exit %d, stderr %r; expected 1 and %r" % (
            lib, load.returncode, load.stderr, want))
    print("OK: %s: capabilities %s; a refused load exits 1 with its message" % (
        os.path.basename(lib), caps.stdout.decode().strip()))


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def timeout_child(a, tmp):
    script = os.path.join(tmp, "hang.py")
    with open(script, "w", encoding="utf-8") as f:
        f.write(HANG_ADAPTER)
    pids = os.path.join(tmp, "pids")
    env = env_tmp(tmp)
    env.update(HANG_AT="case", HANG_PIDS=pids, HANG_REAL=os.path.abspath(a.adapter),
               SNAPCHECK_TIMEOUT="2")
    t0 = time.monotonic()
    p = subprocess.run([a.snapcheck, "faults", "--impl", "%s -I -S %s" % (sys.executable, script),
                        "--case", "first-save/1/open64/crash-before", "-q"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=100,
                       check=False)
    took = time.monotonic() - t0
    out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
    if not os.path.exists(pids):
        sys.exit("FAIL: the faulted step never hung (exit %d)\n%s" % (p.returncode, out))
    with open(pids, encoding="ascii") as f:
        iut, child = (int(x) for x in f.read().split())
    time.sleep(0.2)
    left = [pid for pid in (iut, child) if alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    if left:
        sys.exit("FAIL: after the time-out, IUT processes %s still run" % left)
    if took > 30:
        sys.exit("FAIL: the run took %.1f s: SNAPCHECK_TIMEOUT=2 was not applied" % took)
    if "timed out" not in out:
        sys.exit("FAIL: the report does not say the step timed out:\n%s" % out)
    print("OK: the hung step and the child it forked were killed at the 2 s time-out (%.1f s)"
          % took)


def escape(a, tmp):
    script = os.path.join(tmp, "hang.py")
    with open(script, "w", encoding="utf-8") as f:
        f.write(HANG_ADAPTER)
    pids = os.path.join(tmp, "pids")
    env = env_tmp(tmp)
    env.update(HANG_AT="escape", HANG_PIDS=pids, HANG_REAL=os.path.abspath(a.adapter))
    p = subprocess.run([a.snapcheck, "faults", "--impl", "%s -I -S %s" % (sys.executable, script),
                        "--case", "first-save/1/open64/crash-before", "-q"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=100,
                       check=False)
    out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
    if not os.path.exists(pids) or p.returncode not in (0, 1):
        sys.exit("FAIL: the faulted step left no daemon, or snapcheck failed (exit %d)\n%s" % (
            p.returncode, out))
    with open(pids, encoding="ascii") as f:
        daemon = int(f.read())
    time.sleep(0.2)
    if alive(daemon):
        os.kill(daemon, signal.SIGKILL)
        sys.exit("FAIL: the daemon the faulted step started (setsid, double fork) outlived "
                 "snapcheck")
    print("OK: the daemon a faulted step left outside its process group ended with snapcheck")


def hang(a, tmp, where, sig):
    script = os.path.join(tmp, "hang.py")
    with open(script, "w", encoding="utf-8") as f:
        f.write(HANG_ADAPTER)
    pids = os.path.join(tmp, "pids")
    env = env_tmp(tmp)
    env.update(HANG_AT=where, HANG_PIDS=pids, HANG_REAL=os.path.abspath(a.adapter))
    work = os.path.join(tmp, "work")
    os.mkdir(work)
    env["TMPDIR"] = work
    p = subprocess.Popen([a.snapcheck, "faults", "--impl", "%s -I -S %s" % (sys.executable, script),
                          "--scenario", "first-save", "-j", "2", "-q"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 30
    while not os.path.exists(pids) and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.05)
    if not os.path.exists(pids):
        p.kill()
        out, err = p.communicate()
        sys.exit("FAIL: the adapter never hung (exit %s)\n%s%s" % (
            p.returncode, out.decode(errors="replace"), err.decode(errors="replace")))
    with open(pids, encoding="ascii") as f:
        iut, child = (int(x) for x in f.read().split())
    t0 = time.monotonic()
    p.send_signal(sig)
    try:
        out, err = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        os.kill(child, signal.SIGKILL)
        os.kill(iut, signal.SIGKILL)
        sys.exit("FAIL: snapcheck still ran 10 s after signal %d" % sig)
    took = time.monotonic() - t0
    time.sleep(0.2)
    left = [pid for pid in (iut, child) if alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    err = err.decode(errors="replace")
    if left:
        sys.exit("FAIL: after snapcheck ended (%.1f s), IUT processes %s still run" % (took, left))
    if p.returncode != 2:
        sys.exit("FAIL: exit %d after signal %d, expected 2\n%s" % (p.returncode, sig, err))
    if "interrupted" not in err:
        sys.exit("FAIL: stderr does not say 'interrupted':\n%s" % err)
    if os.listdir(work):
        sys.exit("FAIL: the work directory was left behind: %s" % os.listdir(work))
    print("OK: ended %.2f s after signal %d, exit 2, no IUT process and no work directory left"
          % (took, sig))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("check", choices=["same-as-exec", "serve-check", "lib-as-exec", "term-setup",
                                      "int-setup", "term-run", "timeout-child", "escape", "abi"])
    ap.add_argument("--snapcheck", default="")
    ap.add_argument("--adapter", help="examples/python/snapadapter.py")
    ap.add_argument("--runner", help="snapcheck-lib-runner")
    ap.add_argument("--lib", help="libsnapref-adapter.so")
    ap.add_argument("--ref", help="snapref")
    ap.add_argument("--cargo-dir", help="abi: a Rust crate to build (instead of --lib)")
    ap.add_argument("--expect-msg", help="abi: how the library's messages begin")
    a = ap.parse_args()
    if a.check != "abi" and (not a.snapcheck or not os.access(a.snapcheck, os.X_OK)):
        print("snapcheck is not built: skipped")
        return SKIP
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="check-drivers-", dir=base) as tmp:
        if a.check == "same-as-exec":
            same_as_exec(a, tmp)
        elif a.check == "serve-check":
            serve_check(a, tmp)
        elif a.check == "lib-as-exec":
            lib_as_exec(a, tmp)
        elif a.check == "timeout-child":
            timeout_child(a, tmp)
        elif a.check == "escape":
            escape(a, tmp)
        elif a.check == "abi":
            abi(a, tmp)
        elif a.check == "term-setup":
            hang(a, tmp, "setup", signal.SIGTERM)
        elif a.check == "int-setup":
            hang(a, tmp, "setup", signal.SIGINT)
        else:
            hang(a, tmp, "case", signal.SIGTERM)
    return 0


if __name__ == "__main__":
    sys.exit(main())
