"""The twin's camera feeders: real `gst-launch-1.0` processes writing into modelled devices.

The install plan starts one `gst-launch-1.0 ... ! v4l2sink device=/dev/videoN` per camera as a
transient systemd unit. The twin has no v4l2loopback, so the sink is swapped for
`multipartmux boundary=frame ! fdsink fd=3` and a reader thread parses the multipart stream
into the device's frame buffer (`DeviceFrames`), which is what a broker would capture. The
process itself stays real and recognisable in `ps`; its output and the messages of its systemd
life cycle (start, exit code or signal, stop) are the unit's journal, kept on its `Feeder`
record as bare messages (the journalctl model adds timestamp, host and identifier).
"""

from __future__ import annotations

import contextlib
import io
import os
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
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
                # v4l2loopback reports 30 fps whatever the producer's rate (akri-facts 11)
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
    """Rewrite `... ! v4l2sink device=X [prop=value ...]` to write multipart JPEG to fd 3."""
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
    return SinkRedirect([*argv[:at], *_SINK, *argv[end:]], devnode, name)


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
    """One feeder unit as systemd would show it."""

    unit: str
    argv: list[str]
    devnode: str
    pid: int | None = None
    state: str = "activating"  # activating | active | failed | inactive
    result: str = "success"  # success | exit-code | signal
    exit_status: int | None = None
    started_at: float = field(default_factory=time.monotonic)
    log: deque[str] = field(default_factory=lambda: deque(maxlen=_LOG_LINES))


@dataclass
class _Run:
    proc: subprocess.Popen[bytes]
    frames_fd: int
    device: DeviceFrames
    description: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: threading.Event = field(default_factory=threading.Event)
    reaped: bool = False
    stopping: bool = False
    gone: bool = False


