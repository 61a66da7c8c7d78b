"""Self-tests of the SSH target against a real loopback sshd: commands, keys, disruptions."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from fixtures.transport import sshlink
from fixtures.transport.host import CommandFailed, HostError, HostUnreachable
from fixtures.transport.hostkeys import HostKeyMismatch, HostKeyUnknown, fingerprint
from fixtures.transport.ssh import SshHost
from fixtures.transport.sshlink import SshLink
from selftests.sshd_support import (  # noqa: F401  (fixtures are found by name)
    client_key_fixture,
    echo_server,
    fake_node,
    host_fixture,
    make_host,
    pkey,
    sshd_fixture,
    wait_for,
    workdir_fixture,
)
from twin.sshd import Sshd, generate_ed25519

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
    seen = fingerprint(pkey(sshd.host_public_key))
    assert seen in str(e.value) and fingerprint(pkey(other)) in str(e.value)
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
    assert fingerprint(pkey(sshd.host_public_key)) in str(e.value)


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
    h = make_host(sshd, client_key[0], known_host_key=None, insecure=True)
    with caplog.at_level(logging.WARNING):
        h.connect(5)
    h.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(fingerprint(pkey(sshd.host_public_key)) in w for w in warnings), warnings


def test_bad_pinned_key_is_refused_before_connecting(client_key: tuple[Path, str]) -> None:
    with pytest.raises(HostError, match="cannot parse the pinned host key"):
        SshHost(
            SshLink("127.0.0.1", 1, "root", str(client_key[0]), known_host_key="ssh-ed25519 nope")
        )


def test_refused_port_is_unreachable_within_the_deadline(client_key: tuple[Path, str]) -> None:
    with echo_server() as (port, _):
        h = SshHost(
            SshLink("127.0.0.1", port, "root", str(client_key[0]), known_host_key=client_key[1])
        )
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


def test_reboot_waits_for_a_new_boot_id(workdir: Path, client_key: tuple[Path, str]) -> None:
    server, state = fake_node(workdir, client_key[1])
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
    server, state = fake_node(workdir, client_key[1])
    (state / "ignore-reboot").touch()
    with server:
        h = make_host(server, client_key[0])
        with pytest.raises(HostError, match="did not reboot: boot id still boot-1"):
            h.reboot(timeout=1.5)
        h.close()
