"""Start and stop the twin from the suite: a daemon process per run, nothing left behind.

`Twin.start()` creates a private state directory, launches `python -m twin.daemon` in its own
process group (optionally deployed by hand first, `twin.deployment`) and waits (bounded) for
its endpoint line; `Twin.stop()` asks it to stop, kills
the group if it does not, and removes the directory.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from twin.deployment import DEPLOY_DEADLINE, DEPLOYMENTS
from twin.faults import FAULTS
from twin.machine.platform import DEFAULT_PLATFORM, PLATFORMS

REPO = Path(__file__).resolve().parent.parent
#: the twin target (fixtures/targets/twin.py) reads the platforms here, beside the twin itself
__all__ = ["PLATFORMS", "Twin", "TwinEndpoint", "TwinError"]


class TwinError(RuntimeError):
    """The twin could not be started."""


@dataclass(frozen=True)
class TwinEndpoint:
    """How to reach the twin: exactly what a GCE VM would give (address, key, host key)."""

    host: str
    port: int
    user: str
    key_path: str
    host_key: str


class Twin:
    """The local edge twin, as a context manager."""

    def __init__(
        self,
        faults: list[str] | tuple[str, ...] = (),
        start_timeout: float | None = None,
        deployment: str = "none",
        spec: dict[str, object] | None = None,
        platform: str = DEFAULT_PLATFORM,
    ) -> None:
        if platform not in PLATFORMS:
            raise ValueError(f"unknown twin platform {platform!r}; known: {', '.join(PLATFORMS)}")
        self.platform = platform
        unknown = [f for f in faults if f not in FAULTS]
        if unknown:
            raise ValueError(f"unknown twin fault(s) {unknown}; known: {', '.join(FAULTS)}")
        if deployment not in DEPLOYMENTS:
            raise ValueError(f"unknown twin deployment {deployment!r}; known: {DEPLOYMENTS}")
        self.faults = tuple(faults)
        self.deployment, self.spec = deployment, dict(spec or {})
        # a hand deployment runs before the node answers: packages, MicroK8s, Akri, the app
        default = 30.0 if deployment == "none" else 30.0 + DEPLOY_DEADLINE
        self.start_timeout = start_timeout or default
        self.dir: Path | None = None
        self.process: subprocess.Popen | None = None
        self.started_in = 0.0

    def start(self) -> TwinEndpoint:
        """Launch the daemon and wait for its endpoint."""
        try:
            return self._start()
        except BaseException:
            # Ctrl-C, SIGTERM or SIGHUP (KeyboardInterrupt) while the daemon comes up: the
            # caller never gets a twin to stop, so nothing may be left running here
            self.stop()
            raise

    def _start(self) -> TwinEndpoint:
        began = time.monotonic()
        self.dir = Path(tempfile.mkdtemp(prefix="akri-twin-"))
        cmd = [sys.executable, "-m", "twin.daemon", "--state", str(self.dir)]
        for fault in self.faults:
            cmd += ["--fault", fault]
        cmd += ["--platform", self.platform]
        if self.deployment != "none":
            cmd += ["--deployment", self.deployment, "--spec", json.dumps(self.spec)]
        log = open(self.dir / "daemon.log", "wb")  # noqa: SIM115 - owned by the child
        self.process = subprocess.Popen(
            cmd,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], self.start_timeout)
        line = self.process.stdout.readline() if ready else b""
        if not line:
            tail = (self.dir / "daemon.log").read_text(errors="replace")[-2000:]
            self.stop()
            raise TwinError(f"the twin did not start within {self.start_timeout:.0f}s:\n{tail}")
        info = json.loads(line)
        self.started_in = time.monotonic() - began
        return TwinEndpoint(info["host"], info["port"], info["user"], info["key"], info["host_key"])

    def stop(self) -> None:
        """Stop the daemon (it stops what it started), then make sure of it; remove the state."""
        proc, self.process = self.process, None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)
            if proc.stdout is not None:
                proc.stdout.close()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the daemon's log, for diagnostics."""
        if self.dir is None or not (self.dir / "daemon.log").exists():
            return ""
        return (self.dir / "daemon.log").read_text(errors="replace")[-chars:]

    def __enter__(self) -> TwinEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
