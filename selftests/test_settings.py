"""Bad settings are usage errors (exit code 4) before anything connects; defaults are pinned."""

import pytest

REPO_CONFTEST = 'pytest_plugins = ["fixtures.plugin", "fixtures.gating"]\n'


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
        "--twin-fault",
    ):
        assert option in text
    assert "AKRI_E2E_MICROK8S_CHANNEL" in text
    assert "latest" not in text.split("--akri-version")[1].split("--broker-image")[0]


def test_environment_is_used_and_cli_wins(suite, monkeypatch):
    suite.makepyfile(test_nothing="def test_cams(settings):\n    assert settings.cameras == 3\n")
    monkeypatch.setenv("AKRI_E2E_CAMERAS", "5")
    suite.runpytest_subprocess("--cameras", "3").assert_outcomes(passed=1)
