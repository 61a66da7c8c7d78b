"""The summary and the self-contained HTML report, checked the way a person sees them.

The HTML report is loaded in real headless Chromium (Debian's `chromium`, installed by
.ci/setup), from a file URL, with a Content-Security-Policy that forbids any fetch: its inline
script counts the images that really rendered into a `<body>` attribute, read back with
`--dump-dom`. A frame that does not decode must show as not rendered, so the count means
something. The slow test does the same with the report of a healthy twin run, whose frames
must be valid 640x480 JPEGs with a labelled contact sheet.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from fixtures.evidence.contact_sheet import feeds, make_contact_sheet
from fixtures.evidence.report import CaseOutcome, RunSummary, render_markdown
from fixtures.evidence.report_html import render_html
from fixtures.record.timings import Timings
from selftests.chromium_support import dump_dom

REPO = Path(__file__).resolve().parent.parent


def rendered_images(page: Path, profile: Path) -> tuple[int, int]:
    """(images rendered, images on the page) as headless Chromium counted them."""
    dom = dump_dom(page, profile)
    body = re.search(r"<body[^>]*>", dom)
    assert body, f"no <body> in Chromium's DOM dump: {dom[:500]!r}"
    rendered = re.search(r'data-images-rendered="(\d+)"', body.group(0))
    total = re.search(r'data-images-total="(\d+)"', body.group(0))
    assert rendered and total, f"the report's script did not run: {body.group(0)}"
    return int(rendered.group(1)), int(total.group(1))


def _frames(frames: Path) -> None:
    frames.mkdir(parents=True)
    for number, color in enumerate([(200, 30, 30), (30, 200, 30), (30, 30, 200)]):
        path = frames / f"feed-{number}.jpg"
        Image.new("RGB", (640, 480), color).save(path, "JPEG")
        with path.open("ab") as handle:
            handle.write(b"\0" * 8192)  # zero padding after the EOI, as V4L2 buffers carry
    (frames / "feed-3.jpg").write_bytes(b"\xff\xd8 cut short")
    listing = [{"id": 0, "source": "configuration service (any broker)"}] + [
        {"id": n, "instance": f"akri-udev-video-{n:06x}"} for n in (1, 2, 3)
    ]
    (frames / "feeds.json").write_text(json.dumps({"feeds": listing}))


def test_html_report_renders_its_frames_in_chromium(tmp_path):
    reports = tmp_path / "reports"
    _frames(reports / "frames")
    make_contact_sheet(reports / "frames")
    failure = "timed out waiting for 2 broker pods\nAuthorization: Bearer planted0token0value"
    summary = RunSummary(
        target="twin",
        faults="broker-crashloop",
        exitstatus=1,
        seconds=12.5,
        outcomes=[
            CaseOutcome("tests/test_10_target.py::test_target_reachable", "target", "passed"),
            CaseOutcome(
                "tests/test_60_akri_instances.py::test_brokers_running",
                "akri_instances",
                "failed",
                failure,
                str(reports / "test_60_akri_instances.py__test_brokers_running"),
            ),
        ],
        versions={"kernel": "6.8.0-1019-gcp", "akri_chart": "akri-dev-0.13.26"},
        timings=Timings().as_dict([]),
        feeds=feeds(reports / "frames"),
        contact_sheet="frames/contact-sheet.jpg",
    )
    page = reports / "report.html"
    page.write_text(render_html(summary, reports))
    html = page.read_text()
    assert "planted0token0value" not in html and "[REDACTED]" in html
    assert not re.search(r"""(src|href)=['"](?!data:)[a-z]+://""", html), "external asset"
    assert "default-src 'none'" in html

    rendered, total = rendered_images(page, tmp_path / "profile")
    assert (rendered, total) == (4, 5), "contact sheet + 3 frames render, the cut frame does not"

    markdown = render_markdown(summary)
    assert "# Akri on MicroK8s conformance: FAILED" in markdown
    assert "| akri_instances | ❌ failed |" in markdown
    assert "test_60_akri_instances.py__test_brokers_running/" in markdown
    assert "| 1 | akri-udev-video-000001 | `frames/feed-1.jpg` | 640x480 |" in markdown


@pytest.mark.slow
def test_healthy_twin_run_leaves_frames_contact_sheet_and_report(tmp_path):
    reports = tmp_path / "reports"
    step_summary = tmp_path / "step-summary.md"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-k", "akri", f"--reports-dir={reports}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "GITHUB_STEP_SUMMARY": str(step_summary)},
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    found = feeds(reports / "frames")
    assert [f.id for f in found] == [0, 1, 2]
    assert all((f.width, f.height) == (640, 480) for f in found), found
    assert found[0].source == "configuration service (any broker)"
    assert all(re.fullmatch(r"akri-udev-video-[0-9a-f]{6}", f.source) for f in found[1:])
    with Image.open(reports / "frames" / "contact-sheet.jpg") as sheet:
        assert sheet.format == "JPEG" and sheet.width >= 3 * 320

    timings = json.loads((reports / "timings.json").read_text())
    assert {s["status"] for s in timings["install_steps"]} <= {"ok", "changed"}
    assert any(w["what"] == "each camera's broker ready (2)" for w in timings["waits"])
    assert all(w["outcome"] in ("reached", "settled") for w in timings["waits"])
    summary = (reports / "summary.md").read_text()
    assert "conformance: PASSED" in summary and "| streaming | ✅ passed |" in summary
    # the job summary gets the report once, without the contact sheet's relative link
    step = step_summary.read_text()
    assert step.count("# Akri on MicroK8s conformance: PASSED") == 1 and "](frames/" not in step

    assert rendered_images(reports / "report.html", tmp_path / "profile") == (4, 4)
