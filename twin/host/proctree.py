"""Process trees read from /proc: what runs below a process, killed until nothing is left.

The twin's sshd owns its sessions and everything they start; dropping every connection, or
stopping sshd, kills that whole tree by PID. Orphans of killed sessions are re-parented to the
(subreaper) root, so the tree is read again until it is empty, within a deadline; a kill is
done when the killed processes are reaped, or are zombies if their parent cannot reap.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential


class Survivors(RuntimeError):
    """Processes below root outlived SIGKILL until the deadline."""

    def __init__(self, root: int, pids: list[int]) -> None:
        super().__init__(f"processes below {root} survived SIGKILL: {pids}")
        self.root, self.pids = root, pids


class _Alive(Exception):
    pass


def live_children() -> dict[int, list[int]]:
    """Map ppid -> pids of the processes that are not zombies, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may contain spaces and parentheses: parse after the last ')'.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if fields[0] in (b"Z", b"X"):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def descendants(root: int) -> list[int]:
    """Every live process below root, at the moment of reading."""
    tree = live_children()
    found, todo = [], list(tree.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, []))
    return found


def kill_descendants(root: int, seconds: float, reaped: bool = True) -> int:
    """SIGKILL the whole process tree below root until none is left; return the children hit.

    `reaped`: whether root reaps its children (a stopped process leaves them zombies). Raises
    Survivors when processes are still there after `seconds`.
    """
    sessions = len(live_children().get(root, []))
    deadline = time.monotonic() + seconds
    # Orphans of killed sessions are re-parented to the subreaper root, so repeated passes
    # also catch processes forked between a snapshot and the kill.
    while pids := descendants(root):
        if time.monotonic() > deadline:
            raise Survivors(root, pids)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _wait_gone(pids, deadline, reaped)
    return sessions


def _wait_gone(pids: list[int], deadline: float, reaped: bool) -> None:
    """Wait (bounded) until the killed pids are reaped, or are zombies if nobody can reap."""

    def check() -> None:
        if reaped:
            alive = [p for p in pids if os.path.exists(f"/proc/{p}")]
        else:
            live = {p for kids in live_children().values() for p in kids}
            alive = [p for p in pids if p in live]
        if alive:
            raise _Alive(alive)

    retrying = Retrying(
        stop=stop_after_delay(max(0.0, deadline - time.monotonic())),
        wait=wait_exponential(multiplier=0.002, min=0.002, max=0.05),
        retry=retry_if_exception_type(_Alive),
        reraise=True,
    )
    with contextlib.suppress(_Alive):
        retrying(check)
