#!/usr/bin/env python3
"""Run `snapcheck conform` on one implementation and check its verdict, its JSON report and its
JUnit report: --expect-pass (exit 0, no requirement failed, the main checks ran), or
--expect-fail ID (exit 1 and requirement ID failed), --expect-pass-id ID (ID passed, so a bug
is charged to its own rule only), --deterministic (two runs, the same JSON), --usage-errors
(bad command lines exit 2 with a message). Arguments after -- go to snapcheck conform."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET


def run(snapcheck, impl, fmt, extra, tmp, tag):
    js = os.path.join(tmp, tag + ".json")
    ju = os.path.join(tmp, tag + ".xml")
    cmd = [snapcheck, "conform", "--impl", impl, "--json", js, "--junit", ju, "-q"]
    if fmt:
        cmd += ["--format", fmt]
    cmd += extra
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    sys.stdout.write(p.stdout)
    sys.stderr.write(p.stderr)
    if p.returncode not in (0, 1):
        sys.exit("check_conform: snapcheck conform exited %d (set-up error?)" % p.returncode)
    with open(js) as f:
        report = json.load(f)
    junit = ET.parse(ju).getroot()
    return p.returncode, report, junit


def fail(msg):
    print("check_conform: FAIL: " + msg)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--snapcheck", required=True)
    ap.add_argument("--impl", required=True)
    ap.add_argument("--format")
    ap.add_argument("--expect-pass", action="store_true")
    ap.add_argument("--expect-fail", action="append", default=[])
    ap.add_argument("--expect-pass-id", action="append", default=[])
    ap.add_argument("--deterministic", action="store_true")
    ap.add_argument("--usage-errors", action="store_true")
    ap.add_argument("extra", nargs="*")
    a = ap.parse_args()
    if not os.path.exists(a.snapcheck):
        print("snapcheck is not built")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="check-conform.")
    os.environ.setdefault("TMPDIR", "/dev/shm" if os.path.isdir("/dev/shm") else tmp)

    if a.usage_errors:
        for args, word in ((["--format", "xml"], "--format"), (["--max-probes", "0"], "--max-probes"),
                           (["--page-size", "8192"], "--page-size"), (["--frob"], "--frob"),
                           (["--tier", "huge"], "--tier")):
            p = subprocess.run([a.snapcheck, "conform", "--impl", a.impl] + args,
                               capture_output=True, text=True)
            if p.returncode != 2 or word not in p.stderr:
                fail("%s: exit %d, stderr %r (exit 2 naming %s expected)" % (args, p.returncode, p.stderr, word))
        p = subprocess.run([a.snapcheck, "conform", "--impl", "/nonexistent/iut"], capture_output=True, text=True)
        if p.returncode != 2 or "/nonexistent/iut" not in p.stderr:
            fail("a missing IUT: exit %d, %r" % (p.returncode, p.stderr))
        p = subprocess.run([a.snapcheck, "conform", "--impl", a.impl, "--vectors", tmp, "-q"],
                           capture_output=True, text=True)
        if p.returncode != 2 or "MANIFEST" not in p.stderr:
            fail("missing vectors: exit %d, %r" % (p.returncode, p.stderr))
        print("check_conform: usage errors ok")
        return

    rc, rep, junit = run(a.snapcheck, a.impl, a.format, a.extra, tmp, "a")
    reqs = {r["id"]: r for r in rep["requirements"]}
    failed = sorted(i for i, r in reqs.items() if r["status"] == "fail")
    suite = junit.find("testsuite")
    if int(suite.get("failures")) != len(failed) or int(suite.get("tests")) != len(reqs):
        fail("JUnit counts (%s failures of %s) differ from the JSON (%d of %d)"
             % (suite.get("failures"), suite.get("tests"), len(failed), len(reqs)))
    if a.format and rep["format"] != a.format:
        fail("format %s, %s expected" % (rep["format"], a.format))
    if a.deterministic:
        rc2, rep2, _ = run(a.snapcheck, a.impl, a.format, a.extra, tmp, "b")
        if rep != rep2 or rc != rc2:
            fail("two runs with the same seed gave different reports")
        extra2 = [x if x != "7" else "8" for x in a.extra]
        _, rep3, _ = run(a.snapcheck, a.impl, a.format, extra2, tmp, "c")
        if [r["evidence"] for r in rep3["requirements"]] == [r["evidence"] for r in rep["requirements"]] \
                and rep3["seed"] == rep["seed"]:
            fail("another seed did not change the seed recorded")
        print("check_conform: deterministic (%d requirements)" % len(reqs))
        return
    if a.expect_pass:
        if rc != 0 or failed or rep["verdict"] != "conform":
            fail("exit %d, verdict %s, failed: %s" % (rc, rep["verdict"], ", ".join(failed)))
        must = ["P-SAVE-1", "P-LOAD-1", "P-LOAD-2"]
        if rep["format"] == "reference":
            must += ["F-VEC-1", "F-IOP-01", "F-IOP-03", "F-LOAD-6.1.4", "F-PAIR-1", "F-LEN-02"]
        for i in must:
            if reqs[i]["status"] != "pass" or reqs[i]["checks"] < 1:
                fail("%s is %s with %d checks (passed with checks expected)" % (i, reqs[i]["status"], reqs[i]["checks"]))
    for i in a.expect_fail:
        if rc != 1 or rep["verdict"] != "non-conform":
            fail("exit %d, verdict %s: non-conform (exit 1) expected" % (rc, rep["verdict"]))
        if reqs[i]["status"] != "fail":
            fail("%s is %s, fail expected (failed: %s)" % (i, reqs[i]["status"], ", ".join(failed)))
        if not any(f["requirement"] == i for f in rep["findings"]):
            fail("no finding names %s" % i)
        tc = [t for t in suite.findall("testcase") if t.get("name").startswith(i + " ")]
        if not tc or tc[0].find("failure") is None:
            fail("the JUnit testcase of %s has no failure" % i)
        print("check_conform: %s flagged: %s" % (i, reqs[i]["evidence"][:300]))
    for i in a.expect_pass_id:
        if reqs[i]["status"] != "pass":
            fail("%s is %s, pass expected: %s" % (i, reqs[i]["status"], reqs[i]["evidence"][:300]))
    print("check_conform: ok (failed: %s)" % (", ".join(failed) or "none"))


if __name__ == "__main__":
    main()
