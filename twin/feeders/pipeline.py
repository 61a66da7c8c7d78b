"""The twin's camera feeders as data: device frame buffers, the sink redirect, feeder records.

A feeder is a real `gst-launch-1.0 ... ! v4l2sink device=/dev/videoN` process, started as a
transient systemd unit (the install plan) or from a shell (`sudo gst-launch-1.0 ... &`, as the Akri
documentation does, docs/facts.md#feeder-pipeline). The twin has no v4l2loopback, so the sink is
swapped for `multipartmux boundary=frame ! fdsink fd=3` and the multipart stream is parsed into the
device's frame buffer (`DeviceFrames`), which is what a broker would capture; `ps` still shows the
pipeline as it was run (`twin.host.pidns.show_argv`). A unit's output and the messages of its
systemd life cycle are its journal, kept on its `Feeder` record as bare messages (the journalctl
model adds timestamp, host and identifier). `twin.feeders.manager` runs them.
"""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import NamedTuple

from PIL import Image

#: the fault "feeder-down" kills the feeder of this device before its first frame lands
FEEDER_DOWN_DEVNODE = "/dev/video2"
# v4l2sink's own default for its `device` property
_DEFAULT_DEVICE = "/dev/video1"
# sync=true keeps the source at its caps' frame rate, as v4l2sink (a synced sink) would
_SINK = ["multipartmux", "boundary=frame", "!", "fdsink", "fd=3", "sync=true"]
_STOP_GRACE = 3.0
_KILL_GRACE = 2.0
_LOG_LINES = 400


class FeederError(Exception):
    """A feeder unit cannot be started (not a gst-launch v4l2sink pipeline, unit busy)."""


class DeviceFrames:
    """The frame buffer of one loopback device: the last frame a producer wrote."""

    def __init__(self, devnode: str) -> None:
        self.devnode = devnode
        #: "" until a producer writes, then like sysfs `format`: JPEG:<w>x<h>@30
        self.format = ""
        self._cond = threading.Condition()
        self._seq = 0
        self._frame: bytes | None = None

    def publish(self, jpeg: bytes) -> None:
        """Store a new frame and wake readers."""
        size = None if self.format else _jpeg_size(jpeg)
        with self._cond:
            self._seq += 1
            self._frame = jpeg
            if size and not self.format:
                # v4l2loopback reports 30 fps whatever the producer's rate
                # (docs/facts.md#pixel-format-jpeg)
                self.format = f"JPEG:{size[0]}x{size[1]}@30"
            self._cond.notify_all()

    def latest(self) -> tuple[int, bytes] | None:
        """The current (sequence number, frame), or None before any frame."""
        with self._cond:
            return None if self._frame is None else (self._seq, self._frame)

    def wait_newer(self, seq: int, timeout: float) -> tuple[int, bytes] | None:
        """Wait up to timeout for a frame newer than seq; None if none came."""
        with self._cond:
            self._cond.wait_for(lambda: self._frame is not None and self._seq > seq, timeout)
            fresh = self._frame is not None and self._seq > seq
            return (self._seq, self._frame) if fresh else None

    def reset(self) -> None:
        """The device was removed or recreated: no format, no frame (sequence keeps counting)."""
        with self._cond:
            self.format = ""
            self._frame = None
            self._cond.notify_all()


def _jpeg_size(jpeg: bytes) -> tuple[int, int] | None:
    try:
        with Image.open(io.BytesIO(jpeg)) as img:
            return img.size
    except (OSError, ValueError):
        return None


class SinkRedirect(NamedTuple):
    """A gst-launch command with its v4l2sink replaced by a multipart writer on fd 3."""

    argv: list[str]
    devnode: str
    sink_name: str


def redirect_sink(argv: list[str]) -> SinkRedirect:
    """Rewrite `... ! v4l2sink device=X [prop=value ...]` to write multipart JPEG to fd 3.

    The result is never shorter than argv (the sink gets a padded `name`), so that the
    process's argument area can show argv again once gst has parsed it.
    """
    if not argv or os.path.basename(argv[0]) != "gst-launch-1.0":
        raise FeederError(f"not a gst-launch-1.0 command: {argv!r}")
    sinks = [i for i, tok in enumerate(argv) if i and tok.split()[:1] == ["v4l2sink"]]
    if not sinks:
        raise FeederError(f"no v4l2sink in the pipeline: {' '.join(argv)}")
    at = sinks[-1]
    words, end = argv[at].split()[1:], at + 1
    while end < len(argv) and not argv[end].startswith("!"):
        words.extend(argv[end].split())
        end += 1
    props = dict(w.split("=", 1) for w in words if "=" in w)
    devnode = props.get("device", _DEFAULT_DEVICE).strip("\"'")
    name = props.get("name", "v4l2sink0").strip("\"'")
    redirected = [*argv[:at], *_SINK, *argv[end:]]
    short = _argv_size(argv) - _argv_size(redirected)
    if short > 0:
        redirected.insert(at + len(_SINK), "name=twinsink" + "_" * max(short - 14, 0))
    return SinkRedirect(redirected, devnode, name)


