"""Self-tests of the SSH target, its port forward and the loopback sshd launcher.

Everything runs against a real OpenSSH sshd on 127.0.0.1 started by `twin.sshd.Sshd`, logging in
as root with a throw-away key. The sessions get HOME set to a temp dir so that root's own
.bashrc (slow on developer machines) is not sourced by every command.
"""

from __future__ import annotations

import base64
import logging
import os
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest

from fixtures import sshlink
from fixtures.host import CommandFailed, HostError, HostUnreachable
from fixtures.hostkeys import HostKeyMismatch, HostKeyUnknown, fingerprint
from fixtures.ssh import SshHost
from twin.sshd import Sshd, SshdConfig, generate_ed25519

FAKE_REBOOT = """#!/bin/sh
# Answers like a node whose reboot the test performs: boot id from a file, reboot = a request.
case "$SSH_ORIGINAL_COMMAND" in
  "cat /proc/sys/kernel/random/boot_id") exec cat "$STATE/boot_id" ;;
  *reboot*) [ -e "$STATE/ignore-reboot" ] || touch "$STATE/reboot-requested"; exit 0 ;;
  *) exec /bin/sh -c "$SSH_ORIGINAL_COMMAND" ;;
esac
"""


@pytest.fixture
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="ssh-selftest-") as d:
        yield Path(d)


@pytest.fixture
def client_key(workdir: Path) -> tuple[Path, str]:
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


@pytest.fixture
def sshd(workdir: Path, client_key: tuple[Path, str]) -> Iterator[Sshd]:
    server = make_sshd(workdir, client_key[1])
    with server:
        yield server


def make_host(sshd: Sshd, key: Path, **kwargs: Any) -> SshHost:
    kwargs.setdefault("known_host_key", sshd.host_public_key)
    return SshHost("127.0.0.1", sshd.port, "root", str(key), connect_timeout=3, **kwargs)


@pytest.fixture
def host(sshd: Sshd, client_key: tuple[Path, str]) -> Iterator[SshHost]:
    h = make_host(sshd, client_key[0])
    h.connect(5)
    yield h
    h.close()


