#!/usr/bin/env python3
"""The --html report of a failing campaign (toyimpl two-rename over full-over-full).

usage: check_html.py [--chromium | --many-calls] SNAPCHECK TOYIMPL
       check_html.py --unchecked SNAPCHECK SNAPBAD

Always: the page parses as XML (it is written XHTML-compatible), is self-contained (no
script, no link, no src, no url() to anything), says VERDICT: FAIL, has a fault matrix for the
scenario with finding cells, each finding cell links to a case list that holds the finding's
id, trace and reproducer, and the findings section lists exactly the JSON report's findings.
With --many-calls: a step of about a thousand counted calls (toyimpl --chunk 2048) gets a
column only for the calls that have cases, and the page says how many it leaves out.
With --unchecked: a scenario whose audit fails (snapbad stdio-state) makes the page's verdict
UNCHECKED, never PASS, and the scenario says why.
With --chromium: Debian's headless Chromium renders the page to a PNG of the window size
(1280x900) without console errors; exit 77 (skip) when chromium is not installed.
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/1999/xhtml}"


def fail(msg):
    sys.exit(f"FAIL: {msg}")


def text(el):
    return "".join(el.itertext())


def run_campaign(tmp, sc, toy):
    html = os.path.join(tmp, "report.html")
    js = os.path.join(tmp, "report.json")
    p = subprocess.run([sc, "faults", "--impl", f"{toy} --protocol two-rename", "--scenario",
                        "full-over-full", "-q", "--html", html, "--json", js],
                       capture_output=True, text=True)
    if p.returncode != 1:
        sys.stderr.write(p.stderr)
        fail(f"snapcheck exit {p.returncode}, expected 1")
    with open(js, encoding="utf-8") as f:
        rep = json.load(f)
    return html, rep


def check_structure(html, rep):
    with open(html, encoding="utf-8") as f:
        raw = f.read()
    root = ET.fromstring(raw)  # well-formed, or this raises
    for bad in ("<script", "<link", " src=", "url(", "http://", "https://"):
        if bad in raw.replace('xmlns="http://www.w3.org/1999/xhtml"', ""):
            fail(f"the page is not self-contained: it holds {bad!r}")
    h1 = root.find(f".//{NS}h1")
    if h1 is None or text(h1) != "VERDICT: FAIL":
        fail("no 'VERDICT: FAIL' heading")
    tables = root.findall(f".//{NS}table")
    if len(tables) != 1:
        fail(f"expected one fault matrix, found {len(tables)}")
    rows = tables[0].findall(f"./{NS}tbody/{NS}tr")
    if [text(r.find(f"{NS}th")) for r in rows] != ["errno", "short", "crash-before",
                                                  "crash-after"]:
        fail("the matrix rows are not the four fault kinds")
    calls = rep["scenarios"][0]["calls"]
    cells = [a for r in rows for a in r.iter(f"{NS}a")]
    if len(cells) != 4 * calls:
        fail(f"{len(cells)} cells for {calls} calls x 4 kinds")
    classes = [a.get("class").split()[1] for a in cells]
    lists = {d.get("id"): d for d in root.iter(f"{NS}div") if d.get("class") == "cases"}
    finding_ids = {f["id"] for f in rep["findings"]}
    seen = set()
    for a, cls in zip(cells, classes):
        href = a.get("href")
        if cls == "notrun":
            if href is not None:
                fail("a not-run cell links somewhere")
            continue
        if not href or href[1:] not in lists:
            fail(f"cell {a.get('title')!r} links to no case list")
        body = text(lists[href[1:]])
        ids = set(re.findall(r"full-over-full/\d+/[a-z0-9_]+/[a-zA-Z0-9=_-]+", body))
        if cls == "finding":
            hit = ids & finding_ids
            if not hit:
                fail(f"finding cell {a.get('title')!r} shows no finding id")
            seen |= hit
            if "reproduce: " not in body or "injected" not in body:
                fail(f"finding cell {a.get('title')!r} lacks the trace or reproducer")
    if seen != finding_ids:
        fail(f"findings without a red cell: {sorted(finding_ids - seen)}")
    if classes.count("finding") == 0 or classes.count("pass") == 0:
        fail("expected both finding and pass cells")
    fdiv = [d for d in root.iter(f"{NS}div") if d.get("class") == "findings"]
    listed = set(re.findall(r"full-over-full/\d+/[a-z0-9_]+/[a-zA-Z0-9=_-]+", text(fdiv[0])))
    if listed != finding_ids:
        fail("the findings section does not list exactly the JSON findings")


def check_chromium(html, tmp):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        print("chromium is not installed: skipped")
        sys.exit(77)
    png = os.path.join(tmp, "report.png")
    p = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--no-first-run",
                        "--enable-logging=stderr", "--v=0", f"--screenshot={png}",
                        "--window-size=1280,900", "file://" + html],
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, HOME=tmp))
    console = [l for l in p.stderr.splitlines() if "CONSOLE" in l]
    if console:
        fail(f"console messages while rendering: {console[:3]}")
    if p.returncode != 0 or not os.path.exists(png):
        sys.stderr.write(p.stderr[-2000:])
        fail(f"chromium exit {p.returncode}, no screenshot")
    with open(png, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        fail("the screenshot is not a PNG")
    w, h = struct.unpack(">II", head[16:24])
    if (w, h) != (1280, 900):
        fail(f"the screenshot is {w}x{h}, expected 1280x900")
    if os.path.getsize(png) < 10000:
        fail("the screenshot is nearly empty")
    keep = os.environ.get("SNAPCHECK_HTML_SCREENSHOT")
    if keep:
        shutil.copy(png, keep)


def check_many_calls(tmp, sc, toy):
    html = os.path.join(tmp, "many.html")
    js = os.path.join(tmp, "many.json")
    p = subprocess.run([sc, "faults", "--impl", f"{toy} --chunk 2048", "--scenario",
                        "first-save", "-q", "--html", html, "--json", js],
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stderr)
        fail(f"snapcheck exit {p.returncode}, expected 0")
    with open(js, encoding="utf-8") as f:
        calls = json.load(f)["scenarios"][0]["calls"]
    with open(html, encoding="utf-8") as f:
        root = ET.fromstring(f.read())
    if calls <= 300:
        fail(f"only {calls} counted calls: not a large step")
    heads = root.findall(f".//{NS}table/{NS}thead/{NS}tr/{NS}th")[1:]
    shown = [int(text(h)) for h in heads]
    if not shown or len(shown) >= 300 or shown != sorted(shown) or shown[-1] != calls:
        fail(f"{len(shown)} columns for {calls} calls: {shown[:20]}")
    meta = text(root.findall(f".//{NS}p")[2])
    if f"{calls - len(shown)} calls without a case are not shown" not in meta:
        fail(f"the page does not say what it leaves out: {meta!r}")


def check_unchecked(tmp, sc, snapbad):
    html = os.path.join(tmp, "unchecked.html")
    p = subprocess.run([sc, "faults", "--impl", f"{snapbad} --protocol stdio-state",
                        "--scenario", "full-over-full", "-q", "--html", html],
                       capture_output=True, text=True)
    if p.returncode != 1:
        sys.stderr.write(p.stderr)
        fail(f"snapcheck exit {p.returncode}, expected 1")
    with open(html, encoding="utf-8") as f:
        root = ET.fromstring(f.read())
    h1 = text(root.find(f".//{NS}h1"))
    if h1 != "VERDICT: UNCHECKED":
        fail(f"an unchecked campaign's page says {h1!r}")
    if "UNCHECKED:" not in text(root.findall(f".//{NS}p")[2]):
        fail("the unchecked scenario does not say why")


def main():
    args = sys.argv[1:]
    mode = args[0] if args[:1] in (["--chromium"], ["--many-calls"], ["--unchecked"]) else None
    if mode:
        args = args[1:]
    chromium = mode == "--chromium"
    sc, toy = args
    if mode in ("--many-calls", "--unchecked"):
        with tempfile.TemporaryDirectory() as tmp:
            (check_many_calls if mode == "--many-calls" else check_unchecked)(tmp, sc, toy)
        print("ok")
        return
    with tempfile.TemporaryDirectory() as tmp:
        html, rep = run_campaign(tmp, sc, toy)
        check_structure(html, rep)
        if chromium:
            check_chromium(html, tmp)
    print("ok")


if __name__ == "__main__":
    main()
