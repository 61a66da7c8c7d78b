"""Self-tests of the local target: commands, timeouts, files and forwards on this machine."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.transport.host import CommandFailed, HostError
from fixtures.transport.local import LocalHost


@pytest.fixture
def host() -> Iterator[LocalHost]:
    h = LocalHost()
    h.connect(1)
    yield h
    h.close()


@pytest.fixture
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="local-selftest-") as d:
        yield Path(d)


def test_run_reports_exit_code_stdout_and_stderr(host: LocalHost) -> None:
    r = host.run("echo out; echo err >&2; exit 3")
    assert (r.exited, r.stdout, r.stderr, r.ok) == (3, "out\n", "err\n", False)
    assert host.stats.commands == 1 and host.stats.by_command == {"echo": 1}


def test_run_uses_bash_and_feeds_stdin(host: LocalHost) -> None:
    assert host.run("[[ -n $BASH_VERSION ]] && echo bash").stdout == "bash\n"
    assert host.run("tr a-z A-Z", stdin="hello\n").stdout == "HELLO\n"
    assert host.run("cat").stdout == "", "no stdin means an empty one, never the terminal"


def test_sudo_runs_as_root(host: LocalHost) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: passwordless sudo is not guaranteed here")
    assert host.run("id -u", sudo=True).stdout == "0\n"


def test_check_raises_command_failed(host: LocalHost) -> None:
    with pytest.raises(CommandFailed, match="exited 2 on localhost"):
        host.run("exit 2", check=True)


def test_timeout_gives_124_and_kills_the_whole_group(host: LocalHost, workdir: Path) -> None:
    pid_file = workdir / "child.pid"
    start = time.monotonic()
    r = host.run(f"sleep 30 & echo $! > {pid_file}; wait", timeout=0.5)
    assert r.exited == 124 and "timed out" in r.stderr and time.monotonic() - start < 3
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 2
    while _alive(child):
        assert time.monotonic() < deadline, f"background child {child} survived the timeout"
        time.sleep(0.01)


def test_signal_death_is_reported_like_a_shell(host: LocalHost) -> None:
    assert host.run("kill -TERM $$").exited == 128 + 15


def test_put_get_roundtrip(host: LocalHost, workdir: Path) -> None:
    target = workdir / "blob.bin"
    data = bytes(range(256))
    host.put(data, str(target), mode=0o600)
    assert target.stat().st_mode & 0o777 == 0o600
    assert host.get(str(target)) == data


def test_forward_to_loopback_is_the_port_itself(host: LocalHost) -> None:
    with host.forward(8080) as port:
        assert port == 8080
    with host.forward(9000, "localhost") as port:
        assert port == 9000


def test_forward_to_another_address_is_refused(host: LocalHost) -> None:
    with pytest.raises(HostError, match="loopback"), host.forward(80, "10.0.0.1"):
        pass


def test_reboot_is_refused(host: LocalHost) -> None:
    with pytest.raises(HostError, match="refusing to reboot"):
        host.reboot(60)


def test_boot_id_is_the_kernels(host: LocalHost) -> None:
    expected = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert host.boot_id() == expected


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
