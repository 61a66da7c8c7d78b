"""The node's process table: a PID namespace per boot, with an init that reaps, and argv as shown.

A real node's `ps` lists that node's processes only. The twin gives each boot of the node its own
PID namespace: an init process (PID 1 inside) started with `unshare --pid --fork`, which every SSH
session (`twin.shell`) and every feeder joins, and in which each session mounts its own /proc. `ps`,
`kill` and `/proc/<pid>` are then the real tools on a real (namespaced) process table, and two twins
on one machine never see each other's processes. Killing init ends every process of the boot, as a
reboot does. `show_argv` rewrites a running process's command line in its own memory (what `ps`
reads), so that a feeder whose sink the twin redirected shows the pipeline its unit or shell ran
(`... ! v4l2sink device=/dev/videoN`, docs/facts.md#feeder-pipeline). Only the standard library is
used: `twin.shell` imports it on every command.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from pathlib import Path

CLONE_NEWPID = 0x20000000
INIT_FILE = "init.pid"
_START_DEADLINE = 5.0
# PID 1 of the node: reaps whatever is re-parented to it (background feeders of ended shells;
# SIGCHLD is blocked so that none is lost between two waits) and ends on SIGTERM, which takes
# every process of the namespace with it.
_INIT = (
    "import os, signal\n"
    "signal.signal(signal.SIGTERM, lambda *_: os._exit(0))\n"
    "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})\n"
    "while True:\n"
    "    try:\n"
    "        while os.waitpid(-1, os.WNOHANG)[0]:\n"
    "            pass\n"
    "    except ChildProcessError:\n"
    "        pass\n"
    "    signal.sigwaitinfo({signal.SIGCHLD})\n"
)


class NodeProcesses:
    """The PID namespace of the node's current boot, and how processes are started in it."""

    def __init__(self, state_dir: Path) -> None:
        self._file = state_dir / INIT_FILE
        self._unshare: subprocess.Popen[bytes] | None = None
        self.init_pid = 0  # init's PID as this (outer) namespace sees it

    def boot(self) -> None:
        """Start a fresh namespace (ending the previous one, with all its processes)."""
        self.halt()
        self._unshare = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--kill-child", "python3", "-IS", "-c", _INIT],
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + _START_DEADLINE
        while not (children := self.children(self._unshare.pid)):
            if time.monotonic() > deadline or self._unshare.poll() is not None:
                raise RuntimeError("the node's init did not start (unshare --pid --fork)")
            time.sleep(0.01)
        self.init_pid = children[0]
        self._file.write_text(f"{self.init_pid}\n")

    def halt(self) -> None:
        """End the namespace: init's death kills every process in it (by PID, nothing else)."""
        proc, self._unshare = self._unshare, None
        if proc is None:
            return
        for pid in (self.init_pid, proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=10)
        self.init_pid = 0
        self._file.unlink(missing_ok=True)

    def command(self, argv: list[str]) -> list[str]:
        """argv wrapped to run inside the node's namespace (nsenter forks into it and waits)."""
        return ["nsenter", f"--target={self.init_pid}", "--pid", "--", *argv]

    @staticmethod
    def children(pid: int) -> list[int]:
        """The direct children of a process, as this namespace numbers them."""
        try:
            text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    @staticmethod
    def inner_pid(pid: int) -> int:
        """A process's PID as its own (innermost) namespace numbers it, i.e. as `ps` shows it."""
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
        except OSError:
            pass
        return 0


def show_argv(pid: int, argv: list[str]) -> bool:
    """Write argv over the process's argument area (what /proc/PID/cmdline and ps show).

    The area keeps its size: argv must fit (the twin's redirected command is padded to make
    room), the rest is zeroed, which ps drops. False when the process is gone or it does not fit.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end (proc(5))
        text = b"".join(a.encode() + b"\0" for a in argv)
        if not start or len(text) > end - start:
            return False
        with open(f"/proc/{pid}/mem", "r+b", buffering=0) as mem:
            mem.seek(start)
            mem.write(text.ljust(end - start, b"\0"))
        return True
    except (OSError, IndexError, ValueError):
        return False


def enter(state_dir: str) -> None:
    """Make this process's future children members of the node's current PID namespace."""
    pid = int(Path(state_dir, INIT_FILE).read_text())
    fd = os.open(f"/proc/{pid}/ns/pid", os.O_RDONLY)
    try:
        if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWPID) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into the node's PID namespace: {os.strerror(err)}")
    finally:
        os.close(fd)
