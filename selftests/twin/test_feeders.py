"""Self-tests of the twin's feeders: real gst-launch-1.0 processes feeding modelled devices."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from fixtures.install.steps.feeders import feeder_command
from fixtures.node.spec import Camera
from twin.feeders.manager import FeederManager
from twin.feeders.pipeline import FeederError, _PartParser, redirect_sink
from twin.feeders.units import Feeder
from twin.machine.frames import DeviceFrames
from twin.machine.pidns import NodeProcesses


def plan_argv(number: int, *extra: str) -> list[str]:
    """The feeder command the install plan runs for camera N (extra options after the program)."""
    program, *rest = feeder_command(Camera(number))
    return [program, *extra, *rest]


def wait_until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll a condition in a test (bounded)."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def alive(pid: int) -> bool:
    """True while /proc has the process and it is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def devices() -> dict[str, DeviceFrames]:
    return {d: DeviceFrames(d) for d in ("/dev/video1", "/dev/video2")}


@pytest.fixture
def node(tmp_path: Path) -> Iterator[NodeProcesses]:
    procs = NodeProcesses(tmp_path)
    procs.boot()
    yield procs
    procs.halt()


@pytest.fixture
def make_manager(
    tmp_path: Path, devices: dict[str, DeviceFrames], node: NodeProcesses
) -> Iterator[Callable[..., FeederManager]]:
    managers: list[FeederManager] = []

    def make(faults: frozenset[str] = frozenset()) -> FeederManager:
        mgr = FeederManager(tmp_path / "feeders", devices.get, faults, node)
        managers.append(mgr)
        return mgr

    yield make
    for mgr in managers:
        started = mgr.pids()
        mgr.stop_all()
        assert mgr.pids() == []
        assert not [pid for pid in started if alive(pid)]


def test_redirect_sink_replaces_only_the_sink() -> None:
    red = redirect_sink([*plan_argv(2)[:-1], "device=/dev/video2", "io-mode=2"])
    assert red.devnode == "/dev/video2"
    assert red.sink_name == "v4l2sink0"
    kept = plan_argv(2).index("v4l2sink")  # everything before the sink stays as it was
    assert red.argv[:kept] == plan_argv(2)[:kept]
    assert red.argv[kept:] == ["multipartmux", "boundary=frame", "!", "fdsink", "fd=3", "sync=true"]


def test_redirect_sink_leaves_room_to_show_the_command_as_run() -> None:
    long_sink = ["gst-launch-1.0", "x", "!", "v4l2sink", "device=/dev/video1", "io-mode=2" * 20]
    red = redirect_sink(long_sink)
    assert sum(len(a) + 1 for a in red.argv) >= sum(len(a) + 1 for a in long_sink)
    assert any(a.startswith("name=twinsink") for a in red.argv)


def test_redirect_sink_accepts_joined_tokens_and_defaults() -> None:
    red = redirect_sink(["/usr/bin/gst-launch-1.0", "-v", "videotestsrc ! jpegenc !", "v4l2sink"])
    assert red.devnode == "/dev/video1"
    red = redirect_sink(["gst-launch-1.0", "x", "!", "v4l2sink name=cam device='/dev/video7'"])
    assert (red.devnode, red.sink_name) == ("/dev/video7", "cam")
    with pytest.raises(FeederError, match="no v4l2sink"):
        redirect_sink(["gst-launch-1.0", "videotestsrc", "!", "fakesink"])
    with pytest.raises(FeederError, match="not a gst-launch"):
        redirect_sink(["ffmpeg", "-i", "x"])


def test_part_parser_handles_split_reads() -> None:
    stream = b"".join(
        b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n" % (len(p), p)
        for p in (b"\xff\xd8one\xff\xd9", b"\xff\xd8two--frame\xff\xd9")
    )
    parser, parts = _PartParser(), []
    for i in range(len(stream)):
        parts += parser.feed(stream[i : i + 1])
    assert parts == [b"\xff\xd8one\xff\xd9", b"\xff\xd8two--frame\xff\xd9"]


def test_device_frames_wait_and_reset() -> None:
    dev = DeviceFrames("/dev/video1")
    assert dev.latest() is None and dev.format == ""
    assert dev.wait_newer(0, 0.01) is None
    buf = io.BytesIO()
    Image.new("RGB", (320, 240)).save(buf, "JPEG")
    dev.publish(buf.getvalue())
    assert dev.latest() == (1, buf.getvalue())
    assert dev.format == "JPEG:320x240@30"
    assert dev.wait_newer(1, 0.01) is None
    dev.reset()
    assert dev.latest() is None and dev.format == ""


