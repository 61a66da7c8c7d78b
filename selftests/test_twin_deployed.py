"""Verify-only against a node the suite did not deploy, and a twin's process table as its own.

`--twin-deployment akri-docs` starts the twin deployed by hand with the Akri documentation's
commands (module loaded by hand, background `sudo gst-launch-1.0 ... &` feeders, Helm, the
app's manifest). `--install never` must judge that node healthy, and the host faults that make
sense on such a node must still fail their own test. Two twins on one machine must not see
each other's feeders in `ps`.
"""

from __future__ import annotations

import pytest

from fixtures.layers import LAYERS
from fixtures.node.waits import wait_until
from fixtures.targets.twin import twin_host
from selftests.test_twin_faults import _layer, run_suite
from twin.lifecycle import Twin

DEPLOYED = ("--install=never", "--twin-deployment=akri-docs")
# host faults of layers 20 and 30 on a deployed node -> the test that must fail first there
# (no-jpegenc is left out on purpose: the docs' feeders use avenc_mjpeg, not jpegenc)
ON_A_DEPLOYED_NODE = {
    "no-v4l2loopback": "test_v4l2loopback_loaded",
    "v4l2loopback-disabled": "test_v4l2loopback_loaded",
    "old-v4l2loopback": "test_v4l2loopback_version",
    "one-device": "test_video_devices",
    "feeder-down": "test_feeders_running",
    "gstreamer-unmet-deps": "test_gstreamer_elements",
}


@pytest.mark.slow
def test_docs_deployed_twin_is_green_in_verify_only(tmp_path):
    """Standing still, a node deployed by the docs passes (it is not rebooted: below)."""
    proc, cases = run_suite(tmp_path, *DEPLOYED, "--ready-timeout", "60", "--reboot", "never")
    bad = [c for c in cases if c["outcome"] not in ("passed", "skipped")]
    assert proc.returncode == 0 and not bad, proc.stdout[-4000:]
    passed = {c["name"].split("[")[0] for c in cases if c["outcome"] == "passed"}
    assert {"test_feeders_running", "test_cameras_fed", "test_feeds_deliver_jpeg"} <= passed
    skipped = {c["name"]: c["message"] for c in cases if c["outcome"] == "skipped"}
    assert all("--install never" in m or "--reboot never" in m for m in skipped.values()), skipped


@pytest.mark.slow
def test_docs_deployed_twin_does_not_survive_a_reboot(tmp_path):
    """The docs persist neither the module nor the feeders (docs/facts.md#reboot): the recovery
    layer fails first at the module, and only that layer fails."""
    proc, cases = run_suite(tmp_path, *DEPLOYED, "--ready-timeout", "60")
    failed = {c["name"].split("[")[0] for c in cases if c["outcome"] == "failed"}
    assert proc.returncode == 1 and failed == {"test_module_after_reboot"}, proc.stdout[-4000:]


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(ON_A_DEPLOYED_NODE))
def test_host_fault_on_a_deployed_node_fails_its_test(tmp_path, fault):
    test = ON_A_DEPLOYED_NODE[fault]
    proc, cases = run_suite(tmp_path, *DEPLOYED, "--twin-fault", fault)
    assert proc.returncode == 1, proc.stdout[-3000:]
    # a parametrized test (one case per camera) fails when one of its cases fails
    failed = [c for c in cases if c["name"].split("[")[0] == test and c["outcome"] == "failed"]
    assert failed, proc.stdout[-3000:]
    layer = _layer(failed[0])
    for case in cases:
        if _layer(case) < layer:
            assert case["outcome"] in ("passed", "skipped"), case
        elif _layer(case) > layer:
            assert case["outcome"] == "skipped", case
    assert layer in (LAYERS.index("v4l2loopback"), LAYERS.index("gstreamer"))


SETUP = (
    "apt-get install -y -q v4l2loopback-dkms v4l-utils gstreamer1.0-tools "
    "gstreamer1.0-plugins-good gstreamer1.0-libav linux-modules-extra-$(uname -r) >/dev/null "
    "&& modprobe v4l2loopback video_nr=1"
)
FEEDER = (
    "sudo gst-launch-1.0 videotestsrc ! video/x-raw,width=640,height=480,framerate=10/1 "
    "! avenc_mjpeg ! v4l2sink device=/dev/video1 >/dev/null 2>&1 &"
)


@pytest.mark.slow
def test_two_twins_each_see_only_their_own_feeders():
    twins = [Twin(), Twin()]
    hosts = []
    try:
        for twin in twins:
            node = twin.start()
            host = twin_host(node)
            host.connect(30)
            hosts.append(host)
            host.run(SETUP, check=True, timeout=120)
            host.run(FEEDER, check=True, timeout=60)
            wait_until(
                lambda h=host: h.run("cat /sys/class/video4linux/video1/format", timeout=30).stdout,
                lambda text: text.startswith("JPEG"),
                timeout=60,
                what="the feeder writing to /dev/video1",
            )
        seen = [h.run("ps -eo pid=,args=", check=True, timeout=30).stdout for h in hosts]
    finally:
        for host in hosts:
            host.close()
        for twin in twins:
            twin.stop()
    for ps in seen:
        feeders = [line for line in ps.splitlines() if "v4l2sink device=/dev/video1" in line]
        # exactly its own feeder, shown as it was started (not the twin's redirected sink)
        assert len(feeders) == 1, ps
        assert "gst-launch-1.0 videotestsrc" in feeders[0] and "fdsink" not in ps, ps
