"""Shared pieces of the SSH self-tests: a loopback sshd and SshHost as fixtures, an echo server.

The sshd is a real OpenSSH started by `twin.sshd.Sshd`, logging in as root with a throw-away key.
Sessions get HOME set to a temp dir so that root's own .bashrc (slow on developer machines) is
not sourced by every command. Test modules import the fixtures they use from here.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import socketserver
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest

from fixtures.transport.ssh import SshHost
from fixtures.transport.sshlink import SshLink
from twin.sshd import Sshd, SshdConfig, generate_ed25519

FAKE_REBOOT = """#!/bin/sh
# Answers like a node whose reboot the test performs: boot id from a file, reboot = a request.
case "$SSH_ORIGINAL_COMMAND" in
  "cat /proc/sys/kernel/random/boot_id") exec cat "$STATE/boot_id" ;;
  *reboot*) [ -e "$STATE/ignore-reboot" ] || touch "$STATE/reboot-requested"; exit 0 ;;
  *) exec /bin/sh -c "$SSH_ORIGINAL_COMMAND" ;;
esac
"""


@pytest.fixture(name="workdir")
def workdir_fixture() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="ssh-selftest-") as d:
        yield Path(d)


@pytest.fixture(name="client_key")
def client_key_fixture(workdir: Path) -> tuple[Path, str]:
    path = workdir / "id_ed25519"
    return path, generate_ed25519(path, "selftest")


def make_sshd(workdir: Path, public_key: str, force_command: str | None = None, **env: str) -> Sshd:
    config = SshdConfig(
        workdir / "sshd",
        "root",
        [public_key],
        force_command=force_command,
        set_env={"HOME": str(workdir), **env},
    )
    return Sshd(config)


@pytest.fixture(name="sshd")
def sshd_fixture(workdir: Path, client_key: tuple[Path, str]) -> Iterator[Sshd]:
    server = make_sshd(workdir, client_key[1])
    with server:
        yield server


def make_host(sshd: Sshd, key: Path, **kwargs: Any) -> SshHost:
    kwargs.setdefault("known_host_key", sshd.host_public_key)
    return SshHost(SshLink("127.0.0.1", sshd.port, "root", str(key), connect_timeout=3, **kwargs))


@pytest.fixture(name="host")
def host_fixture(sshd: Sshd, client_key: tuple[Path, str]) -> Iterator[SshHost]:
    h = make_host(sshd, client_key[0])
    h.connect(5)
    yield h
    h.close()


def wait_for(condition: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(4096):
            self.request.sendall(data)


@contextlib.contextmanager
def echo_server() -> Iterator[tuple[int, Callable[[], None]]]:
    """A loopback echo server whose port refuses connections until start() is called."""
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo, bind_and_activate=False)
    srv.server_bind()
    thread = threading.Thread(target=srv.serve_forever)

    def start() -> None:
        srv.server_activate()
        thread.start()

    try:
        yield srv.server_address[1], start
    finally:
        if thread.is_alive():
            srv.shutdown()
            thread.join()
        srv.server_close()


def echo_through(port: int, payload: bytes = b"ping") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
        chunks = []
        while data := c.recv(4096):
            chunks.append(data)
        return b"".join(chunks)


def closed_at_once(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        try:
            return c.recv(4096) == b""
        except ConnectionResetError:
            return True


def fake_node(workdir: Path, public_key: str) -> tuple[Sshd, Path]:
    state = workdir / "state"
    state.mkdir()
    (state / "boot_id").write_text("boot-1\n")
    script = workdir / "fake-node.sh"
    script.write_text(FAKE_REBOOT)
    script.chmod(0o755)
    server = make_sshd(workdir, public_key, force_command=str(script), STATE=str(state))
    return server, state


def pkey(line: str) -> paramiko.PKey:
    return paramiko.Ed25519Key(data=base64.b64decode(line.split()[1]))
