"""Self-tests of the SSH port forward and of the loopback sshd launcher itself."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from fixtures.transport.ssh import SshHost
from selftests.sshd_support import (  # noqa: F401  (fixtures are found by name)
    client_key_fixture,
    closed_at_once,
    echo_server,
    echo_through,
    host_fixture,
    sshd_fixture,
    wait_for,
    workdir_fixture,
)
from twin.sshd import Sshd


def test_forward_survives_a_dropped_connection(host: SshHost, sshd: Sshd) -> None:
    with echo_server() as (remote, start), host.forward(remote) as port:
        start()
        assert echo_through(port, b"one") == b"one"
        sshd.drop_sessions()
        assert echo_through(port, b"two") == b"two"
    assert host.stats.reconnects == 1


def test_forward_to_a_closed_port_drops_only_that_client(host: SshHost) -> None:
    with echo_server() as (remote, start), host.forward(remote) as port:
        assert closed_at_once(port), "a refused remote port must close that client"
        start()
        assert echo_through(port, b"three") == b"three"
    assert host.run("echo still").ok and host.stats.reconnects == 0


def test_forward_stops_its_threads(host: SshHost) -> None:
    before = threading.active_count()
    with (
        echo_server() as (remote, start),
        host.forward(remote) as port,
        socket.create_connection(("127.0.0.1", port), timeout=5) as idle,
    ):
        start()
        idle.sendall(b"x")
        assert idle.recv(1) == b"x"
    wait_for(lambda: threading.active_count() <= before, timeout=2)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


# -- the sshd launcher itself --------------------------------------------------------------


def test_sshd_stop_leaves_no_process(sshd: Sshd, host: SshHost, workdir: Path) -> None:
    pid_file = workdir / "bg.pid"
    host.run(f"sleep 30 </dev/null >/dev/null 2>&1 & echo $! > {pid_file}", timeout=5)
    sleeper = int(pid_file.read_text())
    listener = sshd.pid
    assert listener and os.path.exists(f"/proc/{sleeper}")
    sshd.stop()
    sshd.stop()
    assert not os.path.exists(f"/proc/{sleeper}") and not os.path.exists(f"/proc/{listener}")
    assert sshd.pid is None and sshd.drop_sessions() == 0


def test_drop_sessions_keeps_the_listener(sshd: Sshd, host: SshHost) -> None:
    listener = sshd.pid
    assert sshd.drop_sessions() == 1
    assert sshd.pid == listener and sshd.session_pids() == []
    assert host.run("echo ok").ok and host.stats.reconnects == 1


def test_sshd_restart_keeps_port_and_host_key(sshd: Sshd, host: SshHost) -> None:
    port, key, listener = sshd.port, sshd.host_public_key, sshd.pid
    sshd.restart()
    assert (sshd.port, sshd.host_public_key) == (port, key) and sshd.pid != listener
    assert host.run("echo ok").ok, "the pinned host key must still match after a restart"