def test_real_feeder_publishes_live_jpegs_and_stops_cleanly(
    make_manager: Callable[..., FeederManager], devices: dict[str, DeviceFrames]
) -> None:
    mgr = make_manager()
    argv = plan_argv(1, "-v")
    feeder = mgr.start("akri-feeder-video1", argv)
    assert feeder.state == "active" and len(mgr.pids()) == 1
    (outer,) = mgr.pids()
    # MainPID is the node's numbering: gst runs in the node's PID namespace
    assert feeder.pid == NodeProcesses.inner_pid(outer) and feeder.pid != outer
    dev = devices["/dev/video1"]
    first = dev.wait_newer(0, 10)
    assert first is not None
    # once gst has parsed its pipeline, its command line is the unit's, sink included
    cmdline = Path(f"/proc/{outer}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    assert [a.decode() for a in cmdline] == argv
    second = dev.wait_newer(first[0], 5)
    assert second is not None and second[1] != first[1]
    for _, jpeg in (first, second):
        img = Image.open(io.BytesIO(jpeg))
        img.load()
        assert (img.format, img.size) == ("JPEG", (640, 480))
    assert dev.format == "JPEG:640x480@30"
    with pytest.raises(FeederError, match="already loaded"):
        mgr.start("akri-feeder-video1", plan_argv(1))
    mgr.stop("akri-feeder-video1")
    assert (feeder.state, feeder.result) == ("inactive", "success")
    assert not alive(outer) and mgr.pids() == []
    log = "\n".join(feeder.log)
    assert "Started akri-feeder-video1.service - /" in log
    assert "Setting pipeline to PAUSED ..." in feeder.log
    assert log.endswith("Stopped akri-feeder-video1.service - " + feeder.log[0].split(" - ")[1])


def test_missing_device_fails_like_gst(make_manager: Callable[..., FeederManager]) -> None:
    feeder = make_manager().start("akri-feeder-video3", plan_argv(3))
    assert (feeder.state, feeder.result, feeder.exit_status) == ("failed", "exit-code", 255)
    log = "\n".join(feeder.log)
    assert (
        "ERROR: from element /GstPipeline:pipeline0/GstV4l2Sink:v4l2sink0: "
        "Cannot identify device '/dev/video3'." in log
    )
    assert "Main process exited, code=exited, status=255/EXCEPTION" in log


def test_feeder_down_fault_kills_before_first_frame(
    make_manager: Callable[..., FeederManager], devices: dict[str, DeviceFrames]
) -> None:
    feeder = make_manager(frozenset({"feeder-down"})).start("akri-feeder-video2", plan_argv(2))
    wait_until(lambda: feeder.state == "failed")
    assert (feeder.result, feeder.exit_status) == ("signal", 9)
    assert devices["/dev/video2"].latest() is None
    assert "code=killed, status=9/KILL" in "\n".join(feeder.log)


def test_device_gone_fails_its_feeder(
    make_manager: Callable[..., FeederManager], devices: dict[str, DeviceFrames]
) -> None:
    mgr = make_manager()
    feeder: Feeder = mgr.start("akri-feeder-video2", plan_argv(2))
    assert devices["/dev/video2"].wait_newer(0, 10) is not None
    (outer,) = mgr.pids()
    mgr.device_gone("/dev/video2")
    assert (feeder.state, feeder.result, feeder.exit_status) == ("failed", "exit-code", 1)
    assert "Device '/dev/video2' has disappeared." in "\n".join(feeder.log)
    assert mgr.pids() == [] and not alive(outer)
    again = mgr.start("akri-feeder-video2", plan_argv(2))
    assert again.state == "active" and again is mgr.get("akri-feeder-video2")


def test_pipeline_that_ends_leaves_unit_inactive(
    make_manager: Callable[..., FeederManager], devices: dict[str, DeviceFrames]
) -> None:
    argv = plan_argv(1)
    argv.insert(2, "num-buffers=2")
    mgr = make_manager()
    feeder = mgr.start("akri-feeder-video1", argv)
    wait_until(lambda: feeder.state == "inactive")
    assert (feeder.result, feeder.exit_status) == ("success", 0)
    assert devices["/dev/video1"].latest() is not None
    assert mgr.pids() == []
