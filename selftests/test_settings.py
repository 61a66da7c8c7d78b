"""Bad settings are usage errors (exit code 4) before anything connects; defaults are pinned;
a target that cannot start on this machine (the twin without root) is refused the same way."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
REPO_CONFTEST = 'pytest_plugins = ["fixtures.plugin.hooks", "fixtures.plugin.gating"]\n'


@pytest.fixture
def suite(pytester):
    pytester.makeconftest(REPO_CONFTEST)
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    return pytester


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--target", "moon"], {}, "--target (AKRI_E2E_TARGET): invalid value 'moon'"),
        (["--cameras", "9"], {}, "--cameras (AKRI_E2E_CAMERAS): invalid value '9'"),
        (["--cameras", "two"], {}, "invalid value 'two'"),
        ([], {"AKRI_E2E_CAMERAS": "0"}, "--cameras (AKRI_E2E_CAMERAS): invalid value '0'"),
        (["--akri-version", "latest"], {}, "never 'latest'"),
        (["--broker-image", "ghcr.io/x/broker:latest-dev"], {}, "pinned tag"),
        (["--microk8s-channel", "1.34-strict/stable"], {}, "strict tracks"),
        (["--install", "sometimes"], {}, "accepted: auto, always, never"),
        (["--twin-fault", "gremlins"], {}, "accepted: ssh-down, no-v4l2loopback"),
        (["--target", "ssh"], {}, "--target ssh needs --host"),
        (["--target", "ssh", "--host", "bad host!"], {}, "--host (AKRI_E2E_HOST)"),
        (
            ["--target", "ssh", "--host", "u@h", "--twin-fault", "ssh-down"],
            {},
            "--twin-fault applies to --target twin only",
        ),
        (["--ssh-timeout", "-3"], {}, "--ssh-timeout"),
        (["--progress-interval", "2"], {}, "accepted: a float from 5 to 300"),
        ([], {"AKRI_E2E_PROGRESS_INTERVAL": "301"}, "--progress-interval (AKRI_E2E_PROGRESS"),
        (["--ssh-key", "/nonexistent/key"], {}, "existing private key"),
    ],
)
def test_bad_setting_is_a_usage_error(suite, monkeypatch, args, env, expected):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = suite.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert expected in result.stderr.str()


def test_defaults_are_pinned_and_documented(suite):
    result = suite.runpytest_subprocess("--help")
    text = result.stdout.str()
    assert "Akri on MicroK8s conformance suite" in text
    for option in (
        "--target",
        "--host",
        "--ssh-user",
        "--ssh-key",
        "--ssh-port",
        "--ssh-timeout",
        "--ssh-host-key",
        "--install",
        "--cameras",
        "--microk8s-channel",
        "--akri-chart",
        "--akri-version",
        "--broker-image",
        "--streaming-app-image",
        "--reports-dir",
        "--progress-interval",
        "--twin-fault",
    ):
        assert option in text
    assert "AKRI_E2E_MICROK8S_CHANNEL" in text
    assert "latest" not in text.split("--akri-version")[1].split("--broker-image")[0]


def test_environment_is_used_and_cli_wins(suite, monkeypatch):
    suite.makepyfile(test_nothing="def test_cams(settings):\n    assert settings.cameras == 3\n")
    monkeypatch.setenv("AKRI_E2E_CAMERAS", "5")
    suite.runpytest_subprocess("--cameras", "3").assert_outcomes(passed=1)


NOT_ROOT_CONFTEST = (
    "import fixtures.targets.twin\n"
    # the process runs as root; the check sees nobody
    "fixtures.targets.twin.euid = lambda: 65534\n"
    'pytest_plugins = ["fixtures.plugin"]\n'
)
NODE_TEST = """
import pytest

@pytest.mark.target
def test_node(node):
    node.connect()
"""


def _root_refusal(result, reports) -> str:
    """The one-line refusal, checked: exit 4, no test ran, the JUnit file says why."""
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()[-2000:]
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert len(errors) == 1, result.stderr.str()
    assert "passed" not in result.stdout.str() and "failed" not in result.stdout.str()
    error = ET.parse(reports / "junit.xml").getroot().find(".//testcase/error")
    assert error is not None and "needs root" in error.get("message"), error
    return errors[0]


def test_twin_without_root_is_one_line_and_exit_4_before_anything_starts(pytester):
    pytester.makeconftest(NOT_ROOT_CONFTEST)
    pytester.makepyfile(test_node=NODE_TEST)
    began = time.monotonic()
    result = pytester.runpytest_subprocess("--reports-dir", "out")
    line = _root_refusal(result, pytester.path / "out")
    assert "the edge twin needs root" in line and "-m pytest" in line and "sudo -E " in line, line
    assert "--target ssh --host USER@HOST" in line and "--target local" in line, line
    assert time.monotonic() - began < 20, "refused before any twin start (that waits 30 s)"


def test_other_targets_do_not_need_root(pytester):
    pytester.makeconftest(NOT_ROOT_CONFTEST)
    pytester.makepyfile(test_node="import pytest\n\n@pytest.mark.target\ndef test_x():\n    pass\n")
    pytester.runpytest_subprocess("--target", "local").assert_outcomes(passed=1)


def _nobody_can_run_python() -> bool:
    probe = subprocess.run(
        [*SETPRIV, sys.executable, "-c", "import pytest, fixtures.plugin.hooks"],
        cwd=REPO,
        capture_output=True,
        timeout=60,
    )
    return probe.returncode == 0


SETPRIV = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.mark.skipif(os.geteuid() != 0, reason="setpriv needs root to become nobody")
def test_twin_as_an_unprivileged_user_for_real(tmp_path):
    """The real path: the suite run as nobody (where this Python is readable by nobody)."""
    if not _nobody_can_run_python():
        pytest.skip(f"{sys.executable} or the checkout is not readable by uid 65534 here")
    home = tempfile.mkdtemp(prefix="akri-nobody-")  # tmp_path's parents are root-only
    try:
        os.chmod(home, 0o777)
        reports = Path(home) / "reports"
        command = [sys.executable, "-m", "pytest", "-k", "akri", f"--reports-dir={reports}"]
        proc = subprocess.run(
            [*SETPRIV, "env", f"HOME={home}", *command],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 4, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert "ERROR: the edge twin needs root" in proc.stderr, proc.stderr
        error = ET.parse(reports / "junit.xml").getroot().find(".//testcase/error")
        assert error is not None and "needs root" in error.get("message")
    finally:
        shutil.rmtree(home, ignore_errors=True)
