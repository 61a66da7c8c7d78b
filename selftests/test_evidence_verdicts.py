"""Verdicts that say what the run covered: partial selections, interruptions, the JUnit extras.

Hermetic checks of the pieces (the run's scope per layer, layer verdicts of an interrupted run,
the signal guard, waits under way, the JUnit additions), then `-k streaming` end to end on the
twin: a green partial run says PARTIAL RUN, with the layers it ran and those not selected, in
the first line of the summary and the HTML report, in the terminal and in the JUnit file.
"""

import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from fixtures.evidence import junit
from fixtures.evidence.report import CaseOutcome, RunSummary, layer_verdicts, render_markdown
from fixtures.evidence.report_html import render_html
from fixtures.evidence.scope import RunScope
from fixtures.layers import LAYERS
from fixtures.record.interrupt import SignalGuard
from fixtures.record.timings import RECORDER, Timings, start_wait

REPO = Path(__file__).resolve().parent.parent
XSD = Path(__file__).parent / "data" / "junit-10.xsd"


def _scope(selected: dict[str, int], deselected: dict[str, int] | None = None) -> RunScope:
    scope = RunScope(known=True)
    for layer, n in selected.items():
        for _ in range(n):
            scope.add(layer, selected=True)
    for layer, n in (deselected or {}).items():
        for _ in range(n):
            scope.add(layer, selected=False)
    return scope


def test_scope_of_a_full_and_of_partial_runs():
    full = _scope(dict.fromkeys(LAYERS, 2))
    assert full.complete and full.headline() == "all 9 layers"
    assert full.properties()["selection"] == "full"
    partial = _scope({"streaming": 7}, {layer: 3 for layer in LAYERS if layer != "streaming"})
    assert partial.headline() == (
        "PARTIAL RUN: ran streaming; not selected: target, v4l2loopback, gstreamer, "
        "microk8s, akri_control_plane, akri_instances, akri_behaviour, recovery"
    )
    part_of_a_layer = _scope(dict.fromkeys(LAYERS, 1) | {"v4l2loopback": 1}, {"v4l2loopback": 4})
    assert part_of_a_layer.headline() == (
        "PARTIAL RUN: ran target, v4l2loopback (1 of 5 tests), gstreamer, microk8s, "
        "akri_control_plane, akri_instances, streaming, akri_behaviour, recovery"
    )
    by_id = _scope({"v4l2loopback": 1})
    by_id.by_id.add("v4l2loopback")
    assert by_id.ran() == ["v4l2loopback (1 test named by id)"]


def test_an_interrupted_run_is_never_passed(tmp_path):
    guard = SignalGuard()
    guard.note("SIGTERM")
    timings = Timings()
    RECORDER.reset()
    wait = start_wait("2 broker pods ready", "kube", began=time.monotonic(), timeout=300)
    wait.observed(lambda: "akri-udev-video-3a9f0c-pod: Pending")
    stopped = guard.interruption("tests/test_60_akri_instances.py::test_brokers_running", "call")
    assert RECORDER.waits[-1].outcome == "interrupted" and not RECORDER.current_waits()
    RECORDER.reset()
    outcomes = [CaseOutcome(f"t::{layer}", layer, "passed") for layer in LAYERS[:5]]
    outcomes.append(CaseOutcome("t::b", "akri_instances", "interrupted", stopped.message()))
    scope = _scope(dict.fromkeys(LAYERS, 1) | {"akri_instances": 3})
    verdicts = {v.layer: v.verdict for v in layer_verdicts(outcomes, scope, stopped)}
    assert verdicts["akri_control_plane"] == "passed"
    assert verdicts["akri_instances"] == "interrupted"
    assert verdicts["streaming"] == "not reached"
    summary = RunSummary(
        "twin", "none", 2, 1.0, outcomes, {}, timings.as_dict([]), [], "", {}, scope, stopped
    )
    markdown = render_markdown(summary)
    assert markdown.startswith(
        "# Akri on MicroK8s conformance: INTERRUPTED (interrupted by SIGTERM during "
        "tests/test_60_akri_instances.py::test_brokers_running (call), waiting for 2 broker "
        "pods ready; all 9 layers)"
    ), markdown.splitlines()[0]
    assert "last observed state: akri-udev-video-3a9f0c-pod: Pending" in markdown
    assert "| streaming | ⛔ not reached |" in markdown
    assert '<span class="verdict INTERRUPTED">INTERRUPTED</span>' in render_html(summary, tmp_path)


