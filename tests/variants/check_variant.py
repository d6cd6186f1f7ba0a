#!/usr/bin/env python3
"""Run `snapcheck faults` against one implementation under test and judge its report.

Used by tests/variants/meson.build. A known-bad variant must be flagged (exit 1) with a finding of
an expected oracle; a correct adapter must pass (exit 0, no findings). Exit 0 when the
expectation holds, 1 when it does not, 77 (skip) when snapcheck is not built, 99 when snapcheck
itself fails to run (usage or set-up error). `--self-test` checks this checker against fake
snapcheck programs, bad ones included, so that it is trusted before it judges anything.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ORACLES = {"prior-pair", "committed", "clean-load", "recovery", "leftovers"}
SKIP, SETUP_ERROR = 77, 99

# Known-bad copies of the Python adapter: (text replaced, replacement). They show that the
# interposer sees the calls CPython makes, so a clean verdict on the adapter means something.
PY_MUTANTS = {
    "ignore-failed-rename": (
        '        os.rename(os.path.join(d, tmp), os.path.join(d, ident + ".manifest"))\n',
        '        try:\n'
        '            os.rename(os.path.join(d, tmp), os.path.join(d, ident + ".manifest"))\n'
        '        except OSError:\n'
        '            pass\n'),
}


def make_mutant(script, mutant, tmp):
    """Write a copy of script with the mutation applied; None if the text is not found once."""
    old, new = PY_MUTANTS[mutant]
    with open(script, encoding="utf-8") as f:
        text = f.read()
    if text.count(old) != 1:
        print("FAIL: mutant %s: the text to replace is not in %s exactly once" % (mutant, script))
        return None
    out = os.path.join(tmp, "mutant-" + os.path.basename(script))
    with open(out, "w", encoding="utf-8") as f:
        f.write(text.replace(old, new))
    return out


def judge(rc, report, expect_oracles):
    """Return None when (rc, report) meets the expectation, else the reason it does not.

    expect_oracles: a set of acceptable oracles for a known-bad variant, or None for
    "must pass".
    """
    if not isinstance(report, dict):
        return "the JSON report is not an object"
    if report.get("tool") != "snapcheck":
        return "the JSON report does not say tool=snapcheck"
    findings = report.get("findings")
    if not isinstance(findings, list) or not all(isinstance(f, dict) for f in findings):
        return "the JSON report has no findings list"
    cases = report.get("cases")
    if not isinstance(cases, int) or cases <= 0:
        return "the JSON report ran no cases (cases=%r)" % (cases,)
    unknown = sorted({str(f.get("oracle")) for f in findings} - ORACLES)
    if unknown:
        return "findings name unknown oracles: %s" % ", ".join(unknown)
    if expect_oracles is None:
        if rc != 0:
            return "snapcheck exited %d, expected 0 (all oracles held)" % rc
        if report.get("verdict") != "pass" or findings:
            return "expected verdict pass with no findings, got %r with %d findings" % (
                report.get("verdict"), len(findings))
        return None
    if rc != 1:
        return "snapcheck exited %d, expected 1 (findings)" % rc
    if report.get("verdict") != "fail":
        return "expected verdict fail, got %r" % (report.get("verdict"),)
    hits = [f for f in findings if f.get("oracle") in expect_oracles]
    if not hits:
        seen = sorted({f.get("oracle") for f in findings})
        return "no finding by oracle %s (found: %s)" % (
            " or ".join(sorted(expect_oracles)), ", ".join(seen) or "none")
    return None


def summarize(report):
    findings = report.get("findings", []) if isinstance(report, dict) else []
    by_oracle = {}
    for f in findings:
        by_oracle.setdefault(f.get("oracle"), []).append(f)
    print("cases: %s, findings: %d" % (report.get("cases"), len(findings)))
    for oracle in sorted(by_oracle, key=str):
        first = by_oracle[oracle][0]
        print("  %s: %d finding(s), e.g. %s [%s]: %s" % (
            oracle, len(by_oracle[oracle]), first.get("id"), first.get("scenario"),
            first.get("detail")))
        if first.get("reproducer"):
            print("    reproduce: %s" % first.get("reproducer"))


def run(snapcheck, impl, expect_oracles, tier, extra, lib=None):
    if not snapcheck or not os.access(snapcheck, os.X_OK):
        print("snapcheck is not built: skipped")
        return SKIP
    with tempfile.TemporaryDirectory(prefix="snapcheck-variant-") as tmp:
        out = os.path.join(tmp, "report.json")
        how = ["--lib", lib] if lib else ["--impl", impl]
        cmd = [snapcheck, "faults"] + how + ["--tier", tier, "--json", out] + extra
        print("running: %s" % " ".join(cmd[:2] + [how[0], "'%s'" % how[1]] + cmd[4:]))
        sys.stdout.flush()
        env = dict(os.environ)
        if "TMPDIR" not in env and os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
            env["TMPDIR"] = "/dev/shm"  # the IUT fsyncs every file: on a disk each case waits
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              check=False, env=env)
        log = proc.stdout.decode("utf-8", "replace")
        print(log[-6000:])
        if proc.returncode == 2 or proc.returncode < 0:
            print("FAIL: snapcheck could not run (exit %d)" % proc.returncode)
            return SETUP_ERROR
        try:
            with open(out, encoding="utf-8") as f:
                report = json.load(f)
        except (OSError, ValueError) as e:
            print("FAIL: no readable JSON report at %s: %s" % (out, e))
            return 1
    summarize(report)
    why = judge(proc.returncode, report, expect_oracles)
    if why:
        print("FAIL: %s" % why)
        return 1
    print("OK")
    return 0


FAKE = """#!%s
import json, sys
out = sys.argv[sys.argv.index("--json") + 1]
with open(out, "w") as f:
    f.write(%r)
