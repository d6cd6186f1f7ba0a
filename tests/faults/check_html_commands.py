#!/usr/bin/env python3
"""The --html pages of the commands other than faults (check_html.py covers faults).

usage: check_html_commands.py [--chromium] crash|conform|fuzz SNAPCHECK IMPL

crash   (IMPL: snapbad --protocol no-fsync, every model): the page parses as XML, is
        self-contained, says VERDICT: FAIL; its matrix has one row per recording unit of the
        JSON report and one column per model; a cell is red exactly when the JSON counts
        findings for that unit and model, and it links to a list holding those findings' ids
        (each with its reproducer); the findings section lists exactly the JSON's findings.
conform (IMPL: badload --bug skip-page-crc): VERDICT: DOES NOT CONFORM; one chip per
        requirement, coloured by its JSON status and linking to its row; the table's status
        column equals the JSON's; the findings section lists the JSON's findings.
fuzz    (IMPL: badload --bug skip-page-crc, fuzz --impl): VERDICT: FAIL and the findings.
With --chromium the page is also rendered by headless Chromium (check_html.check_chromium).
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_html import NS, check_chromium, fail, text  # noqa: E402


def load(html):
    with open(html, encoding="utf-8") as f:
        raw = f.read()
    root = ET.fromstring(raw)
    for bad in ("<script", "<link", " src=", "url(", "http://", "https://"):
        if bad in raw.replace('xmlns="http://www.w3.org/1999/xhtml"', ""):
            fail(f"the page is not self-contained: it holds {bad!r}")
    return root


def run(cmd, want):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if p.returncode != want:
        sys.stderr.write(p.stdout[-3000:] + p.stderr[-3000:])
        fail(f"{' '.join(cmd[:2])}: exit {p.returncode}, expected {want}")


def check_crash(tmp, sc, impl):
    html, js = os.path.join(tmp, "crash.html"), os.path.join(tmp, "crash.json")
    run([sc, "crash", "--impl", impl, "--model", "all", "-q", "--html", html, "--json", js], 1)
    rep = json.load(open(js, encoding="utf-8"))
    root = load(html)
    if text(root.find(f".//{NS}h1")) != "VERDICT: FAIL":
        fail("no 'VERDICT: FAIL' heading")
    table = root.find(f".//{NS}table")
    models = [text(th) for th in table.findall(f"./{NS}thead/{NS}tr/{NS}th")][1:]
    if models != ["prefix", "posix", "ext4-ordered"]:
        fail(f"columns {models}, expected the three models")
    rows = table.findall(f"./{NS}tbody/{NS}tr")
    if len(rows) != len(rep["units"]):
        fail(f"{len(rows)} rows for {len(rep['units'])} recording units")
    lists = {d.get("id"): d for d in root.iter(f"{NS}div") if d.get("class") == "cases"}
    ids = {f["id"] for f in rep["findings"]}
    seen = set()
    for row, unit in zip(rows, rep["units"]):
        cells = row.findall(f".//{NS}a")
        for m, a in zip(models, cells):
            n = unit["models"][m]["findings"]
            red = "finding" in a.get("class").split()
            if red != (n > 0):
                fail(f"cell {a.get('title')!r}: red={red} with {n} findings in the JSON")
            if not red:
                continue
            target = lists.get((a.get("href") or "#")[1:])
            if target is None:
                fail(f"red cell {a.get('title')!r} links to no list")
            body = text(target)
            suffix = f"+eio@{unit['fsync_fails']}/" if unit["fsync_fails"] else None
            want = {i for i in ids if i.startswith(unit["scenario"] + "/")
                    and i.split("/")[2].split("+")[0] == m
                    and ((suffix and suffix in i) or (not suffix and "+eio@" not in i))}
            got = set(re.findall(r"[a-z-]+/[a-z0-9]+/[a-z0-9-]+(?:\+eio@\d+)?/[a-z]+=[0-9,]+", body))
            if want and not (want <= got):
                fail(f"cell {a.get('title')!r}: findings {sorted(want - got)} not in its list")
            if "reproduce: " not in body and "kept once" not in body:
                fail(f"cell {a.get('title')!r}: its list has neither a reproducer nor says "
                     "where its counterexamples are")
            seen |= got
    fdiv = [d for d in root.iter(f"{NS}div") if d.get("class") == "findings"][0]
    listed = set(re.findall(r"[a-z-]+/[a-z0-9]+/[a-z0-9-]+(?:\+eio@\d+)?/[a-z]+=[0-9,]+",
                            text(fdiv)))
    if listed != ids:
        fail("the findings section does not list exactly the JSON findings")
    return html


def check_conform(tmp, sc, impl):
    html, js = os.path.join(tmp, "conform.html"), os.path.join(tmp, "conform.json")
    run([sc, "conform", "--impl", impl, "--format", "reference", "--max-probes", "60",
         "--page-size", "4096", "--html", html, "--json", js], 1)
    rep = json.load(open(js, encoding="utf-8"))
    root = load(html)
    if text(root.find(f".//{NS}h1")) != "VERDICT: DOES NOT CONFORM":
        fail("no 'VERDICT: DOES NOT CONFORM' heading")
    cls = {"pass": "pass", "fail": "finding", "n/a": "na"}
    chips = [a for a in root.find(f".//{NS}table").iter(f"{NS}a")]
    if [text(a) for a in chips] != [r["id"] for r in rep["requirements"]]:
        fail("the chips are not the requirements in order")
    rows = {r.get("id"): r for r in root.iter(f"{NS}tr") if r.get("id")}
    for a, req in zip(chips, rep["requirements"]):
        if cls[req["status"]] not in a.get("class").split():
            fail(f"chip {req['id']} is {a.get('class')!r}, status {req['status']}")
        row = rows.get(a.get("href")[1:])
        if row is None:
            fail(f"chip {req['id']} links to no row")
        st = text(row.findall(f"{NS}td")[1])
        if st != req["status"]:
            fail(f"row {req['id']} says {st!r}, the JSON {req['status']!r}")
    if not any(r["status"] == "fail" for r in rep["requirements"]):
        fail("the known-bad loader failed no requirement")
    fdiv = [d for d in root.iter(f"{NS}div") if d.get("class") == "findings"][0]
    if len(fdiv.findall(f"{NS}div")) != len(rep["findings"]):
        fail("the findings section does not list the JSON findings")
    return html


def check_fuzz(tmp, sc, impl):
    html = os.path.join(tmp, "fuzz.html")
    run([sc, "fuzz", "--impl", impl, "--runs", "300", "--seed", "1", "-q", "--html", html], 1)
    root = load(html)
    if text(root.find(f".//{NS}h1")) != "VERDICT: FAIL":
        fail("no 'VERDICT: FAIL' heading")
    fdiv = [d for d in root.iter(f"{NS}div") if d.get("class") == "findings"][0]
    if "accepts what the reference refuses" not in text(fdiv):
        fail("the findings section does not hold the finding")
    return html


def main():
    args = sys.argv[1:]
    chromium = args[:1] == ["--chromium"]
    if chromium:
        args = args[1:]
    what, sc, impl = args
    with tempfile.TemporaryDirectory() as tmp:
        html = {"crash": check_crash, "conform": check_conform, "fuzz": check_fuzz}[what](
            tmp, sc, impl)
        if chromium:
            check_chromium(html, tmp)
    print("ok")


if __name__ == "__main__":
    main()
