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

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from twin.feeders.pipeline import FeederError, redirect_sink, sink_path
from twin.feeders.runs import Run
from twin.feeders.units import Feeder, service_name
from twin.machine.frames import DeviceFrames
from twin.machine.pidns import NodeProcesses

#: the fault "feeder-down" kills the feeder of this device before its first frame lands
FEEDER_DOWN_DEVNODE = "/dev/video2"

_STOP_GRACE = 3.0
_KILL_GRACE = 2.0
_PID_DEADLINE = 5.0


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
        self._runs: dict[int, Run] = {}  # by outer PID

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
                    f"Unit {service_name(unit)} was already loaded or has a fragment file."
                )
            self._units[unit] = feeder
        feeder.log.append(f"Started {service_name(unit)} - {description}.")
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
        run = Run(feeder, read_fd, dev, outer, proc, description)
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
        run = Run(feeder, frames_fd, dev, outer_pid)
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
            element = sink_path(run.feeder.argv)
            run.feeder.log.append(
                f"ERROR: from element {element}: Device '{devnode}' has disappeared."
            )
            run.send(signal.SIGKILL)
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

    def _active(self) -> list[Run]:
        with self._lock:
            return [r for r in self._runs.values() if not r.reaped]

    def _wait_child(self, pid: int) -> int:
        """nsenter's child: gst, once bash has exec'd it (bounded)."""
        deadline = time.monotonic() + _PID_DEADLINE
        while not (children := NodeProcesses.children(pid)) and time.monotonic() < deadline:
            time.sleep(0.005)
        return children[0] if children else pid

    def _watch(self, run: Run) -> None:
        name = f"feeder {run.feeder.unit or run.outer_pid}"
        sabotage = "feeder-down" in self._faults and run.feeder.devnode == FEEDER_DOWN_DEVNODE
        args = (sabotage, self._forget)
        threading.Thread(target=run.pump, args=args, name=name, daemon=True).start()

    def _forget(self, run: Run) -> None:
        with self._lock:
            if self._runs.get(run.outer_pid) is run:
                del self._runs[run.outer_pid]

    def _stop_runs(self, runs: list[Run]) -> None:
        for run in runs:
            run.stopping = True
            if run.proc is not None:
                run.feeder.log.append(
                    f"Stopping {service_name(run.feeder.unit)} - {run.description}..."
                )
            run.send(signal.SIGTERM)
        deadline = time.monotonic() + _STOP_GRACE
        for run in runs:
            if not run.done.wait(max(0.0, deadline - time.monotonic())):
                if run.proc is not None:
                    run.feeder.log.append(
                        f"{service_name(run.feeder.unit)}: State 'stop-sigterm' timed out. Killing."
                    )
                run.send(signal.SIGKILL)
                run.done.wait(_KILL_GRACE)


def _first_line_number(fd: int) -> int:
    """The number on a pipe's first line, read bytewise so the rest stays for the pump."""
    line = b""
    while not line.endswith(b"\n") and (byte := os.read(fd, 1)):
        line += byte
    return int(line.strip() or 0)
