"""An interrupted run is never green: Ctrl-C, SIGTERM and SIGHUP, each in the middle of a wait.

The suite runs against the twin with `slow-start` (brokers come late) and a long
`--ready-timeout`, with live logs on, so the self-test sees the broker wait begin and observe
its first state; then it sends the signal. The run must end with exit status 2, a valid JUnit
file whose errored testcase says the session was interrupted, by which signal, in which test
and in which wait with that wait's last observed state; a summary and an HTML report that say
INTERRUPTED in their first line and mark the layers not reached; and nothing left running.
"""

import signal
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from fixtures.node.waits import wait_until
from selftests.test_twin_faults import processes_of

REPO = Path(__file__).resolve().parent.parent
XSD = Path(__file__).parent / "data" / "junit-10.xsd"
WAIT = "each camera's broker ready (2)"
TEST = "tests/test_60_akri_instances.py::test_brokers_running[cam1]"
SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]


def _interrupt_during_the_broker_wait(reports: Path, sig: signal.Signals) -> tuple[int, str]:
    """Run the suite, signal it once the broker wait has observed something; (status, output)."""
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-k",
            "akri",
            f"--reports-dir={reports}",
            "--twin-fault=slow-start",
            "--ready-timeout=300",
            "--log-cli-level=INFO",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    watchdog = threading.Timer(240, run.kill)  # a deadline for the whole run, not a pause
    watchdog.start()
    seen = []
    try:
        assert run.stdout is not None
        for line in run.stdout:
            seen.append(line)
            if f"{WAIT}: first observation" in line:
                run.send_signal(sig)
                break
        else:
            pytest.fail("the broker wait never began:\n" + "".join(seen[-60:]))
        rest, _ = run.communicate(timeout=120)
    finally:
        watchdog.cancel()
        if run.poll() is None:
            run.kill()
            run.wait()
    return run.returncode, "".join(seen) + rest


@pytest.mark.slow
@pytest.mark.parametrize("sig", SIGNALS, ids=[s.name for s in SIGNALS])
def test_interrupted_run_says_so_everywhere_and_leaves_nothing(tmp_path, sig):
    reports = tmp_path / "reports"
    status, output = _interrupt_during_the_broker_wait(reports, sig)
    assert status == 2, output[-4000:]

    junit = reports / "junit.xml"
    xmlschema.XMLSchema(XSD).validate(junit)
    root = ET.parse(junit).getroot()
    errors = [c for c in root.iter("testcase") if c.find("error") is not None]
    assert [c.get("name") for c in errors] == [TEST.split("::")[1]], output[-3000:]
    text = errors[0].find("error").text
    assert f"interrupted by {sig.name} during {TEST}" in text, text
    assert f"waiting for {WAIT} (" in text and "of 300s" in text, text
    last = text.split("last observed state: ", 1)[1]
    assert last.strip() and not last.startswith("(nothing observed yet)"), text
    assert all(c.get("name") for c in root.iter("testcase")), "no nameless placeholder is left"
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["interrupted"].startswith(f"interrupted by {sig.name}"), props

    summary = (reports / "summary.md").read_text()
    first = summary.splitlines()[0]
    assert first.startswith(
        f"# Akri on MicroK8s conformance: INTERRUPTED (interrupted by {sig.name} during {TEST}"
    ), first
    assert "| akri_instances | ⛔ interrupted |" in summary
    assert "| streaming | ⛔ not reached |" in summary
    assert "PASSED" not in first
    html = (reports / "report.html").read_text()
    assert "INTERRUPTED</span>" in html and "not reached" in html
    assert f"INTERRUPTED (interrupted by {sig.name}" in output, "the terminal says so too"

    state_dir = props["twin_state_dir"]
    wait_until(
        lambda: processes_of(state_dir),
        lambda procs: not procs,
        timeout=20,
        what="the interrupted twin's processes to end",
    )
    assert not Path(state_dir).exists(), f"the twin left {state_dir}"