def wait_for(condition: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def reserved_port() -> socket.socket:
    """A bound, not listening socket: connections to its port are refused until listen()."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s


@pytest.fixture
def echo_server() -> Iterator[int]:
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            with conn:
                while data := conn.recv(4096):
                    conn.sendall(data)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join()
    srv.close()


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


# -- commands ------------------------------------------------------------------------------


def test_run_reports_exit_code_stdout_and_stderr(host: SshHost) -> None:
    r = host.run("echo out; echo err >&2; exit 3")
    assert (r.exited, r.stdout, r.stderr, r.ok) == (3, "out\n", "err\n", False)
    assert host.run("true").ok


def test_run_feeds_stdin_fast(host: SshHost) -> None:
    assert host.run("cat", stdin="hello\n").stdout == "hello\n"
    start = time.monotonic()
    assert host.run("wc -c", stdin="x" * 300_000).stdout.strip() == "300000"
    assert time.monotonic() - start < 3


def test_sudo_as_root_runs_the_command_directly(host: SshHost) -> None:
    # sudo is not even installed here: root must not be wrapped.
    assert host.run("id -u && echo $((1+1))", sudo=True).stdout == "0\n2\n"


def test_check_raises_command_failed_with_the_output(host: SshHost) -> None:
    with pytest.raises(CommandFailed, match="boom"):
        host.run("echo boom >&2; exit 1", check=True)


def test_timeout_gives_124_and_keeps_the_connection(host: SshHost) -> None:
    r = host.run("echo started; sleep 10", timeout=0.5)
    assert r.exited == 124 and "timed out" in r.stderr and r.duration < 3
    assert host.run("echo alive").stdout == "alive\n"
    assert host.stats.reconnects == 0


def test_threads_share_one_host(host: SshHost) -> None:
    results: list[str] = []

    def worker(n: int) -> None:
        results.extend(host.run(f"echo {n}-{i}", check=True).stdout for i in range(5))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 30 and len(set(results)) == 30
    assert host.stats.commands == 30 and host.stats.by_command == {"echo": 30}
    assert host.stats.connects == 1


def test_put_get_roundtrip_keeps_bytes_and_mode(host: SshHost, workdir: Path) -> None:
    data = bytes(range(256)) * 100
    target = workdir / "blob.bin"
    host.put(data, str(target), mode=0o640)
    assert target.read_bytes() == data and target.stat().st_mode & 0o777 == 0o640
    assert host.get(str(target)) == data
    with pytest.raises(FileNotFoundError):
        host.get(str(workdir / "missing"))
    assert host.stats.reconnects == 0


# -- host keys and reachability ------------------------------------------------------------


def test_wrong_pinned_key_is_refused_naming_both_fingerprints(
    sshd: Sshd, client_key: tuple[Path, str], workdir: Path
) -> None:
    other = generate_ed25519(workdir / "other", "other")
    h = make_host(sshd, client_key[0], known_host_key=other)
    with pytest.raises(HostKeyMismatch) as e:
        h.connect(5)
    seen = fingerprint(_pkey(sshd.host_public_key))
    assert seen in str(e.value) and fingerprint(_pkey(other)) in str(e.value)
    assert "ssh-keygen -R" in str(e.value)


def test_unknown_key_in_empty_known_hosts_is_refused(
    sshd: Sshd, client_key: tuple[Path, str], workdir: Path
) -> None:
    known_hosts = workdir / "known_hosts"
    known_hosts.write_text("")
    h = make_host(sshd, client_key[0], known_host_key=None, known_hosts_file=str(known_hosts))
    start = time.monotonic()
    with pytest.raises(HostKeyUnknown) as e:
        h.connect(10)
    assert time.monotonic() - start < 2, "a host-key refusal must not be retried"
    assert str(known_hosts) in str(e.value)
    assert fingerprint(_pkey(sshd.host_public_key)) in str(e.value)


def test_key_from_known_hosts_file_is_accepted(
    sshd: Sshd, client_key: tuple[Path, str], workdir: Path
) -> None:
    known_hosts = workdir / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{sshd.port} {sshd.host_public_key}\n")
    h = make_host(sshd, client_key[0], known_host_key=None, known_hosts_file=str(known_hosts))
    assert h.run("echo ok").stdout == "ok\n"
    h.close()


def test_insecure_mode_warns_with_the_fingerprint(
    sshd: Sshd, client_key: tuple[Path, str], caplog: pytest.LogCaptureFixture
) -> None:
    h = make_host(sshd, client_key[0], known_host_key=None, insecure_accept_any_host_key=True)
    with caplog.at_level(logging.WARNING):
        h.connect(5)
    h.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(fingerprint(_pkey(sshd.host_public_key)) in w for w in warnings), warnings


def test_bad_pinned_key_is_refused_before_connecting(client_key: tuple[Path, str]) -> None:
    with pytest.raises(HostError, match="cannot parse the pinned host key"):
        SshHost("127.0.0.1", 1, "root", str(client_key[0]), known_host_key="ssh-ed25519 nope")


def test_refused_port_is_unreachable_within_the_deadline(client_key: tuple[Path, str]) -> None:
    with reserved_port() as s:
        port = s.getsockname()[1]
        h = SshHost("127.0.0.1", port, "root", str(client_key[0]), known_host_key=client_key[1])
        start = time.monotonic()
        with pytest.raises(HostUnreachable) as e:
            h.connect(1.5)
    assert time.monotonic() - start < 3
    assert f"127.0.0.1:{port}" in str(e.value) and "attempts" in str(e.value)


def test_frozen_sshd_is_unreachable_within_the_deadline(
    sshd: Sshd, client_key: tuple[Path, str]
) -> None:
    sshd.pause()
    h = make_host(sshd, client_key[0])
    start = time.monotonic()
    with pytest.raises(HostUnreachable, match="did not answer"):
        h.connect(2)
    assert time.monotonic() - start < 4
    sshd.resume()


# -- disruptions ---------------------------------------------------------------------------


def test_dropped_connection_mid_command_is_retried_once(
    host: SshHost, sshd: Sshd, workdir: Path
) -> None:
    marker = workdir / "started"
    dropped: list[int] = []

    def drop_when_started() -> None:
        wait_for(marker.exists)
        dropped.append(sshd.drop_sessions())

    dropper = threading.Thread(target=drop_when_started)
    dropper.start()
    r = host.run(f"touch {marker}; sleep 0.5; echo done")
    dropper.join()
    assert dropped == [1]
    assert (r.exited, r.stdout) == (0, "done\n")
    assert host.stats.reconnects == 1 and host.stats.connects == 2


def test_frozen_session_times_out_the_channel_and_reconnects(
    host: SshHost, sshd: Sshd, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sshlink, "CHANNEL_TIMEOUT", 1.0)
    host.close()  # the next connection picks up the short channel timeout
    assert host.run("true").ok
    frozen = sshd.session_pids()
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    start = time.monotonic()
    assert host.run("echo thawed").stdout == "thawed\n"
    assert time.monotonic() - start < 5
    assert host.stats.reconnects == 1


def test_sshd_restart_between_commands_reconnects(host: SshHost, sshd: Sshd) -> None:
    assert host.boot_id()
    sshd.restart()
    assert host.run("echo back").stdout == "back\n"
    assert host.stats.reconnects == 1


def test_forward_survives_drops_and_refusals(host: SshHost, sshd: Sshd, echo_server: int) -> None:
    with host.forward(echo_server) as port:
        assert echo_through(port, b"one") == b"one"
        sshd.drop_sessions()
        assert echo_through(port, b"two") == b"two"
        assert host.stats.reconnects == 1
    with reserved_port() as s, host.forward(s.getsockname()[1]) as port:
        assert closed_at_once(port), "a refused remote port must close that client"
        s.listen()
        server = threading.Thread(target=lambda: _echo_once(s))
        server.start()
        assert echo_through(port, b"three") == b"three"
        server.join()
    assert host.run("echo still").ok


def test_forward_stops_its_threads(host: SshHost, echo_server: int) -> None:
    before = threading.active_count()
    with (
        host.forward(echo_server) as port,
        socket.create_connection(("127.0.0.1", port), timeout=5) as idle,
    ):
        idle.sendall(b"x")
        assert idle.recv(1) == b"x"
    wait_for(lambda: threading.active_count() <= before, timeout=2)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_reboot_waits_for_a_new_boot_id(workdir: Path, client_key: tuple[Path, str]) -> None:
    server, state = _fake_node(workdir, client_key[1])
    with server:
        h = make_host(server, client_key[0])

        def reboot_node() -> None:
            wait_for((state / "reboot-requested").exists, timeout=10)
            server.stop()
            (state / "boot_id").write_text("boot-2\n")
            server.start()

        rebooter = threading.Thread(target=reboot_node)
        rebooter.start()
        assert h.reboot(timeout=15) == "boot-2"
        rebooter.join()
        assert h.boot_id() == "boot-2"
        h.close()


def test_reboot_that_never_happens_is_an_error(workdir: Path, client_key: tuple[Path, str]) -> None:
    server, state = _fake_node(workdir, client_key[1])
    (state / "ignore-reboot").touch()
    with server:
        h = make_host(server, client_key[0])
        with pytest.raises(HostError, match="did not reboot: boot id still boot-1"):
            h.reboot(timeout=1.5)
        h.close()


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


def _fake_node(workdir: Path, public_key: str) -> tuple[Sshd, Path]:
    state = workdir / "state"
    state.mkdir()
    (state / "boot_id").write_text("boot-1\n")
    script = workdir / "fake-node.sh"
    script.write_text(FAKE_REBOOT)
    script.chmod(0o755)
    server = make_sshd(workdir, public_key, force_command=str(script), STATE=str(state))
    return server, state


def _echo_once(listener: socket.socket) -> None:
    conn, _ = listener.accept()
    with conn:
        while data := conn.recv(4096):
            conn.sendall(data)


def _pkey(line: str) -> paramiko.PKey:
    return paramiko.Ed25519Key(data=base64.b64decode(line.split()[1]))