def test_signal_guard_turns_sigterm_into_keyboard_interrupt_once():
    before = signal.getsignal(signal.SIGTERM)
    guard = SignalGuard()
    guard.install()
    try:
        # Python runs the handler as soon as os.kill returns, inside the raises block
        with pytest.raises(KeyboardInterrupt, match="SIGTERM received"):
            os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGHUP)  # while stopping: noted in the log, not raised
        assert guard.received == "SIGTERM"
    finally:
        guard.restore()
    assert signal.getsignal(signal.SIGTERM) is before


def test_signal_guard_holds_every_signal_during_the_final_teardown():
    guard = SignalGuard()
    guard.install()
    try:
        guard.hold()
        os.kill(os.getpid(), signal.SIGINT)  # even Ctrl-C: the teardown must finish
        assert guard.received == "SIGINT"
        stopped = guard.interruption("", "session's final teardown")
        assert stopped.headline() == (
            "interrupted by SIGINT during the session's final teardown, not in a wait"
        )
    finally:
        guard.restore()


def test_junit_names_the_interrupted_test_and_the_selection(tmp_path):
    path = tmp_path / "junit.xml"
    path.write_text(
        '<testsuites><testsuite name="pytest" errors="0" failures="0" skipped="0" tests="2">'
        '<testcase classname="tests.test_10_target" name="test_target_reachable" time="1"/>'
        '<testcase time="0.000"/></testsuite></testsuites>'
    )
    nodeid = "tests/test_60_akri_instances.py::test_brokers_running"
    stop = junit.ErrorCase(junit.classname_of(nodeid), "test_brokers_running", "by SIGHUP\nwait")
    junit.finalize(path, "unused", error=stop, properties={"selection": "partial"})
    xmlschema.XMLSchema(XSD).validate(path)
    suite = ET.parse(path).getroot().find("testsuite")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {"test_target_reachable", "test_brokers_running"}
    error = cases["test_brokers_running"].find("error")
    assert cases["test_brokers_running"].get("classname") == "tests.test_60_akri_instances"
    assert error.get("message") == "by SIGHUP" and error.text == "by SIGHUP\nwait"
    assert suite.get("errors") == "1" and suite.get("tests") == "3"
    assert suite.find("properties/property").attrib == {"name": "selection", "value": "partial"}


@pytest.mark.slow
def test_partial_selection_says_so_in_every_headline(tmp_path):
    reports = tmp_path / "reports"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-k", "streaming", f"--reports-dir={reports}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    words = (
        "PASSED (PARTIAL RUN: ran streaming; not selected: target, v4l2loopback, gstreamer, "
        "microk8s, akri_control_plane, akri_instances, akri_behaviour, recovery)"
    )
    first = (reports / "summary.md").read_text().splitlines()[0]
    assert first == f"# Akri on MicroK8s conformance: {words}", first
    html = (reports / "report.html").read_text()
    assert "PASSED</span> (PARTIAL RUN: ran streaming; not selected: target," in html
    assert f"Akri on MicroK8s conformance: {words}" in proc.stdout
    tree = ET.parse(reports / "junit.xml")
    props = {p.get("name"): p.get("value") for p in tree.iter("property")}
    assert props["selection"] == "partial" and props["layers_run"] == "streaming", props
    assert props["layers_not_selected"].startswith("target, v4l2loopback"), props
