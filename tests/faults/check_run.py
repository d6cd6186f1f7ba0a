#!/usr/bin/env python3
"""Run snapcheck and check its verdict: exit code, JSON report, expected oracle, stderr text.

usage: check_run.py --exit N [--oracle NAME] [--finding-call CALL] [--stderr TEXT]
                    [--stdout TEXT] [--min-cases N] [--junit] -- snapcheck faults ...
The JSON and JUnit paths are added by this script; every report is parsed (json, and
xml.etree for the JUnit XML), so an invalid one fails. --junit is accepted for compatibility
(the JUnit report is always checked). Exits 1 with a reason on any mismatch.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exit", type=int, required=True)
    ap.add_argument("--oracle", action="append", default=[])
    ap.add_argument("--finding-call")
    ap.add_argument("--stderr")
    ap.add_argument("--stdout", action="append", default=[])
    ap.add_argument("--min-cases", type=int, default=1)
    ap.add_argument("--junit", action="store_true")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    with tempfile.TemporaryDirectory() as tmp:
        jpath = os.path.join(tmp, "report.json")
        xpath = os.path.join(tmp, "report.xml")
        full = cmd + ["--json", jpath, "--junit", xpath]
        p = subprocess.run(full, capture_output=True, text=True)
        sys.stdout.write(p.stdout[-4000:])
        sys.stderr.write(p.stderr[-2000:])
        if p.returncode != a.exit:
            sys.exit(f"FAIL: exit {p.returncode}, expected {a.exit}")
        if a.stderr and a.stderr not in p.stderr:
            sys.exit(f"FAIL: stderr lacks {a.stderr!r}")
        for text in a.stdout:
            if text not in p.stdout:
                sys.exit(f"FAIL: stdout lacks {text!r}")
        if a.exit == 2:
            if os.path.exists(jpath) or os.path.exists(xpath):
                sys.exit("FAIL: a set-up error must not write a report")
            return
        # Strict UTF-8: a report with a split character or a stray byte fails here.
        with open(jpath, encoding="utf-8", errors="strict") as f:
            rep = json.load(f)
        for key in ("tool", "version", "impl", "verdict", "cases", "passed", "ambiguous",
                    "findings"):
            if key not in rep:
                sys.exit(f"FAIL: JSON lacks key {key}")
        if rep["cases"] < a.min_cases:
            sys.exit(f"FAIL: only {rep['cases']} cases")
        if rep["passed"] + rep["ambiguous"] + len(rep["findings"]) != rep["cases"]:
            sys.exit("FAIL: passed + ambiguous + findings != cases")
        if a.exit == 0:
            if rep["verdict"] != "pass" or rep["findings"]:
                sys.exit(f"FAIL: expected a pass, got {rep['verdict']} with "
                         f"{len(rep['findings'])} findings")
        else:
            if rep["verdict"] != "fail" or not rep["findings"]:
                sys.exit("FAIL: expected findings")
            got = {f["oracle"] for f in rep["findings"]}
            for o in a.oracle:
                if o not in got:
                    sys.exit(f"FAIL: no finding of oracle {o} (got {sorted(got)})")
            if a.finding_call and not any(f["id"].split("/")[2] == a.finding_call
                                          for f in rep["findings"] if f["oracle"] in a.oracle):
                sys.exit(f"FAIL: no {a.oracle} finding at a {a.finding_call} call")
            for f in rep["findings"]:
                for key in ("id", "scenario", "oracle", "detail", "trace", "load", "reproducer"):
                    if key not in f:
                        sys.exit(f"FAIL: finding lacks key {key}")
                if f"--case '{f['id']}'" not in f["reproducer"]:
                    sys.exit("FAIL: reproducer does not name the case")
        # A JUnit report that is not well-formed XML (or not UTF-8) fails to parse here.
        root = ET.parse(xpath).getroot()
        n = len(root.findall(".//testcase"))
        fails = len(root.findall(".//testcase/failure"))
        if n != rep["cases"] or fails != len(rep["findings"]):
            sys.exit(f"FAIL: JUnit has {n} testcases / {fails} failures, JSON "
                     f"{rep['cases']} / {len(rep['findings'])}")
    print("ok")


if __name__ == "__main__":
    main()
