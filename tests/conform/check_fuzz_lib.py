#!/usr/bin/env python3
"""Run `snapcheck fuzz --lib` on one adapter library.

--expect-clean: exit 0, a PASS verdict, and at least --min-runs inputs ran.
--expect-finding TEXT: exit 1, a FINDING line containing TEXT, the input kept in --out, and the
printed reproducer, pasted into sh, stops on that input again (the driver exits non-zero with
the same finding on stderr).
--expect-usage TEXT: exit 2 and TEXT on stderr (bad invocations lose nothing: --out untouched).
--interrupt: SIGTERM to snapcheck after 3 s of a long run: exit 2, "interrupted" and no verdict,
and its work directory (under TMPDIR) removed.
Skips (77) when snapcheck or the libFuzzer driver is not built."""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--snapcheck", required=True)
    ap.add_argument("--driver", required=True)
    ap.add_argument("--expect-clean", action="store_true")
    ap.add_argument("--min-runs", type=int, default=1)
    ap.add_argument("--expect-finding")
    ap.add_argument("--expect-usage")
    ap.add_argument("--interrupt", action="store_true")
    ap.add_argument("args", nargs="*")
    a = ap.parse_args()
    if not os.path.exists(a.snapcheck) or not os.path.exists(a.driver):
        print("check_fuzz_lib: SKIP: snapcheck or the driver (needs clang) is not built")
        sys.exit(77)
    work = tempfile.mkdtemp(prefix="check-fuzz-lib.")
    try:
        out = os.path.join(work, "out")
        cmd = [a.snapcheck, "fuzz", "-q", "--out", out, "--driver", a.driver] + a.args
        if a.interrupt:
            tmp = os.path.join(work, "tmp")
            os.mkdir(tmp)
            q = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=dict(os.environ, TMPDIR=tmp))
            time.sleep(3)
            q.send_signal(signal.SIGTERM)
            o, e = q.communicate(timeout=120)
            sys.stdout.write(o)
            sys.stderr.write(e)
            if q.returncode != 2 or "interrupted" not in e or "VERDICT" in o:
                sys.exit("check_fuzz_lib: FAIL: exit %d after SIGTERM (2 and 'interrupted' "
                         "expected, no verdict)" % q.returncode)
            if os.listdir(tmp):
                sys.exit("check_fuzz_lib: FAIL: left behind in TMPDIR: %s" % os.listdir(tmp))
            print("check_fuzz_lib: ok")
            return
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        sys.stdout.write(p.stdout)
        sys.stderr.write(p.stderr)
        lines = p.stdout.splitlines()
        if a.expect_usage is not None:
            if p.returncode != 2 or a.expect_usage not in p.stderr:
                sys.exit("check_fuzz_lib: FAIL: exit %d, %r not on stderr (usage error expected)"
                         % (p.returncode, a.expect_usage))
            print("check_fuzz_lib: ok")
            return
        if a.expect_clean:
            summary = [l for l in lines if l.startswith("snapcheck fuzz --lib")]
            if p.returncode != 0 or not any(l.startswith("VERDICT: PASS") for l in lines):
                sys.exit("check_fuzz_lib: FAIL: exit %d, a PASS verdict expected" % p.returncode)
            runs = int(summary[0].split(": ")[1].split(" inputs")[0]) if summary else 0
            if runs < a.min_runs:
                sys.exit("check_fuzz_lib: FAIL: %d inputs ran, at least %d expected"
                         % (runs, a.min_runs))
            print("check_fuzz_lib: ok (%d inputs)" % runs)
            return
        hits = [l for l in lines if l.startswith("FINDING:") and a.expect_finding in l]
        if p.returncode != 1 or not hits:
            sys.exit("check_fuzz_lib: FAIL: exit %d, no FINDING with %r" % (p.returncode,
                                                                             a.expect_finding))
        inputs = [l.split("input: ", 1)[1] for l in lines if l.startswith("  input: ")]
        repro = [l.split("reproduce: ", 1)[1] for l in lines if l.startswith("  reproduce: ")]
        if not inputs or not os.path.isfile(inputs[0]) or not repro:
            sys.exit("check_fuzz_lib: FAIL: the finding's input or reproducer is missing")
        rtmp = os.path.join(work, "repro-tmp")  # a crash leaves the driver's work directory
        os.mkdir(rtmp)
        r = subprocess.run(["sh", "-c", repro[0]], capture_output=True, text=True, timeout=300,
                           env=dict(os.environ, TMPDIR=rtmp))
        if r.returncode == 0 or ("FINDING" not in r.stderr and "ERROR" not in r.stderr):
            sys.exit("check_fuzz_lib: FAIL: the reproducer did not stop on the input (exit %d)"
                     % r.returncode)
        print("check_fuzz_lib: ok")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
