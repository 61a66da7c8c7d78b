"""report.html as a reader sees it in headless Chromium: header, tests, timeline, frames, links.

Each check reads the DOM Chromium left after loading the page (`selftests.chromium_support`),
never the template: the header's fields, one row per test of the run's JUnit file with the
test's own docstring, one bar per layer in the timeline's SVG, every frame decoded, labelled
by its camera and shown at least 480 px wide, and every link resolving to a file of the
reports folder (and every file of the folder linked). A healthy twin run and a failed one
(`--twin-fault one-device`: cam2's device is missing, so no frame is captured) are both
rendered. A test name or failure message holding `<script>` is shown as text, never run.
"""

from __future__ import annotations

import ast
import json
import re
import socket
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote

import pytest

from fixtures.evidence.folder import MANIFEST
from fixtures.evidence.header import RunHeader
from fixtures.evidence.report import CaseOutcome, LayerVerdict, RunSummary
from fixtures.evidence.report_html import render_html
from fixtures.evidence.timeline import BAR_WIDTH, chart, layer_times
from fixtures.layers import LAYERS
from fixtures.record.timings import Timings
from selftests.chromium_support import dump_dom, parse_dom, text
from selftests.suite_run import REPO, run_suite

INJECTED = "<script>document.body.setAttribute('data-injected','yes')</script>"