sys.exit(%d)
"""


def self_test():
    """The checker must accept the right reports and refuse every wrong one."""
    def report(verdict, oracles, cases=10):
        return json.dumps({"tool": "snapcheck", "verdict": verdict, "cases": cases,
                           "findings": [{"id": "c%d" % i, "scenario": "s", "oracle": o,
                                         "detail": "d", "reproducer": "r"}
                                        for i, o in enumerate(oracles)]})
    want = {"prior-pair"}
    cases = [
        # (name, exit code, report text, expectation, should the check pass)
        ("flagged by the expected oracle", 1, report("fail", ["committed", "prior-pair"]),
         want, True),
        ("flagged by another oracle only", 1, report("fail", ["committed"]), want, False),
        ("not flagged", 0, report("pass", []), want, False),
        ("exit 1 without findings", 1, report("fail", []), want, False),
        ("findings but exit 0", 0, report("fail", ["prior-pair"]), want, False),
        ("no cases run", 1, report("fail", ["prior-pair"], cases=0), want, False),
        ("unknown oracle", 1, report("fail", ["prior-pair", "vibes"]), want, False),
        ("not JSON", 1, "{not json", want, False),
        ("not snapcheck's", 1, json.dumps({"tool": "other"}), want, False),
        ("correct adapter passes", 0, report("pass", []), None, True),
        ("correct adapter flagged", 1, report("fail", ["leftovers"]), None, False),
        ("pass verdict with findings", 0, report("pass", ["leftovers"]), None, False),
    ]
    failed = 0
    with tempfile.TemporaryDirectory(prefix="check-variant-self-") as tmp:
        for i, (name, rc, text, expect, should_pass) in enumerate(cases):
            fake = os.path.join(tmp, "fake%d" % i)
            with open(fake, "w", encoding="utf-8") as f:
                f.write(FAKE % (sys.executable, text, rc))
            os.chmod(fake, 0o755)
            saved = sys.stdout
            sys.stdout = open(os.devnull, "w", encoding="utf-8")
            try:
                got = run(fake, "impl", expect, "smoke", [])
            finally:
                sys.stdout.close()
                sys.stdout = saved
            ok = (got == 0) == should_pass and got not in (SKIP, SETUP_ERROR)
            print("%s: %s (checker exit %d)" % ("ok  " if ok else "BAD ", name, got))
            failed += not ok
        if run("", "impl", want, "smoke", []) != SKIP:
            print("BAD : a missing snapcheck is not a skip")
            failed += 1
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--snapcheck", default="", help="path of the snapcheck binary")
    ap.add_argument("--impl", help="implementation under test (the --impl of snapcheck)")
    ap.add_argument("--lib", help="an adapter library instead (the --lib of snapcheck)")
    ap.add_argument("--impl-python", metavar="SCRIPT",
                    help="a Python adapter: run it with this checker's own interpreter")
    ap.add_argument("--mutant", choices=sorted(PY_MUTANTS),
                    help="run a known-bad copy of the --impl-python script instead")
    ap.add_argument("--expect-oracle", help="comma-separated oracles, any one of which must "
                    "flag the implementation")
    ap.add_argument("--expect-pass", action="store_true", help="no finding expected")
    ap.add_argument("--tier", default="smoke")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("extra", nargs="*", help="more snapcheck arguments (after --)")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    if (not a.impl and not a.impl_python and not a.lib) or a.expect_pass == bool(a.expect_oracle):
        ap.error("need --impl, --impl-python or --lib, and one of --expect-oracle, "
                 "--expect-pass")
    if a.mutant and not a.impl_python:
        ap.error("--mutant needs --impl-python")
    expect = None if a.expect_pass else set(a.expect_oracle.split(","))
    if expect is not None and not expect <= ORACLES:
        ap.error("unknown oracle in %s" % a.expect_oracle)
    with tempfile.TemporaryDirectory(prefix="check-variant-") as tmp:
        impl = a.impl
        if a.impl_python:
            script = os.path.abspath(a.impl_python)
            if a.mutant:
                script = make_mutant(script, a.mutant, tmp)
                if script is None:
                    return SETUP_ERROR
            # -I: no PYTHON* variables, no user site (same calls on every run); -S: no site
            # import, which makes each of the many interpreter starts a third as long.
            impl = "%s -I -S %s" % (sys.executable, script)
        return run(a.snapcheck, impl, expect, a.tier, a.extra, lib=a.lib)


if __name__ == "__main__":
    sys.exit(main())
