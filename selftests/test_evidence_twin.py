"""Diagnostics of real failures: a host-layer and a cluster-layer twin fault, end to end.

Each run is the suite as a user runs it, against the twin with one fault. The failed test's
diagnostics folder must explain the fault on its own (the files an expert would open first
show it), be linked from the JUnit testcase and the summary, cost little time, and nothing
under the reports directory may carry a credential (the run does read the node's kubeconfig).
"""

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from selftests.suite_run import run_suite

XSD = Path(__file__).parent / "data" / "junit-10.xsd"
# what an unredacted credential looks like in any of our files
LEAKS = re.compile(
    r"PRIVATE KEY-----\s*\n\s*[A-Za-z0-9+/]{16}"
    r"|LS0tLS1CRUdJTi"
    r"|(client-key-data|client-certificate-data|token):\s*(?!\[REDACTED\])[A-Za-z0-9+/=]{8}"
)


def run_with_fault(tmp_path: Path, fault: str) -> Path:
    """Run the suite with one twin fault; return the reports directory."""
    reports = tmp_path / "reports"
    proc = run_suite("--twin-fault", fault, "--ready-timeout=8", f"--reports-dir={reports}")
    assert proc.returncode == 1, proc.stdout[-4000:]
    assert "diagnostics: " in proc.stdout, proc.stdout[-2000:]
    return reports


def check_common(reports: Path, folder: Path, nodeid: str) -> dict[str, str]:
    """Linked, indexed, bounded in time, valid JUnit, no secret; returns the folder's files."""
    assert folder.is_dir(), sorted(p.name for p in reports.iterdir())
    files = {p.name: p.read_text() for p in folder.iterdir()}
    assert {"index.md", "failure.txt", "commands.txt"} <= set(files)
    assert "collection-errors.txt" not in files, files.get("collection-errors.txt")
    assert all(name in files["index.md"] for name in files if name != "index.md")

    xmlschema.XMLSchema(XSD).validate(reports / "junit.xml")
    name = nodeid.rsplit("::", 1)[1]
    case = next(
        c for c in ET.parse(reports / "junit.xml").iter("testcase") if c.get("name") == name
    )
    assert case.find("failure") is not None
    assert f"diagnostics: {folder.name}" in (case.findtext("system-out") or "")

    summary = (reports / "summary.md").read_text()
    assert f"`{nodeid}` (failed" in summary and f"`{folder}/`" in summary
    collected = json.loads((reports / "timings.json").read_text())["diagnostics"]
    assert [c["folder"] for c in collected] == [str(folder)]
    assert collected[0]["seconds"] < 60, collected

    leaks = [
        (str(p.relative_to(reports)), m.group(0)[:30])
        for p in reports.rglob("*")
        if p.is_file() and p.suffix != ".jpg"
        for m in LEAKS.finditer(p.read_text(errors="replace"))
    ]
    assert not leaks, leaks
    return files


@pytest.mark.slow
def test_host_layer_fault_one_device(tmp_path):
    reports = run_with_fault(tmp_path, "one-device")
    nodeid = "tests/test_20_v4l2loopback.py::test_video_devices[cam2]"  # the missing camera
    folder = reports / "test_20_v4l2loopback.py__test_video_devices_cam2"
    files = check_common(reports, folder, nodeid)
    assert "/dev/video2: missing" in files["failure.txt"]
    stat = files["host-stat-devices.txt"]
    assert "/dev/video1 character special file" in stat and "/dev/video2" not in stat
    assert "devices=2" in files["host-module-config.txt"], "the module was asked for 2 devices"
    assert "v4l2loopback" in files["host-lsmod.txt"]
    assert "v4l2loopback driver version" in files["host-dmesg-v4l2.txt"]
    assert "installed" in files["host-dkms-status.txt"]
    assert "$ stat -c '%n %F %t %T' /dev/video*" in files["commands.txt"]
    assert "v4l2loopback-loaded" in files["install.txt"]
    assert not any(name.startswith(("kube-", "log-")) for name in files), "host layer only"


@pytest.mark.slow
def test_cluster_layer_fault_broker_crashloop(tmp_path):
    reports = run_with_fault(tmp_path, "broker-crashloop")
    nodeid = "tests/test_60_akri_instances.py::test_brokers_running[cam2]"  # its camera's case
    folder = reports / "test_60_akri_instances.py__test_brokers_running_cam2"
    files = check_common(reports, folder, nodeid)
    assert "waiting=CrashLoopBackOff" in files["waits.txt"]
    assert "timed out" in files["waits.txt"]
    previous = [n for n in files if n.startswith("log-default-akri-udev-video-")]
    previous = [n for n in previous if n.endswith(".previous.txt")]
    assert previous and "panicked" in files[previous[0]], sorted(files)
    assert "CrashLoopBackOff" in files["host-kubectl-describe-brokers.txt"]
    assert "BackOff" in files["kube-events-default.txt"]
    assert "CrashLoopBackOff" in files["kube-pods-default.txt"]
    for name in ("microk8s-inspect", "microk8s-status", "journal-kubelite", "journal-containerd"):
        assert f"host-{name}.txt" in files, sorted(files)
    assert any(n.startswith("log-default-akri-agent-") for n in files)
    assert "akri-udev-video" in files["host-kubectl-instances.txt"]