def _docs() -> dict[str, str]:
    """`tests/test_x.py::test_y` -> the summary line of test_y's docstring, from the source."""
    docs = {}
    for module in sorted((REPO / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                first = (ast.get_docstring(node) or "").split("\n\n")[0]
                docs[f"tests/{module.name}::{node.name}"] = " ".join(first.split())
    return docs


def _junit_ids(reports: Path) -> list[str]:
    root = ET.parse(reports / "junit.xml").getroot()
    return [
        f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name')}"
        for case in root.iter("testcase")
    ]


def _page(reports: Path, profile: Path) -> ET.Element:
    root = parse_dom(dump_dom(reports / "report.html", profile))
    body = root.find(".//body")
    assert body is not None and "data-images-rendered" in body.attrib, "the page's script ran"
    return root


def _rows(page: ET.Element) -> dict[str, ET.Element]:
    return {tr.get("data-nodeid", ""): tr for tr in page.iterfind(".//tr[@class='test']")}


def _check_header(page: ET.Element, reports: Path, *, fault: str) -> None:
    field = {dd.get("data-field"): text(dd) for dd in page.iterfind(".//dl[@id='run']/dd")}
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", field["date"]), field
    assert re.fullmatch(r"commit [0-9a-f]{12}(\+modified)?", field["suite"]), field
    assert field["command"].startswith("pytest -k akri") and str(reports) in field["command"]
    assert field["host"].startswith(socket.gethostname()), field
    assert field["target"].startswith("twin: the local edge twin (a model"), field
    assert field["faults"] == fault
    versions = list(page.iterfind(".//table[@id='versions']//tr"))[1:]  # after the head
    assert versions and all(text(tr).endswith("modelled") for tr in versions)


def _check_tests(page: ET.Element, reports: Path) -> dict[str, ET.Element]:
    rows, docs = _rows(page), _docs()
    assert sorted(rows) == sorted(_junit_ids(reports)), "one row per test of the run"
    for nodeid, tr in rows.items():
        doc = text(tr.find(".//span[@class='doc']"))
        assert doc == docs[nodeid.split("[")[0]] and doc, f"{nodeid}: {doc!r}"
    return rows


def _check_timeline(page: ET.Element, reports: Path) -> dict[str, dict[str, str]]:
    bars = list(page.iterfind(".//svg[@id='timeline']/g[@class='layer-bar']"))
    assert [g.get("data-layer") for g in bars] == list(LAYERS), "one bar per layer, in order"
    assert all(g.find("rect[@class='install']") is not None for g in bars)
    assert all(g.find("rect[@class='tests']") is not None for g in bars)
    totals = json.loads((reports / "timings.json").read_text())["totals"]
    shown = sum(float(g.get("data-install-seconds", "")) for g in bars)
    assert shown == pytest.approx(totals["install_seconds"], abs=0.01)
    return {g.get("data-layer", ""): dict(g.attrib) for g in bars}


def _check_links(page: ET.Element, reports: Path) -> set[str]:
    linked = {unquote(a.get("href", "")) for a in page.iterfind(".//a[@href]")}
    assert linked and all((reports / rel).is_file() for rel in linked), linked
    files = [p for p in reports.rglob("*") if p.is_file() and p.name != MANIFEST]
    written = {p.relative_to(reports).as_posix() for p in files}
    assert written <= linked, f"evidence files without a link: {written - linked}"
    return linked


@pytest.mark.slow
def test_healthy_run_page_shows_header_tests_timeline_and_labelled_frames(tmp_path):
    reports = tmp_path / "reports"
    proc = run_suite(f"--reports-dir={reports}")
    assert proc.returncode == 0, proc.stdout[-3000:]
    page = _page(reports, tmp_path / "profile")
    assert text(page.find(".//h1")) == "Akri on MicroK8s conformance: PASSED (all 9 layers)"
    _check_header(page, reports, fault="none")
    rows = _check_tests(page, reports)
    assert {tr.get("data-outcome") for tr in rows.values()} == {"passed"}
    bars = _check_timeline(page, reports)
    assert all(float(bars[layer]["data-test-seconds"]) > 0 for layer in LAYERS)
    assert float(bars["microk8s"]["data-install-seconds"]) > 0

    listing = json.loads((reports / "frames" / "feeds.json").read_text())["feeds"]
    figures = list(page.iterfind(".//figure[@class='feed']"))
    assert [text(f.find(".//span[@class='camera']")) for f in figures] == [
        feed["camera"] for feed in listing
    ]
    assert "cam2 /dev/video2" in [text(f.find(".//span[@class='camera']")) for f in figures]
    images = [img for f in figures for img in f.iter("img")]
    assert len(images) == len(listing) and all(i.get("data-decoded") == "yes" for i in images)
    assert all(int(i.get("data-shown-width", "0")) >= 480 for i in images), "readable size"
    sheet = page.find(".//figure[@class='sheet']/img")
    assert sheet is not None and sheet.get("data-decoded") == "yes"
    linked = _check_links(page, reports)
    assert {"junit.xml", "summary.md", "timings.json", "frames/cam2.jpg"} <= linked


@pytest.mark.slow
def test_failed_run_page_shows_the_failure_its_row_and_its_diagnostics(tmp_path):
    reports = tmp_path / "reports"
    proc = run_suite(f"--reports-dir={reports}", "--twin-fault", "one-device")
    assert proc.returncode == 1, proc.stdout[-3000:]
    page = _page(reports, tmp_path / "profile")
    assert text(page.find(".//h1")).startswith("Akri on MicroK8s conformance: FAILED")
    _check_header(page, reports, fault="one-device")
    rows = _check_tests(page, reports)
    failed = [nodeid for nodeid, tr in rows.items() if tr.get("data-outcome") == "failed"]
    assert failed == ["tests/test_20_v4l2loopback.py::test_video_devices[cam2]"]
    row = rows[failed[0]]
    assert "/dev/video2: missing" in text(row.find(".//span[@class='reason']"))
    link = row.find(".//a[@href]")
    assert link is not None and (reports / unquote(link.get("href", ""))).name == "index.md"
    assert {tr.get("data-outcome") for tr in rows.values()} == {"passed", "failed", "skipped"}
    bars = _check_timeline(page, reports)
    assert float(bars["v4l2loopback"]["data-install-seconds"]) > 0
    assert float(bars["microk8s"]["data-install-seconds"]) == 0  # never reached
    assert page.find(".//figure[@class='feed']") is None
    assert "No frames were captured" in text(page.find(".//body"))
    linked = _check_links(page, reports)
    assert any(rel.endswith("/index.md") for rel in linked)


def test_a_script_in_a_test_name_or_message_is_shown_as_text(tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    nodeid = f"tests/test_70_streaming.py::test_x[{INJECTED}]"
    summary = RunSummary(
        target="twin",
        faults="none",
        exitstatus=1,
        seconds=1.0,
        outcomes=[CaseOutcome(nodeid, "streaming", "failed", f"boom {INJECTED}", doc=INJECTED)],
        versions={"kernel": INJECTED},
        timings=Timings().as_dict([]),
        header=RunHeader.of(0.0, ["-k", INJECTED]),
    )
    page_file = reports / "report.html"
    page_file.write_text(render_html(summary, reports))
    page = parse_dom(dump_dom(page_file, tmp_path / "profile"))
    body = page.find(".//body")
    assert body is not None and "data-images-rendered" in body.attrib, "the page's script ran"
    assert "data-injected" not in body.attrib, "an injected script ran"
    row = _rows(page)[nodeid]
    assert INJECTED in text(row.find(".//code[@class='name']"))
    assert INJECTED in text(row.find(".//span[@class='doc']"))
    assert f"boom {INJECTED}" in text(row.find(".//span[@class='reason']"))
    assert "-k '<script>document.body" in text(page.find(".//dd[@data-field='command']"))
    assert len(page.findall(".//script")) == 1, "only the page's own script is an element"


def test_timeline_takes_the_install_out_of_the_tests_that_waited_for_it():
    # `-k streaming`: every install step ran in the streaming test's setup, none counted twice
    others = [layer for layer in LAYERS if layer != "streaming"]
    verdicts = [LayerVerdict(layer, "not run", {}, "not selected") for layer in others]
    verdicts.append(LayerVerdict("streaming", "passed", {"passed": 1}, "", seconds=10.0))
    steps = [{"layer": "microk8s", "seconds": 3.0}, {"layer": "streaming", "seconds": 1.0}]
    times = {t.layer: t for t in layer_times(verdicts, {"install_steps": steps})}
    assert (times["microk8s"].install, times["microk8s"].tests) == (3.0, 0.0)
    assert (times["streaming"].install, times["streaming"].tests) == (1.0, 6.0)
    bars = chart(list(times.values())).bars
    assert max(b.install_width + b.tests_width for b in bars) == BAR_WIDTH
