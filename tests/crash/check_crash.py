#!/usr/bin/env python3
"""Run `snapcheck crash` against one implementation under test and judge its JSON report.

Used by tests/crash/meson.build. --expect-oracle: exit 1 with a finding of one of these oracles
(and, with --expect-model, found under that model); --expect-pass: exit 0, no finding, nothing
unchecked; --expect-unchecked: exit 1, no finding, at least one scenario UNCHECKED.
Exit 0 when the expectation holds, 1 when not, 77 when snapcheck is not built, 99 when snapcheck
fails to run (usage or set-up error).
"""
import argparse
import json
import xml.etree.ElementTree
import os
import subprocess
import sys
import tempfile


def judge(rc, rep, args):
    if not isinstance(rep, dict) or rep.get("tool") != "snapcheck":
        return "the JSON report is not a snapcheck report"
    if args.command == "crash" and rep.get("command") != "crash":
        return "the JSON report is not a snapcheck crash report"
    findings = rep.get("findings", [])
    unchecked = rep.get("unchecked", [])
    if args.expect_pass:
        if rc != 0 or findings or unchecked or rep.get("verdict") != "pass":
            return "expected PASS, got exit %d, %d findings, %d unchecked: %s" % (
                rc, len(findings), len(unchecked),
                "; ".join(f["id"] + " " + f["oracle"] for f in findings[:5]))
        if rep.get("states", rep.get("cases", 0)) <= 0:
            return "no state was judged"
        return None
    if args.expect_unchecked:
        if rc != 1 or not unchecked or rep.get("verdict") != "unchecked":
            return "expected UNCHECKED (exit 1), got exit %d, verdict %s" % (
                rc, rep.get("verdict"))
        return None
    want = set(args.expect_oracle.split(","))
    if rc != 1:
        return "expected findings (exit 1), got exit %d" % rc
    hits = [f for f in findings if f.get("oracle") in want]
    if args.expect_model:
        hits = [f for f in hits if f["id"].split("/")[2].split("+")[0] == args.expect_model]
    if not hits:
        return "no finding of oracle %s%s among: %s" % (
            args.expect_oracle, " under " + args.expect_model if args.expect_model else "",
            "; ".join(f["id"] + " " + f["oracle"] for f in findings[:8]))
    for f in hits:
        if not f.get("minimal") or not f.get("reproducer", "").startswith("snapcheck crash"):
            return "finding %s has no minimal counterexample or reproducer" % f["id"]
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--snapcheck", required=True)
    ap.add_argument("--impl", required=True)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--expect-oracle")
    g.add_argument("--expect-pass", action="store_true")
    g.add_argument("--expect-unchecked", action="store_true")
    ap.add_argument("--expect-model")
    ap.add_argument("--command", default="crash", choices=["crash", "faults"])
    ap.add_argument("--expect-corpus", action="store_true",
                    help="with --export-corpus: torn or partial state and memory files written")
    ap.add_argument("--same-without-memo", action="store_true",
                    help="run again with SNAPCHECK_CRASH_NO_MEMO=1: the same states and findings")
    ap.add_argument("rest", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    if not args.snapcheck or not os.path.exists(args.snapcheck):
        return 77
    extra = [a for a in args.rest if a != "--"]
    with tempfile.TemporaryDirectory() as tmp:
        rp = os.path.join(tmp, "report.json")
        impl = [] if args.impl == "-" else ["--impl", args.impl]  # "-": --lib in the extra
        xp = os.path.join(tmp, "report.xml")
        cmd = [args.snapcheck, args.command] + impl + ["-q", "--json", rp, "--junit", xp] + extra
        corpus = os.path.join(tmp, "corpus")
        if args.expect_corpus:
            cmd += ["--export-corpus", corpus]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if p.returncode not in (0, 1) or not os.path.exists(rp):
            print("snapcheck failed (exit %d): %s" % (p.returncode, p.stderr.strip()))
            return 99
        with open(rp, encoding="utf-8") as f:
            rep = json.load(f)
        # The JUnit report must be well-formed XML whatever the IUT wrote on stderr.
        xml.etree.ElementTree.parse(xp)
        if args.expect_corpus:
            for kind in ("state", "memory"):
                d = os.path.join(corpus, kind)
                files = os.listdir(d) if os.path.isdir(d) else []
                if not files:
                    print("FAIL: --export-corpus wrote no %s file" % kind)
                    return 1
        if args.same_without_memo:
            env = dict(os.environ, SNAPCHECK_CRASH_NO_MEMO="1")
            p2 = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env)
            with open(rp, encoding="utf-8") as f:
                rep2 = json.load(f)
            a = (p.returncode, rep["states"], sorted(f["id"] for f in rep["findings"]))
            b = (p2.returncode, rep2["states"], sorted(f["id"] for f in rep2["findings"]))
            if a != b or rep2["judged"] <= rep["judged"]:
                print("FAIL: the verdict memo changed the result: %s vs %s (judged %d vs %d)"
                      % (a, b, rep["judged"], rep2["judged"]))
                return 1
    why = judge(p.returncode, rep, args)
    if why:
        print("FAIL: " + why)
        print(p.stdout[-3000:])
        return 1
    print("OK: " + p.stdout.strip().splitlines()[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
