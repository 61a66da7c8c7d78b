"""The twin's login shell: what sshd runs (ForceCommand) for every command the suite sends.

It runs inside a private mount namespace (sshd starts it under `unshare --mount`), joins the node's
PID namespace (`twin.machine.pidns`: the session's processes are the node's, and its own /proc shows
only those), lays the twin's node files over the real ones (/dev, /sys, the boot id, and
copy-on-write overlays of /etc, /var and /run), puts the twin's tool shims first on PATH and hands
the original command to bash, exactly as sshd would on a real node. Only the standard library is
used: this runs for every command and must start fast.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

# `python3 -I` leaves the script's directory off sys.path; pidns is standard library only
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "machine"))
import pidns

MS_BIND = 4096
MS_REC = 16384
SFTP_SERVER = "/usr/lib/openssh/sftp-server"

_libc = ctypes.CDLL(None, use_errno=True)


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    rc = _libc.mount(
        source.encode(),
        target.encode(),
        fstype.encode() if fstype else None,
        flags,
        data.encode() if data else None,
    )
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def _overlay(lower: str, upper: str, work: str) -> None:
    _mount("overlay", lower, "overlay", 0, f"lowerdir={lower},upperdir={upper},workdir={work}")


def enter_node(state: str) -> None:
    """Lay the node's files over this (private) mount namespace: /proc first, then the rest."""
    root = os.path.join(state, "root")
    _mount("proc", "/proc", "proc", 0, None)
    _mount(os.path.join(root, "dev"), "/dev", None, MS_BIND | MS_REC, None)
    _mount(os.path.join(root, "sys"), "/sys", None, MS_BIND | MS_REC, None)
    _mount(os.path.join(root, "boot_id"), "/proc/sys/kernel/random/boot_id", None, MS_BIND, None)
    for top in ("etc", "var", "run"):
        _overlay(f"/{top}", os.path.join(root, f"{top}-upper"), os.path.join(root, f"{top}-work"))


def _join_node(state: str) -> None:
    """Continue in a child inside the node's PID namespace; this process relays its exit."""
    pidns.enter(state)
    child = os.fork()
    if child == 0:
        return
    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: os.kill(child, signum))
    _pid, status = os.waitpid(child, 0)
    if os.WIFSIGNALED(status):
        signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
        os.kill(os.getpid(), os.WTERMSIG(status))
    sys.exit(os.waitstatus_to_exitcode(status))


def main() -> None:
    """Enter the node and run the client's command like a login shell would."""
    state = os.environ["TWIN_STATE"]
    command = os.environ.get("SSH_ORIGINAL_COMMAND", "")
    _join_node(state)
    enter_node(state)
    os.environ["PATH"] = os.path.join(state, "bin") + ":/usr/sbin:/usr/bin:/sbin:/bin"
    os.environ.setdefault("HOME", "/root")
    os.chdir(os.environ["HOME"] if os.path.isdir(os.environ["HOME"]) else "/")
    if command in ("internal-sftp", SFTP_SERVER) or command.endswith("/sftp-server"):
        os.execv(SFTP_SERVER, [SFTP_SERVER])
    if not command:
        sys.stderr.write("the twin serves commands only, not interactive shells\n")
        sys.exit(1)
    os.execv("/bin/bash", ["bash", "-c", command])


if __name__ == "__main__":
    main()
