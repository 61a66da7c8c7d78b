"""What a person at the terminal sees: live progress, the end of a run; and the JUnit it leaves.

Each run is the suite as a user runs it, against the twin: progress lines of install steps and
of a wait (a slow-start twin, whose brokers appear only after 20 s, with a short
`--progress-interval`), none with `-q`; the end of a healthy and of a failed run (one line per
layer, the target and its versions, the failure's reason and diagnostics, one line per cause of
skips, short tracebacks without fixture reprs); a JUnit file named after the suite, without
empty captured-output blocks, whose diagnostics paths resolve from its own folder.
"""

import re
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from fixtures.layers import LAYERS
from fixtures.record.progress import Progress
from fixtures.record.timings import record_wait, start_wait
from selftests.suite_run import run_suite

XSD = Path(__file__).parent / "data" / "junit-10.xsd"
STEP_START = re.compile(r"^install step [a-z0-9-]+ \([a-z0-9_]+\): started$", re.M)
STEP_END = re.compile(r"^install step [a-z0-9-]+: (ok|changed) in \d+\.\d s$", re.M)


def junit_cases(reports: Path) -> tuple[ET.Element, list[ET.Element]]:
    """The JUnit document (schema-valid, named after the suite) and its testcases."""
    junit = reports / "junit.xml"
    xmlschema.XMLSchema(XSD).validate(junit)
    root = ET.parse(junit).getroot()
    assert root.get("name") == "akri-conformance"
    assert [s.get("name") for s in root.iter("testsuite")] == ["akri-conformance"]
    cases = list(root.iter("testcase"))
    for case in cases:
        for block in [*case.iter("system-out"), *case.iter("system-err")]:
            assert re.sub(r"-+ Captured \w+ -+", "", block.text or "").strip(), case.attrib
    return root, cases


def test_a_wait_gets_one_line_per_interval_and_none_after_stop():
    lines: list[str] = []
    written = threading.Event()
    progress = Progress()
    progress.start(lambda line: (lines.append(line), written.set()), 5)
    began = time.monotonic() - 11  # two intervals old: one line, not one per interval missed
    wait = start_wait("brokers Running", "kube", began=began, timeout=300)
    wait.observed(lambda: "cam1: Running\n  cam2: ContainerCreating")
    try:
        assert written.wait(10), "the thread looks at the waits once a second"
    finally:
        record_wait("brokers Running", "kube", "reached", began=began, timeout=300)
        progress.stop()
    assert len(lines) == 1, lines
    state = "cam1: Running cam2: ContainerCreating"
    assert re.fullmatch(rf"waiting for brokers Running: 1[12]/300 s, {state}", lines[0]), lines
    progress.step_started("apt-upgrade", "v4l2loopback")
    assert len(lines) == 1, "nothing is written once stopped"


@pytest.mark.slow
def test_progress_lines_and_the_end_of_a_healthy_run(tmp_path):
    reports = tmp_path / "reports"
    proc = run_suite("--twin-fault=slow-start", "--progress-interval=5", f"--reports-dir={reports}")
    out = proc.stdout
    assert proc.returncode == 0, out[-4000:]
    assert "\r" not in out, "plain lines when the output is not a terminal"
    assert "install step akri-chart (akri_control_plane): started" in out, out[-4000:]
    assert len(STEP_START.findall(out)) == len(STEP_END.findall(out)) >= 10, out[-4000:]
    waiting = re.findall(
        r"^waiting for each camera's broker ready \(2\): (\d+)/300 s, .+$", out, re.M
    )
    assert waiting and all(int(s) >= 5 for s in waiting), out[-4000:]
    assert re.search(r"^tests/test_60_akri_instances.py \.+ +\[", out, re.M), "dots go on below"

    end = out[out.index("Akri on MicroK8s conformance: PASSED (all 9 layers)") :]
    for layer in LAYERS:
        assert re.search(rf"^{layer} +passed +\d+ passed +\d+\.\d s$", end, re.M), end
    assert "target: twin: the local edge twin (a model, not a real node)" in end
    assert "versions (modelled by the twin):" in end and "kernel 6.8" in end
    assert f"summary: {reports}/summary.md" in end and "timings: " in end
    assert "skipped" not in end and "SKIPPED" not in out
    junit_cases(reports)

    quiet = run_suite("-q", "-k", "v4l2loopback", f"--reports-dir={tmp_path / 'quiet'}")
    assert quiet.returncode == 0, quiet.stdout[-3000:]
    assert "install step" not in quiet.stdout and "waiting for" not in quiet.stdout


@pytest.mark.slow
def test_end_of_a_failed_run(tmp_path):
    reports = tmp_path / "reports"
    proc = run_suite("--twin-fault=one-device", f"--reports-dir={reports}")
    out = proc.stdout
    assert proc.returncode == 1, out[-4000:]
    nodeid = "tests/test_20_v4l2loopback.py::test_video_devices[cam2]"
    folder = "test_20_v4l2loopback.py__test_video_devices_cam2"
    end = out[out.index("Akri on MicroK8s conformance: FAILED (all 9 layers)") :]
    counts = r"1 failed, \d+ passed, \d+ skipped"
    assert re.search(rf"^v4l2loopback +failed +{counts} .* {re.escape(nodeid)} failed$", end, re.M)
    assert re.search(r"^microk8s +skipped +6 skipped", end, re.M), end
    assert f"FAILED {nodeid}: AssertionError: expected loopback camera cam2 /dev/video2" in end
    assert "/dev/video2: missing" in end.split(f"FAILED {nodeid}")[1].splitlines()[0]
    assert f"  diagnostics: {reports / folder}/ (start with index.md)" in end
    skipped = [line for line in end.splitlines() if line.startswith("skipped ")]
    assert len(skipped) == 1 and skipped[0].endswith(f"tests: prerequisite {nodeid} failed"), end
    assert "SKIPPED [" not in out and "gating.py" not in out, "one line per cause, not per test"
    failures = out[out.index(" FAILURES ") : out.index("Akri on MicroK8s conformance")]
    assert "E   AssertionError" in failures, failures
    assert "facts = Facts(" not in out and "Settings(values=" not in out, "no fixture reprs"

    _, cases = junit_cases(reports)
    failed = next(c for c in cases if c.get("name") == "test_video_devices[cam2]")
    lines = failed.findtext("system-out").splitlines()
    assert lines[:2] == [f"diagnostics: {folder}", f"[[ATTACHMENT|{folder}/index.md]]"]
    assert (reports / folder / "index.md").is_file(), "the link resolves from junit.xml's folder"