class FeederManager:
    """Starts, watches and stops the twin's feeder units (real gst-launch-1.0 processes)."""

    def __init__(
        self,
        workdir: Path,
        device: Callable[[str], DeviceFrames | None],
        faults: frozenset[str],
    ) -> None:
        self._workdir = Path(workdir)
        self._device = device
        self._faults = faults
        self._lock = threading.Lock()
        self._units: dict[str, Feeder] = {}
        self._runs: dict[str, _Run] = {}

    def start(self, unit: str, argv: list[str]) -> Feeder:
        """Start a feeder unit for a `gst-launch-1.0 ... ! v4l2sink device=X` command."""
        redirect = redirect_sink(argv)
        exe = shutil.which(argv[0])
        if exe is None:
            raise FeederError(f"Failed to find executable {argv[0]}: No such file or directory")
        feeder = Feeder(unit, list(argv), redirect.devnode)
        # systemd-run describes a transient unit by its resolved command line
        description = " ".join([exe, *argv[1:]])
        with self._lock:
            old = self._units.get(unit)
            if old is not None and old.state in ("activating", "active"):
                raise FeederError(
                    f"Unit {_service(unit)} was already loaded or has a fragment file."
                )
            self._units[unit] = feeder
        feeder.log.append(f"Started {_service(unit)} - {description}.")
        dev = self._device(redirect.devnode)
        if dev is None:
            self._fail_without_device(feeder, redirect)
            return feeder
        self._workdir.mkdir(parents=True, exist_ok=True)
        read_fd, write_fd = os.pipe()
        # gst must see the pipe as fd 3: bash (dash takes single-digit fds only) moves it there
        # and execs gst in its own place, so the PID and the command line are gst's
        script = 'exec "$@"' if write_fd == 3 else f'exec "$@" 3>&{write_fd} {write_fd}>&-'
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "HOME": str(self._workdir),
            "LANG": "C",
            "GST_REGISTRY": str(self._workdir / "gst-registry.bin"),
        }
        try:
            proc = subprocess.Popen(
                ["/bin/bash", "-c", script, "bash", exe, *redirect.argv[1:]],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(write_fd,),
                start_new_session=True,
                cwd=self._workdir,
                env=env,
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        run = _Run(proc, read_fd, dev, description)
        with self._lock:
            feeder.pid, feeder.state = proc.pid, "active"
            self._runs[unit] = run
        threading.Thread(
            target=self._pump, args=(feeder, run), name=f"feeder {unit}", daemon=True
        ).start()
        return feeder

    def stop(self, unit: str) -> None:
        """Stop a running unit: SIGTERM its process group, SIGKILL after a grace period."""
        self._stop_runs([unit])

    def stop_all(self) -> None:
        """Stop every running unit, by PID, and reap them."""
        with self._lock:
            units = list(self._runs)
        self._stop_runs(units)

    def device_gone(self, devnode: str) -> None:
        """The device disappeared under its feeders: they fail with gst's exit status 1."""
        with self._lock:
            victims = [
                (self._units[u], r) for u, r in self._runs.items() if r.device.devnode == devnode
            ]
        for feeder, run in victims:
            run.gone = True
            feeder.log.append(
                f"ERROR: from element {_sink_path(feeder)}: Device '{devnode}' has disappeared.",
            )
            self._signal(run, signal.SIGKILL)
        for _, run in victims:
            run.done.wait(_STOP_GRACE)

    def get(self, unit: str) -> Feeder | None:
        """The unit's record (running or ended), or None if it was never started."""
        with self._lock:
            return self._units.get(unit)

    def units(self) -> list[Feeder]:
        """All unit records, running or ended."""
        with self._lock:
            return list(self._units.values())

    def pids(self) -> list[int]:
        """PIDs of the feeder processes still running."""
        with self._lock:
            return [r.proc.pid for r in self._runs.values() if not r.reaped]

    def _stop_runs(self, units: list[str]) -> None:
        with self._lock:
            runs = [(self._units[u], self._runs[u]) for u in units if u in self._runs]
        for feeder, run in runs:
            run.stopping = True
            feeder.log.append(f"Stopping {_service(feeder.unit)} - {run.description}...")
            self._signal(run, signal.SIGTERM)
        deadline = time.monotonic() + _STOP_GRACE
        for feeder, run in runs:
            if not run.done.wait(max(0.0, deadline - time.monotonic())):
                feeder.log.append(
                    f"{_service(feeder.unit)}: State 'stop-sigterm' timed out. Killing."
                )
                self._signal(run, signal.SIGKILL)
                run.done.wait(_KILL_GRACE)

    def _signal(self, run: _Run, sig: signal.Signals) -> None:
        # holding run.lock while not reaped guarantees the pgid is still ours
        with run.lock:
            if not run.reaped:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(run.proc.pid, sig)

    def _pump(self, feeder: Feeder, run: _Run) -> None:
        """Read frames and output until both pipes close, then reap and record the exit."""
        assert run.proc.stdout is not None
        out_fd = run.proc.stdout.fileno()
        parser, pending = _PartParser(), b""
        sabotage = "feeder-down" in self._faults and feeder.devnode == FEEDER_DOWN_DEVNODE
        killed = False
        try:
            with selectors.DefaultSelector() as sel:
                sel.register(out_fd, selectors.EVENT_READ)
                sel.register(run.frames_fd, selectors.EVENT_READ)
                while sel.get_map():
                    for key, _ in sel.select():
                        data = os.read(key.fd, 65536)
                        if not data:
                            sel.unregister(key.fd)
                        elif key.fd == out_fd:
                            *lines, pending = (pending + data).split(b"\n")
                            for line in lines:
                                feeder.log.append(line.decode("utf-8", "replace").rstrip("\r"))
                        elif not killed:
                            for frame in parser.feed(data):
                                if sabotage:
                                    killed = True
                                    self._signal(run, signal.SIGKILL)
                                    break
                                run.device.publish(frame)
            if pending:
                feeder.log.append(pending.decode("utf-8", "replace"))
        finally:
            # whatever happened above, the process must be reaped and its unit settled
            os.close(run.frames_fd)
            run.proc.stdout.close()
            with contextlib.suppress(ChildProcessError):
                os.waitid(os.P_PID, run.proc.pid, os.WEXITED | os.WNOWAIT)
            with run.lock:
                code = run.proc.wait()
                run.reaped = True
            self._record_exit(feeder, run, code)
            with self._lock:
                if self._runs.get(feeder.unit) is run:
                    del self._runs[feeder.unit]
            run.done.set()

    def _record_exit(self, feeder: Feeder, run: _Run, code: int) -> None:
        svc = _service(feeder.unit)
        if run.gone:
            self._exited(feeder, 1)
        elif run.stopping or code == 0:
            # systemd counts SIGTERM during a stop as a clean exit
            self._settle(feeder, "inactive", "success", code)
            feeder.log.append(f"{svc}: Deactivated successfully.")
            if run.stopping:
                feeder.log.append(f"Stopped {svc} - {run.description}.")
        elif code < 0:
            name = signal.Signals(-code).name.removeprefix("SIG")
            self._settle(feeder, "failed", "signal", -code)
            feeder.log.append(f"{svc}: Main process exited, code=killed, status={-code}/{name}")
            feeder.log.append(f"{svc}: Failed with result 'signal'.")
        else:
            self._exited(feeder, code)

    def _fail_without_device(self, feeder: Feeder, redirect: SinkRedirect) -> None:
        """What gst-launch 1.22 prints and returns when the sink's device node is missing."""
        element = _sink_path(feeder, redirect.sink_name)
        for line in (
            "Setting pipeline to PAUSED ...",
            f"ERROR: from element {element}: Cannot identify device '{redirect.devnode}'.",
            "Additional debug info:",
            f"../sys/v4l2/v4l2_calls.c(608): gst_v4l2_open (): {element}:",
            "system error: No such file or directory",
            "ERROR: pipeline doesn't want to preroll.",
            "Failed to set pipeline to PAUSED.",
            "Setting pipeline to NULL ...",
            "Freeing pipeline ...",
        ):
            feeder.log.append(line)
        # measured: a pipeline that cannot pause makes gst-launch return -1, i.e. 255
        self._exited(feeder, 255)

    def _exited(self, feeder: Feeder, code: int) -> None:
        svc = _service(feeder.unit)
        self._settle(feeder, "failed", "exit-code", code)
        # systemd names the statuses seen here: status=1/FAILURE, status=255/EXCEPTION
        status = {1: "1/FAILURE", 255: "255/EXCEPTION"}.get(code, str(code))
        feeder.log.append(f"{svc}: Main process exited, code=exited, status={status}")
        feeder.log.append(f"{svc}: Failed with result 'exit-code'.")

    def _settle(self, feeder: Feeder, state: str, result: str, status: int) -> None:
        with self._lock:
            feeder.state, feeder.result, feeder.exit_status = state, result, status


def _service(unit: str) -> str:
    return unit if "." in unit else f"{unit}.service"


def _sink_path(feeder: Feeder, name: str | None = None) -> str:
    sink = name or redirect_sink(feeder.argv).sink_name
    return f"/GstPipeline:pipeline0/GstV4l2Sink:{sink}"
