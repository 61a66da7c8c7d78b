"""A real OpenSSH sshd on loopback, owned by this process: the twin's front door and a test tool.

`Sshd` writes a private sshd_config into its directory (per-run ed25519 host key, authorized
keys, optional ForceCommand and SetEnv), picks a free 127.0.0.1 port and runs
`/usr/sbin/sshd -D -e` as a child process so that its PID, its session processes and its death
are ours to manage. The listener is made a child subreaper, so the processes of killed sessions
are reaped by sshd rather than left as zombies under a PID 1 that may never reap. Besides start
and stop it models the disruptions the suite must survive: a dropped connection
(`drop_sessions`), a reboot (`restart` on the same port and key) and a host that never answers
(`pause`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from twin.host.proctree import Survivors, descendants, kill_descendants

SSHD = "/usr/sbin/sshd"
PRIVSEP_DIR = Path("/run/sshd")
READY_DEADLINE = 5.0
KILL_DEADLINE = 5.0
_PR_SET_CHILD_SUBREAPER = 36
# Resolved before any fork: the preexec hook must not load libraries in the child.
_prctl = ctypes.CDLL(None, use_errno=True).prctl


def generate_ed25519(private_path: Path, comment: str) -> str:
    """Write a new OpenSSH-format ed25519 private key (mode 0600); return its public key line."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    private_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private)
    os.chmod(private_path, 0o600)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return f"{public.decode()} {comment}".strip()


@dataclass
class SshdConfig:
    """What the sshd serves: who may log in with which keys, and what runs for them."""

    directory: Path
    user: str
    authorized_keys: list[str]
    force_command: str | None = None
    set_env: dict[str, str] = field(default_factory=dict)


class SshdError(RuntimeError):
    """sshd refused its configuration or did not come up."""


class _BindFailed(SshdError):
    pass


class _NotReady(Exception):
    pass


class Sshd:
    """One OpenSSH sshd listening on 127.0.0.1, started and stopped by this process."""

    def __init__(self, config: SshdConfig) -> None:
        self.config = config
        self.directory = Path(config.directory)
        self.port = 0
        self.host_public_key = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._paused = False

    @property
    def pid(self) -> int | None:
        """The listener's PID while it runs."""
        return self._proc.pid if self._proc and self._proc.poll() is None else None

    @property
    def log_path(self) -> Path:
        """Where sshd writes its log (stderr)."""
        return self.directory / "sshd.log"

    def start(self) -> None:
        """Start sshd on a free loopback port (or the previous one) and wait for its banner."""
        if self.pid is not None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        host_key = self.directory / "ssh_host_ed25519_key"
        if not self.host_public_key:
            self.host_public_key = generate_ed25519(host_key, "").strip()
        (self.directory / "authorized_keys").write_text(
            "".join(k.strip() + "\n" for k in self.config.authorized_keys)
        )
        if self.port:
            self._launch(self.port)
            return
        last: Exception | None = None
        for _ in range(5):
            try:
                self._launch(_free_port())
                return
            except _BindFailed as e:
                # Another process may take the port between probing and sshd's bind.
                last = e
                self.port = 0
        raise SshdError(f"sshd did not start after 5 ports: {last}")

    def _launch(self, port: int) -> None:
        cfg = self.directory / "sshd_config"
        cfg.write_text(self._render(port))
        check = subprocess.run(
            [SSHD, "-t", "-f", str(cfg)], capture_output=True, text=True, timeout=10
        )
        if check.returncode != 0:
            raise SshdError(f"sshd -t rejected {cfg}: {check.stderr.strip()}")
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(cfg)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                preexec_fn=_become_subreaper,
            )
        self.port = port
        try:
            self._wait_ready()
        except BaseException:
            self._kill_all()
            raise

    def _render(self, port: int) -> str:
        d = self.directory
        lines = [
            f"ListenAddress 127.0.0.1:{port}",
            f"HostKey {d / 'ssh_host_ed25519_key'}",
            "PidFile none",
            f"AuthorizedKeysFile {d / 'authorized_keys'}",
            f"AllowUsers {self.config.user}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            # authorized_keys lives in a temp dir whose owner and modes sshd would refuse.
            "StrictModes no",
            "PermitRootLogin prohibit-password",
            "AllowTcpForwarding yes",
            "Subsystem sftp /usr/lib/openssh/sftp-server",
            "ClientAliveInterval 15",
            "MaxStartups 50",
            "MaxSessions 50",
            "LogLevel ERROR",
        ]
        if self.config.set_env:
            pairs = " ".join(f'"{k}={v}"' for k, v in self.config.set_env.items())
            lines.append(f"SetEnv {pairs}")
        if self.config.force_command:
            lines.append(f"ForceCommand {self.config.force_command}")
        return "\n".join(lines) + "\n"

    def _wait_ready(self) -> None:
        assert self._proc is not None
        proc, port = self._proc, self.port

        def probe() -> None:
            if proc.poll() is not None:
                tail = self._log_tail()
                error = _BindFailed if "bind" in tail.lower() else SshdError
                raise error(f"sshd exited {proc.returncode} on port {port}: {tail}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    if not s.recv(64).startswith(b"SSH-2.0"):
                        raise _NotReady("no SSH-2.0 banner")
                    # Identify ourselves, or sshd logs every probe as an error.
                    s.sendall(b"SSH-2.0-readiness-probe\r\n")
            except OSError as e:
                raise _NotReady(str(e)) from e

        retrying = Retrying(
            stop=stop_after_delay(READY_DEADLINE),
            wait=wait_exponential(multiplier=0.01, min=0.01, max=0.2),
            retry=retry_if_exception_type(_NotReady),
            reraise=True,
        )
        try:
            retrying(probe)
        except _NotReady as e:
            raise SshdError(
                f"sshd on port {port} sent no banner within {READY_DEADLINE}s ({e}): "
                f"{self._log_tail()}"
            ) from e

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-5:])
        return "(no log)"

    def stop(self) -> None:
        """Terminate the listener and every session process, and reap them. Idempotent."""
        self._kill_all()

    def _kill_all(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            # A stopped listener cannot reap the sessions we are about to kill.
            proc.send_signal(signal.SIGCONT)
            self._paused = False
            _kill_below(proc.pid)
            proc.kill()
        proc.wait(timeout=KILL_DEADLINE)
        self._proc = None

    def drop_sessions(self) -> int:
        """Kill every per-connection process, keep the listener: all SSH connections drop."""
        if self.pid is None:
            return 0
        return _kill_below(self.pid, reaped=not self._paused)

    def session_pids(self) -> list[int]:
        """PIDs of every process below the listener (sessions and what they run)."""
        return descendants(self.pid) if self.pid is not None else []

    def restart(self) -> None:
        """Stop everything, then start again on the same port with the same host key."""
        self.stop()
        self.start()

    def pause(self) -> None:
        """Freeze the listener: new connections are accepted by the kernel but never answered."""
        if self.pid is not None:
            os.kill(self.pid, signal.SIGSTOP)
            self._paused = True

    def resume(self) -> None:
        """Undo `pause`."""
        if self.pid is not None:
            os.kill(self.pid, signal.SIGCONT)
            self._paused = False

    def __enter__(self) -> Sshd:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _become_subreaper() -> None:
    _prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kill_below(root: int, reaped: bool = True) -> int:
    """Kill every process below the listener; return the sessions hit."""
    try:
        return kill_descendants(root, KILL_DEADLINE, reaped)
    except Survivors as e:
        raise SshdError(f"processes below sshd {root} survived SIGKILL: {e.pids}") from e
