"""--compare-with: what changed since an earlier run, in the summary.

End to end: a healthy twin run is the earlier run (its kernel version edited, as a kernel
update would change it), then a run with a fault compares with it; its summary names the
version change and the newly failing test. Units: the earlier file is read whole (properties,
outcomes, layer times), a layer counts as much slower only past both thresholds, and an earlier
run that cannot be read refuses the session (exit code 4) before anything starts.
"""

from __future__ import annotations

import re

from fixtures.evidence.compare import Baseline, compare
from selftests.suite_run import run_suite

EARLIER = """<?xml version="1.0" encoding="utf-8"?>
<testsuites name="pytest"><testsuite name="pytest" timestamp="2026-12-01T02:00:00">
<properties>
<property name="kernel" value="6.8.0-1018-gcp"/>
<property name="microk8s_revision" value="8391"/>
<property name="ssh_commands" value="55"/>
</properties>
<testcase classname="tests.test_20_v4l2loopback" name="test_video_devices[cam2]" time="1.0"/>
<testcase classname="tests.test_60_akri_instances" name="test_brokers_running[cam1]" time="4.0">
<failure message="no broker"/></testcase>
<testcase classname="tests.test_70_streaming" name="test_feeds_are_live" time="2.0"/>
</testsuite></testsuites>
"""


def test_changes_are_versions_outcomes_and_much_slower_layers(tmp_path):
    (tmp_path / "junit.xml").write_text(EARLIER)
    baseline = Baseline.read(tmp_path)  # a reports folder: its junit.xml
    assert baseline.versions == {"kernel": "6.8.0-1018-gcp", "microk8s_revision": "8391"}
    assert baseline.layer_seconds == {"v4l2loopback": 1.0, "akri_instances": 4.0, "streaming": 2.0}
    now = {"kernel": "6.8.0-1019-gcp", "microk8s_revision": "8391", "ssh_commands": "70"}
    outcomes = [
        ("tests/test_20_v4l2loopback.py::test_video_devices[cam2]", "failed", 1.2),
        ("tests/test_60_akri_instances.py::test_brokers_running[cam1]", "passed", 5.0),
        ("tests/test_70_streaming.py::test_feeds_are_live", "passed", 14.0),
    ]
    diff = compare(baseline, now, outcomes)
    assert diff.versions == [("kernel", "6.8.0-1018-gcp", "6.8.0-1019-gcp")]  # not ssh_commands
    assert diff.newly_failing == ["tests/test_20_v4l2loopback.py::test_video_devices[cam2]"]
    assert diff.newly_passing == ["tests/test_60_akri_instances.py::test_brokers_running[cam1]"]
    assert diff.slower == [("streaming", 2.0, 14.0)]  # akri_instances: +1 s is not much slower
    same = compare(baseline, baseline.versions, [(o[0], "passed", 1.0) for o in outcomes[::2]])
    assert "Nothing changed" in "\n".join(same.markdown())


def test_an_unreadable_earlier_run_is_a_usage_error(tmp_path):
    bad = tmp_path / "junit.xml"
    bad.write_text("<testsuites><oops")
    proc = run_suite(f"--compare-with={bad}", f"--reports-dir={tmp_path / 'reports'}")
    assert proc.returncode == 4, proc.stdout[-2000:]
    assert "--compare-with: cannot read the earlier run's JUnit file" in proc.stderr, proc.stderr


def test_the_summary_says_what_changed_since_the_earlier_run(tmp_path):
    earlier, later = tmp_path / "earlier", tmp_path / "later"
    proc = run_suite(f"--reports-dir={earlier}", "--ready-timeout=60")
    assert proc.returncode == 0, proc.stdout[-3000:]
    junit = earlier / "junit.xml"
    text = junit.read_text()
    kernel = re.search(r'name="kernel" value="([^"]*)"', text).group(1)
    junit.write_text(
        text.replace(f'name="kernel" value="{kernel}"', 'name="kernel" value="5.15.0"')
    )
    proc = run_suite(
        f"--reports-dir={later}", "--twin-fault=one-device", f"--compare-with={earlier}"
    )
    assert proc.returncode == 1, proc.stdout[-3000:]
    summary = (later / "summary.md").read_text()
    section = summary.split("## Since the earlier run", 1)[1].split("\n## ", 1)[0]
    assert f"| kernel | `5.15.0` | `{kernel}` |" in section, section
    assert "Newly failing:" in section and "test_video_devices[cam2]" in section, section
    end = proc.stdout.split("since the earlier run", 1)[1]
    assert f"version kernel: 5.15.0 -> {kernel}" in end, end
    assert "newly failing: tests/test_20_v4l2loopback.py::test_video_devices[cam2]" in end, end
