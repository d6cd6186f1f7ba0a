#!/usr/bin/env python3
"""Run `snapcheck fuzz` on one implementation: --expect-clean (exit 0, no finding, and the
reference loaded some inputs, so the loop reached valid pairs) or --expect-finding TEXT (exit 1
and a finding containing TEXT). A second run with the same seed must print the same lines."""
import argparse
import os
import subprocess
import sys


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    sys.stdout.write(p.stdout)
    sys.stderr.write(p.stderr)
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--snapcheck", required=True)
    ap.add_argument("--impl", required=True)
    ap.add_argument("--expect-clean", action="store_true")
    ap.add_argument("--expect-finding")
    ap.add_argument("extra", nargs="*")
    a = ap.parse_args()
    if not os.path.exists(a.snapcheck):
        sys.exit(77)
    cmd = [a.snapcheck, "fuzz", "--impl", a.impl, "-q"] + a.extra
    p = run(cmd)
    summary = [l for l in p.stdout.splitlines() if l.startswith("snapcheck fuzz:")]
    if not summary:
        sys.exit("check_fuzz: FAIL: no summary line (exit %d)" % p.returncode)
    loaded = int(summary[0].split("reference loaded ")[1].split(",")[0])
    if loaded < 1:
        sys.exit("check_fuzz: FAIL: the reference loaded no input: the loop never reached a valid pair")
    if a.expect_clean and (p.returncode != 0 or "FINDING" in p.stdout):
        sys.exit("check_fuzz: FAIL: exit %d with findings, clean expected" % p.returncode)
    if a.expect_finding:
        hits = [l for l in p.stdout.splitlines() if l.startswith("FINDING") and a.expect_finding in l]
        if p.returncode != 1 or not hits:
            sys.exit("check_fuzz: FAIL: exit %d, no finding with %r" % (p.returncode, a.expect_finding))
    q = run(cmd)
    strip = lambda out: [l for l in out.splitlines() if not l.startswith("snapcheck fuzz:")]
    if strip(q.stdout) != strip(p.stdout) or q.returncode != p.returncode:
        sys.exit("check_fuzz: FAIL: the same seed gave other findings")
    print("check_fuzz: ok")


if __name__ == "__main__":
    main()
