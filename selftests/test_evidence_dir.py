"""The reports directory holds this run's evidence only, and never loses a file it did not write.

Hermetic runs of `EvidenceDir` as the evidence plugin drives it (begin, claim, save after each
test, sealed at the end), then the same two-run case end to end on the twin: a healthy run,
then `--twin-fault one-device` into the same directory, whose reports must say that no frames
were captured and hold nothing of the first run, while the user's own files stay.
"""

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fixtures.evidence.folder import GENERATED, MANIFEST, EvidenceDir

REPO = Path(__file__).resolve().parent.parent


def _run(root: Path, files: dict[str, str], *, sealed: bool = True) -> EvidenceDir:
    """One run that writes `files` (relative path -> text) under the names it claims."""
    directory = EvidenceDir(root)
    assert directory.begin([*GENERATED, "junit.xml"]) == []
    for rel, text in files.items():
        top = rel.split("/")[0]
        path = directory.claim(top).parent / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    directory.save(sealed=sealed)
    return directory


def test_second_run_removes_exactly_what_the_first_wrote(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "a.jpg").write_text("mine too")
    _run(
        tmp_path,
        {
            "summary.md": "# PASSED",
            "junit.xml": "<testsuites/>",
            "frames/feed-0.jpg": "jpeg",
            "frames/feeds.json": "{}",
            "test_60_x.py__test_brokers/index.md": "diagnostics",
        },
    )
    second = EvidenceDir(tmp_path)
    assert second.begin([*GENERATED, "junit.xml"]) == []
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert left == [MANIFEST, "keep", "keep/a.jpg", "notes.txt"], left
    assert sorted(second.removed) == sorted(
        [
            "summary.md",
            "junit.xml",
            "frames/feed-0.jpg",
            "frames/feeds.json",
            "test_60_x.py__test_brokers/index.md",
        ]
    )


def test_a_file_edited_since_is_kept_and_its_name_refused(tmp_path):
    _run(tmp_path, {"summary.md": "# PASSED", "frames/feed-0.jpg": "jpeg"})
    (tmp_path / "summary.md").write_text("# PASSED, and my notes on it")
    second = EvidenceDir(tmp_path)
    taken = second.begin([*GENERATED, "junit.xml"])
    assert taken == ["summary.md"] and second.kept == ["summary.md"]
    assert (tmp_path / "summary.md").read_text().endswith("my notes on it")
    assert not (tmp_path / "frames").exists()
    assert "already holds summary.md" in second.refusal(taken)


def test_a_directory_with_foreign_files_is_never_claimed(tmp_path):
    """--reports-dir . or ~ by mistake: what the suite did not write stays, and is refused."""
    for name in ("frames", "summary.md"):
        target = tmp_path / name
        target.mkdir() if name == "frames" else target.write_text("a user's file")
    (tmp_path / "frames" / "holiday.jpg").write_text("a user's picture")
    directory = EvidenceDir(tmp_path)
    assert directory.begin([*GENERATED, "junit.xml"]) == ["summary.md", "frames"]
    assert (tmp_path / "frames" / "holiday.jpg").is_file() and (tmp_path / "summary.md").is_file()
    assert "summary.md" not in directory.claimed and "frames" not in directory.claimed


def test_a_killed_run_is_cleaned_from_its_unsealed_record(tmp_path):
    first = _run(tmp_path, {"frames/feed-0.jpg": "jpeg"}, sealed=False)
    # written after the last rewrite of the manifest, then SIGKILL: no record of the file
    late = first.claim("test_20_x.py__test_video_devices") / "failure.txt"
    late.parent.mkdir()
    late.write_text("diagnostics")
    old = tmp_path / "frames" / "moved-in.jpg"
    old.write_text("a user's picture, moved in with its old time")
    os.utime(old, (first.started - 3600, first.started - 3600))
    second = EvidenceDir(tmp_path)
    second.begin([*GENERATED, "junit.xml"])
    assert not late.parent.exists() and not (tmp_path / "frames" / "feed-0.jpg").exists()
    assert old.is_file(), "older than the run, so not the run's"


def test_a_manifest_cannot_reach_outside_the_reports_dir(tmp_path):
    root = tmp_path / "reports"
    outside = tmp_path / "precious.txt"
    outside.write_text("not the suite's")
    root.mkdir()
    (root / "escape").symlink_to(tmp_path)
    stat = outside.stat()
    (root / MANIFEST).write_text(
        json.dumps(
            {
                "suite": "akri-microk8s-conformance",
                "started": 0,
                "sealed": False,
                "claimed": ["../precious.txt", "escape"],
                "files": {"../precious.txt": [stat.st_size, stat.st_mtime_ns]},
            }
        )
    )
    EvidenceDir(root).begin(GENERATED)
    assert outside.read_text() == "not the suite's" and (root / "escape").is_symlink()


def test_a_foreign_or_broken_manifest_removes_nothing(tmp_path):
    (tmp_path / "summary.md").write_text("someone's")
    (tmp_path / MANIFEST).write_text('{"suite": "another-tool", "claimed": ["summary.md"]}')
    assert EvidenceDir(tmp_path).begin(GENERATED) == ["summary.md"]
    (tmp_path / MANIFEST).write_text("not json")
    assert EvidenceDir(tmp_path).begin(GENERATED) == ["summary.md"]


def _suite(reports: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-k", "akri", f"--reports-dir={reports}", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_stale_evidence_is_gone_after_a_second_run(tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "README.txt").write_text("my notes: the suite must leave this alone")
    healthy = _suite(reports)
    assert healthy.returncode == 0, healthy.stdout[-3000:]
    assert len(list((reports / "frames").glob("*.jpg"))) >= 3, "the first run captured frames"

    broken = _suite(reports, "--twin-fault", "one-device", "--ready-timeout=8")
    assert broken.returncode == 1, broken.stdout[-3000:]
    assert not (reports / "frames").exists(), sorted(p.name for p in reports.iterdir())
    summary = (reports / "summary.md").read_text()
    assert summary.startswith("# Akri on MicroK8s conformance: FAILED (all 9 layers)"), summary
    assert "No frames were captured" in summary
    html = (reports / "report.html").read_text()
    assert "No frames were captured" in html and "data:image/jpeg" not in html
    folders = sorted(p.name for p in reports.iterdir() if p.is_dir())
    assert folders == ["test_20_v4l2loopback.py__test_video_devices_cam2"], folders
    timings = json.loads((reports / "timings.json").read_text())
    assert not any("broker" in w["what"] for w in timings["waits"]), timings["waits"]
    cases = [c.get("name") for c in ET.parse(reports / "junit.xml").iter("testcase")]
    assert len(cases) == len(set(cases)) >= 30
    assert (reports / "README.txt").read_text().startswith("my notes")
    manifest = json.loads((reports / MANIFEST).read_text())
    assert manifest["sealed"] and not any(f.startswith("frames/") for f in manifest["files"])


def test_a_refused_run_leaves_no_earlier_summary_beside_its_junit(tmp_path):
    reports = tmp_path / "reports"
    _run(reports, {"summary.md": "# Akri on MicroK8s conformance: PASSED", "junit.xml": "old"})
    refused = _suite(reports, "--cameras=99")
    assert refused.returncode == 4, refused.stdout[-2000:] + refused.stderr[-2000:]
    assert not (reports / "summary.md").exists(), "a stale green summary beside a refusal"
    error = ET.parse(reports / "junit.xml").getroot().find(".//testcase/error")
    assert error is not None and "--cameras" in error.get("message")
    assert json.loads((reports / MANIFEST).read_text())["files"].keys() == {"junit.xml"}
