"""Runs the twin's feeders: real gst-launch-1.0 processes in the node's PID namespace.

Two ways in, as on a real node. `start` is a transient systemd unit (`systemd-run`): the
process is started here, inside the node's namespace, its output is the unit's journal and its
exit is the unit's result. `attach` is a process a shell started (`sudo gst-launch-1.0 ... &`):
the shim exec'd gst itself with the redirected sink on a socket to the daemon, so the process
is the shell's child, dies with its session or by `kill` like a real one, and is fed while that
socket is open. Either way frames go into the device's buffer, and once gst has parsed its
pipeline its command line is shown as it was run. Stopping is by PID only.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from twin.feeders.pipeline import (
    FEEDER_DOWN_DEVNODE,
    DeviceFrames,
    Feeder,
    FeederError,
    _PartParser,
    _service,
    _sink_path,
    redirect_sink,
)
from twin.host.pidns import NodeProcesses, show_argv

_STOP_GRACE = 3.0
_KILL_GRACE = 2.0
_PID_DEADLINE = 5.0


@dataclass
class _Run:
    feeder: Feeder
    frames_fd: int
    device: DeviceFrames
    outer_pid: int  # as the daemon's namespace numbers it: for signals and /proc
    proc: subprocess.Popen[bytes] | None = None  # units only (nsenter, which relays the exit)
    description: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: threading.Event = field(default_factory=threading.Event)
    reaped: bool = False
    stopping: bool = False
    gone: bool = False


class FeederManager:
    """Starts, attaches, watches and stops the twin's feeders."""

    def __init__(
        self,
        workdir: Path,
        device: Callable[[str], DeviceFrames | None],
        faults: frozenset[str],
        procs: NodeProcesses,
        gst_env: dict[str, str] | None = None,
    ) -> None:
        self._workdir = Path(workdir)
        self._gst_env = dict(gst_env or {})
        self._device = device
        self._faults = faults
        self._procs = procs
        self._lock = threading.Lock()
        self._units: dict[str, Feeder] = {}
        self._runs: dict[int, _Run] = {}  # by outer PID

    def env(self) -> dict[str, str]:
        """The environment a unit's gst runs with (its own plugin registry)."""
        return {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "HOME": str(self._workdir),
            "LANG": "C",
            "GST_REGISTRY": str(self._workdir / "gst-registry.bin"),
            **self._gst_env,
        }

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
            feeder.fail_without_device(redirect.sink_name)
            return feeder
        self._workdir.mkdir(parents=True, exist_ok=True)
        read_fd, write_fd = os.pipe()
        # bash tells gst's PID as the node numbers it, moves the pipe to fd 3 (dash takes
        # single-digit fds only) and execs gst in its own place
        script = f'echo "$$"; exec "$@" 3>&{write_fd} {write_fd}>&-'
        try:
            proc = subprocess.Popen(
                self._procs.command(["/bin/bash", "-c", script, "bash", exe, *redirect.argv[1:]]),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(write_fd,),
                start_new_session=True,
                cwd=self._workdir,
                env=self.env(),
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        assert proc.stdout is not None
        feeder.pid = _first_line_number(proc.stdout.fileno())
        outer = self._wait_child(proc.pid)
        run = _Run(feeder, read_fd, dev, outer, proc, description)
        with self._lock:
            feeder.state = "active"
            self._runs[outer] = run
        self._watch(run)
        return feeder

    def attach(self, frames_fd: int, outer_pid: int, argv: list[str]) -> Feeder | None:
        """A shell's gst-launch (exec'd by the shim) writes to us on frames_fd; None: no device."""
        redirect = redirect_sink(argv)
        dev = self._device(redirect.devnode)
        if dev is None:
            os.close(frames_fd)
            return None
        feeder = Feeder("", list(argv), redirect.devnode, NodeProcesses.inner_pid(outer_pid))
        feeder.state = "active"
        run = _Run(feeder, frames_fd, dev, outer_pid)
        with self._lock:
            self._runs[outer_pid] = run
        self._watch(run)
        return feeder

    def stop(self, unit: str) -> None:
        """Stop a running unit: SIGTERM its process group, SIGKILL after a grace period."""
        self._stop_runs([r for r in self._active() if r.feeder.unit == unit])

    def stop_all(self) -> None:
        """Stop every running feeder, by PID, and reap the units."""
        self._stop_runs(self._active())

    def device_gone(self, devnode: str) -> None:
        """The device disappeared under its feeders: they fail with gst's exit status 1."""
        victims = [r for r in self._active() if r.device.devnode == devnode]
        for run in victims:
            run.gone = True
            element = _sink_path(run.feeder)
            run.feeder.log.append(
                f"ERROR: from element {element}: Device '{devnode}' has disappeared."
            )
            self._signal(run, signal.SIGKILL)
        for run in victims:
            run.done.wait(_STOP_GRACE)

    def get(self, unit: str) -> Feeder | None:
        """The unit's record (running or ended), or None if it was never started."""
        with self._lock:
            return self._units.get(unit)

    def units(self) -> list[Feeder]:
        """All unit records, running or ended."""
        with self._lock:
            return list(self._units.values())

    def running(self) -> list[Feeder]:
        """Every feeder whose process runs: units and shell-started processes."""
        return [r.feeder for r in self._active()]

    def pids(self) -> list[int]:
        """PIDs (this namespace's) of the feeder processes still running."""
        return [r.outer_pid for r in self._active()]

    def _active(self) -> list[_Run]:
        with self._lock:
            return [r for r in self._runs.values() if not r.reaped]

    def _wait_child(self, pid: int) -> int:
        """nsenter's child: gst, once bash has exec'd it (bounded)."""
        deadline = time.monotonic() + _PID_DEADLINE
        while not (children := NodeProcesses.children(pid)) and time.monotonic() < deadline:
            time.sleep(0.005)
        return children[0] if children else pid

    def _watch(self, run: _Run) -> None:
        name = f"feeder {run.feeder.unit or run.outer_pid}"
        threading.Thread(target=self._pump, args=(run,), name=name, daemon=True).start()

    def _stop_runs(self, runs: list[_Run]) -> None:
        for run in runs:
            run.stopping = True
            if run.proc is not None:
                run.feeder.log.append(
                    f"Stopping {_service(run.feeder.unit)} - {run.description}..."
                )
            self._signal(run, signal.SIGTERM)
        deadline = time.monotonic() + _STOP_GRACE
        for run in runs:
            if not run.done.wait(max(0.0, deadline - time.monotonic())):
                if run.proc is not None:
                    run.feeder.log.append(
                        f"{_service(run.feeder.unit)}: State 'stop-sigterm' timed out. Killing."
                    )
                self._signal(run, signal.SIGKILL)
                run.done.wait(_KILL_GRACE)

    def _signal(self, run: _Run, sig: signal.Signals) -> None:
        # holding run.lock while not reaped guarantees the PID (and a unit's pgid) is still ours
        with run.lock, contextlib.suppress(ProcessLookupError):
            if run.reaped:
                return
            if run.proc is not None:
                os.killpg(run.proc.pid, sig)
            else:
                os.kill(run.outer_pid, sig)

    def _pump(self, run: _Run) -> None:
        """Read frames (and a unit's output) until the pipes close; then settle the feeder."""
        feeder = run.feeder
        out_fd = run.proc.stdout.fileno() if run.proc and run.proc.stdout else None
        parser, pending = _PartParser(), b""
        sabotage = "feeder-down" in self._faults and feeder.devnode == FEEDER_DOWN_DEVNODE
        killed = shown = False
        try:
            with selectors.DefaultSelector() as sel:
                sel.register(run.frames_fd, selectors.EVENT_READ)
                if out_fd is not None:
                    sel.register(out_fd, selectors.EVENT_READ)
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
                                # gst has parsed its pipeline: show it as it was run
                                shown = shown or show_argv(run.outer_pid, feeder.argv)
                                run.device.publish(frame)
            if pending:
                feeder.log.append(pending.decode("utf-8", "replace"))
        finally:
            os.close(run.frames_fd)
            self._reap(run)

    def _reap(self, run: _Run) -> None:
        """A unit's exit status is nsenter's (it relays gst's); a shell's process is its own."""
        code = None
        if run.proc is not None:
            assert run.proc.stdout is not None
            run.proc.stdout.close()
            with contextlib.suppress(ChildProcessError):
                os.waitid(os.P_PID, run.proc.pid, os.WEXITED | os.WNOWAIT)
        with run.lock:
            if run.proc is not None:
                code = run.proc.wait()
            run.reaped = True
        if code is not None:
            run.feeder.record_exit(code, stopping=run.stopping, gone=run.gone, how=run.description)
        else:
            run.feeder.settle("inactive", "success", 0)
        with self._lock:
            if self._runs.get(run.outer_pid) is run:
                del self._runs[run.outer_pid]
        run.done.set()


def _first_line_number(fd: int) -> int:
    """The number on a pipe's first line, read bytewise so the rest stays for the pump."""
    line = b""
    while not line.endswith(b"\n") and (byte := os.read(fd, 1)):
        line += byte
    return int(line.strip() or 0)
