"""--keep on the twin: the access commands work as printed, and the twin stops when asked.

The suite runs against the twin with `--keep always --keep-for 60` in a subprocess (no
terminal). Once its access section appears the self-test follows the printed commands: the
printed forward with the real `ssh` binary (BatchMode, the printed known_hosts pinning the
twin's host key), a plain `http.client` GET of the app's index page and one JPEG part of a feed
through it, and the printed ssh command running `true`. Then SIGINT, as Ctrl-C: the keep ends,
the verdict stays the tests' (exit status 0), the twin is gone (no process, no state dir) and
so is the forward. `reports/access.json` holds the same commands and no key material. Without a
terminal and a short `--keep-for`, a run ends by itself after that time.
"""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import yaml

from fixtures.node.waits import wait_until
from fixtures.record.redact import changed
from selftests.suite_run import REPO, SUITE
from selftests.test_twin_faults import processes_of

STAYS = re.compile(r"the twin stays up for (\d+) s")


def _start(reports: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*SUITE, f"--reports-dir={reports}", "--keep=always", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def _until_kept(run: subprocess.Popen) -> list[str]:
    """The run's lines up to the one that says how long the twin stays up."""
    seen = []
    assert run.stdout is not None
    for line in run.stdout:
        seen.append(line)
        if STAYS.search(line):
            return seen
    raise AssertionError("the run ended without keeping the twin:\n" + "".join(seen[-60:]))


def _batch(argv: list[str]) -> list[str]:
    """The printed ssh command, never prompting (BatchMode: a prompt would be a failure)."""
    assert argv[0] == "ssh"
    return ["ssh", "-o", "BatchMode=yes", *argv[1:]]


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def _one_jpeg(port: int, path: str) -> bytes:
    """One JPEG part of a multipart feed, read with a plain HTTP client."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    conn.request("GET", path)
    answer = conn.getresponse()
    assert answer.status == 200, answer.status
    assert "multipart" in answer.getheader("Content-Type", ""), answer.getheaders()
    data = b""
    while b"\xff\xd9" not in data[data.find(b"\xff\xd8") + 2 :] or b"\xff\xd8" not in data:
        chunk = answer.read1(65536)
        assert chunk, "the feed ended before a whole JPEG"
        data += chunk
    conn.close()
    start = data.index(b"\xff\xd8")
    return data[start : data.index(b"\xff\xd9", start) + 2]


def _no_key_material(reports: Path, facts: dict) -> None:
    text = (reports / "access.json").read_text()
    assert not changed(text)[1], "access.json has something the redaction calls secret"
    assert "PRIVATE KEY" not in text
    kubeconfig = yaml.safe_load(Path(facts["kubeconfig"]).read_text())
    key = kubeconfig["users"][0]["user"]
    for value in key.values():
        assert str(value)[:40] not in text
    for path in (facts["kubeconfig"], facts["known_hosts"]):
        assert os.stat(path).st_mode & 0o777 == 0o600, path
        assert reports.resolve() not in Path(path).resolve().parents


def test_keep_twin_access_commands_work_then_ctrl_c_stops_it(tmp_path):
    reports = tmp_path / "reports"
    run = _start(reports, "--keep-for=60")
    watchdog = threading.Timer(300, run.kill)  # a deadline for the whole run, not a pause
    watchdog.start()
    forward = None
    try:
        seen = _until_kept(run)
        assert any("access: open the demo" in line for line in seen), "".join(seen[-30:])
        facts = json.loads((reports / "access.json").read_text())
        assert facts["stays"] == "for 60 s" and not facts["ended"]
        printed = "".join(seen)
        for key in ("ssh_command", "forward_command", "kubectl_command"):
            assert facts[key] in printed, key
        assert facts["app_url"] in printed
        _no_key_material(reports, facts)
        state = str(Path(facts["known_hosts"]).parent.parent)
        assert processes_of(state)

        forward = subprocess.Popen(_batch(facts["forward"]), stdin=subprocess.DEVNULL)
        port = int(facts["app_url"].rsplit(":", 1)[1].strip("/"))
        wait_until(lambda: _accepts(port), bool, timeout=20, what="the printed forward")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        conn.request("GET", "/")
        index = conn.getresponse()
        page = index.read().decode()
        assert index.status == 200, page[:200]
        feeds = sorted(set(re.findall(r"/camera_frame_feed/\d+", page)))
        assert feeds, page[:500]
        frame = _one_jpeg(port, feeds[0])
        assert frame.startswith(b"\xff\xd8") and len(frame) > 1000

        inside = subprocess.run(
            [*_batch(facts["ssh"]), "true"], capture_output=True, text=True, timeout=30
        )
        assert inside.returncode == 0, inside.stderr

        run.send_signal(signal.SIGINT)  # as Ctrl-C
        rest, _ = run.communicate(timeout=120)
    finally:
        watchdog.cancel()
        if run.poll() is None:
            run.kill()
        if forward is not None and forward.poll() is None and run.returncode != 0:
            forward.kill()
    output = printed + rest
    assert run.returncode == 0, output[-3000:]
    assert "the keep ended by SIGINT" in output and "the verdict is the tests', unchanged" in rest
    assert "PASSED (all 9 layers)" in rest and "interrupted" not in rest.lower()
    assert json.loads((reports / "access.json").read_text())["ended"].startswith(
        "the keep ended by SIGINT"
    )
    assert not Path(state).exists(), "the twin's state dir is left behind"
    assert processes_of(state) == {}
    forward.wait(timeout=30)  # the twin's sshd is gone, so is the forward
    assert not _accepts(port)


def test_keep_without_terminal_ends_by_itself(tmp_path):
    reports = tmp_path / "reports"
    began = time.monotonic()
    run = _start(reports, "--keep-for=3", "-m", "target")
    try:
        output, _ = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    took = time.monotonic() - began
    assert run.returncode == 0, output[-3000:]
    assert "the twin stays up for 3 s (no terminal)" in output
    assert "the keep ended by itself after 3." in output
    assert took >= 3
    facts = json.loads((reports / "access.json").read_text())
    assert facts["ssh"] and facts["notes"], facts