def _argv_size(argv: list[str]) -> int:
    return sum(len(a.encode()) + 1 for a in argv)


class _PartParser:
    """Splits multipartmux output (`--frame` parts with Content-Length) into payloads."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        parts = []
        while (i := self._buf.find(b"--frame")) >= 0 and (h := self._buf.find(b"\r\n\r\n", i)) >= 0:
            headers = bytes(self._buf[i:h]).decode("latin-1").split("\r\n")[1:]
            fields = dict(line.split(": ", 1) for line in headers if ": " in line)
            start = h + 4
            if "Content-Length" in fields:
                end = start + int(fields["Content-Length"])
            elif (end := self._buf.find(b"\r\n--frame", start)) < 0:
                break
            if len(self._buf) < end:
                break
            parts.append(bytes(self._buf[start:end]))
            del self._buf[:end]
        return parts


@dataclass
class Feeder:
    """One feeder: a systemd unit, or a process started from a shell (`unit` is then "")."""

    unit: str
    argv: list[str]
    devnode: str
    pid: int | None = None  # as the node's `ps` numbers it
    state: str = "activating"  # activating | active | failed | inactive
    result: str = "success"  # success | exit-code | signal
    exit_status: int | None = None
    started_at: float = field(default_factory=time.monotonic)
    log: deque[str] = field(default_factory=lambda: deque(maxlen=_LOG_LINES))

    def settle(self, state: str, result: str, status: int) -> None:
        """Set the unit's state, result and exit status together."""
        self.state, self.result, self.exit_status = state, result, status

    def record_exit(self, code: int, *, stopping: bool, gone: bool, how: str) -> None:
        """The unit's process exited with `code` (negative: killed by that signal)."""
        svc = _service(self.unit)
        if gone:
            self.exited(1)
        elif stopping or code == 0:
            # systemd counts SIGTERM during a stop as a clean exit
            self.settle("inactive", "success", code)
            self.log.append(f"{svc}: Deactivated successfully.")
            if stopping:
                self.log.append(f"Stopped {svc} - {how}.")
        elif code < 0:
            name = signal.Signals(-code).name.removeprefix("SIG")
            self.settle("failed", "signal", -code)
            self.log.append(f"{svc}: Main process exited, code=killed, status={-code}/{name}")
            self.log.append(f"{svc}: Failed with result 'signal'.")
        else:
            self.exited(code)

    def exited(self, code: int) -> None:
        """The unit's process exited non-zero."""
        svc = _service(self.unit)
        self.settle("failed", "exit-code", code)
        # systemd names the statuses seen here: status=1/FAILURE, status=255/EXCEPTION
        status = {1: "1/FAILURE", 255: "255/EXCEPTION"}.get(code, str(code))
        self.log.append(f"{svc}: Main process exited, code=exited, status={status}")
        self.log.append(f"{svc}: Failed with result 'exit-code'.")

    def fail_without_device(self, sink_name: str) -> None:
        """What gst-launch 1.22 prints and returns when the sink's device node is missing."""
        self.log.extend(missing_device_lines(_sink_path(self, sink_name), self.devnode))
        # measured: a pipeline that cannot pause makes gst-launch return -1, i.e. 255
        self.exited(255)


def missing_device_lines(element: str, devnode: str) -> list[str]:
    """gst-launch 1.22's output when its v4l2sink's device node does not exist."""
    return [
        "Setting pipeline to PAUSED ...",
        f"ERROR: from element {element}: Cannot identify device '{devnode}'.",
        "Additional debug info:",
        f"../sys/v4l2/v4l2_calls.c(608): gst_v4l2_open (): {element}:",
        "system error: No such file or directory",
        "ERROR: pipeline doesn't want to preroll.",
        "Failed to set pipeline to PAUSED.",
        "Setting pipeline to NULL ...",
        "Freeing pipeline ...",
    ]


def _service(unit: str) -> str:
    return unit if "." in unit else f"{unit}.service"


def _sink_path(feeder: Feeder, name: str | None = None) -> str:
    sink = name or redirect_sink(feeder.argv).sink_name
    return f"/GstPipeline:pipeline0/GstV4l2Sink:{sink}"
