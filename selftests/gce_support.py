"""Shared pieces of the gce self-tests: run the suite with `--target gce` against the fake.

`run_gce` runs `python -m pytest` in a subprocess as a user would (plain-HTTP fake endpoint,
hence anonymous credentials), with its own reports, temp and cache directories, and returns the
exit code, output, duration, JUnit testcases and testsuite properties. `start_gce` starts the
same run without waiting, for the signal tests. `twin_node` is a module-wide edge twin whose
sshd stands in for the VM's; `blackhole` is a port whose "sshd" never answers.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from selftests.fakegce import FakeCompute, GuestAgent
from twin.lifecycle import Twin, TwinEndpoint

REPO = Path(__file__).resolve().parent.parent
PROJECT = "p-test"
ZONE = "us-central1-a"


@dataclass
class Run:
    """What one suite run did and left behind."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    cases: dict[str, dict]
    properties: dict[str, str]
    home: Path

    def outcome(self, name: str) -> str:
        """passed / failed / error / skipped for one test function."""
        return self.cases[name]["outcome"]

    @property
    def temp_leftovers(self) -> list[str]:
        """Whatever the run left in its TMPDIR (the ephemeral key must be gone)."""
        return sorted(p.name for p in (self.home / "tmp").iterdir())


def command(fake: FakeCompute, home: Path, ssh_port: int, *args: str) -> list[str]:
    """The suite's command line for the fake."""
    return [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        f"--reports-dir={home / 'reports'}",
        "--target=gce",
        f"--gce-project={PROJECT}",
        f"--gce-zone={ZONE}",
        f"--gce-api-endpoint={fake.url}",
        f"--ssh-port={ssh_port}",
        *args,
    ]


def environment(home: Path) -> dict[str, str]:
    """The run's environment: its own temp and cache dirs, no Google metadata probing."""
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AKRI_E2E_", "GOOGLE_"))}
    env.update(
        TMPDIR=str(home / "tmp"),
        XDG_CACHE_HOME=str(home / "cache"),
        NO_GCE_CHECK="true",
        PYTHONPATH=str(REPO),
    )
    return env


def run_gce(fake: FakeCompute, home: Path, ssh_port: int, *args: str, timeout: float = 300) -> Run:
    """Run the suite against the fake and wait for it."""
    began = time.monotonic()
    proc = subprocess.run(
        command(fake, home, ssh_port, *args),
        cwd=REPO,
        env=environment(home),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return finished(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - began, home)


def start_gce(fake: FakeCompute, home: Path, ssh_port: int, *args: str) -> subprocess.Popen:
    """Start the suite against the fake (for tests that signal it)."""
    return subprocess.Popen(
        command(fake, home, ssh_port, *args),
        cwd=REPO,
        env=environment(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(code: int, out: str, err: str, seconds: float, home: Path) -> Run:
    """A Run from a finished process and its JUnit file."""
    cases: dict[str, dict] = {}
    properties: dict[str, str] = {}
    junit = home / "reports" / "junit.xml"
    if junit.exists():
        root = ET.parse(junit).getroot()
        properties = {p.get("name"): p.get("value") for p in root.iter("property")}
        for case in root.iter("testcase"):
            outcome, message = "passed", ""
            for child in case:
                if child.tag in ("failure", "error", "skipped"):
                    # a teardown error after a pass is still an error (leaks end up there)
                    outcome = {"failure": "failed", "error": "error"}.get(child.tag, "skipped")
                    message += (child.get("message") or "") + "\n" + (child.text or "")
            cases[case.get("name")] = {"outcome": outcome, "message": message}
    return Run(code, out, err, seconds, cases, properties, home)


@pytest.fixture(scope="module")
def twin_node() -> Iterator[tuple[TwinEndpoint, Path]]:
    """One healthy edge twin for a module: (endpoint, state directory)."""
    twin = Twin()
    endpoint = twin.start()
    try:
        assert twin.dir is not None
        yield endpoint, twin.dir
    finally:
        twin.stop()


def agent_for(node: tuple[TwinEndpoint, Path]) -> GuestAgent:
    """A guest agent that installs keys into the twin's sshd and publishes its host key."""
    endpoint, state = node
    return GuestAgent(state / "sshd" / "authorized_keys", endpoint.host_key)


@contextlib.contextmanager
def blackhole() -> Iterator[tuple[int, list[socket.socket]]]:
    """A loopback port that accepts TCP connections and never says a word (a hung sshd)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    held: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, name="blackhole", daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], held
    finally:
        done.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()
