"""One running feeder: its frames pumped into the device, its output into the journal, its exit.

A `Run` is a feeder process as the manager tracks it: the pipe its redirected sink writes multipart
JPEG to, the device those frames land in, and for a unit the `nsenter` parent that relays gst's exit
status. Its pump thread reads until the pipes close, shows the pipeline as it was run once gst has
parsed it (`twin.machine.pidns.show_argv`), then reaps the process and settles the record.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from twin.feeders.pipeline import _PartParser
from twin.feeders.units import Feeder
from twin.machine.frames import DeviceFrames
from twin.machine.pidns import show_argv


@dataclass
class Run:
    """One feeder process, its frames pipe and (for a unit) its nsenter parent."""

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

    def send(self, sig: signal.Signals) -> None:
        """Signal the process (a unit's whole process group), unless it was reaped."""
        # holding self.lock while not reaped guarantees the PID (and a unit's pgid) is still ours
        with self.lock, contextlib.suppress(ProcessLookupError):
            if self.reaped:
                return
            if self.proc is not None:
                os.killpg(self.proc.pid, sig)
            else:
                os.kill(self.outer_pid, sig)

    def pump(self, sabotage: bool, forget: Callable[[Run], None]) -> None:
        """Read frames (and a unit's output) until the pipes close; then settle the feeder.

        `sabotage` (the `feeder-down` fault) kills the process at its first frame; `forget`
        drops the run from its manager's table before `done` is set.
        """
        feeder = self.feeder
        out_fd = self.proc.stdout.fileno() if self.proc and self.proc.stdout else None
        parser, pending = _PartParser(), b""
        killed = shown = False
        try:
            with selectors.DefaultSelector() as sel:
                sel.register(self.frames_fd, selectors.EVENT_READ)
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
                                    self.send(signal.SIGKILL)
                                    break
                                # gst has parsed its pipeline: show it as it was run
                                shown = shown or show_argv(self.outer_pid, feeder.argv)
                                self.device.publish(frame)
            if pending:
                feeder.log.append(pending.decode("utf-8", "replace"))
        finally:
            os.close(self.frames_fd)
            self._reap(forget)

    def _reap(self, forget: Callable[[Run], None]) -> None:
        """A unit's exit status is nsenter's (it relays gst's); a shell's process is its own."""
        code = None
        if self.proc is not None:
            assert self.proc.stdout is not None
            self.proc.stdout.close()
            with contextlib.suppress(ChildProcessError):
                os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOWAIT)
        with self.lock:
            if self.proc is not None:
                code = self.proc.wait()
            self.reaped = True
        if code is not None:
            self.feeder.record_exit(
                code, stopping=self.stopping, gone=self.gone, how=self.description
            )
        else:
            self.feeder.settle("inactive", "success", 0)
        forget(self)
        self.done.set()
