"""gce settings are checked up front (exit code 4, before anything is created), credentials too.

Runs the suite's plugin in a pytester directory (as test_settings does). Credentials are looked
up for real (Application Default Credentials) in an empty configuration, with NO_GCE_CHECK so
that google-auth never probes the metadata server: the run must stop with what to set.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from selftests.gce_support import REPO

REPO_CONFTEST = 'pytest_plugins = ["fixtures.plugin.hooks", "fixtures.plugin.gating"]\n'
GCE = ["--target", "gce", "--gce-project", "p-test"]
FAKE = "--gce-api-endpoint=http://127.0.0.1:9"


@pytest.fixture
def suite(pytester, monkeypatch, tmp_path):
    pytester.makeconftest(REPO_CONFTEST)
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    for key in ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("NO_GCE_CHECK", "true")
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    return pytester


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--gce-zone", "us-east1-b"], {}, "--gce-zone: only with --target gce"),
        (["--reuse-instance", "vm-1"], {}, "--reuse-instance: only with --target gce"),
        ([], {"AKRI_E2E_GCE_PROJECT": "p-test"}, "--gce-project: only with --target gce"),
        (["--target", "gce", FAKE], {}, "needs a project: --gce-project PROJECT_ID"),
        (
            ["--target", "gce", FAKE],
            {"GOOGLE_CLOUD_PROJECT": "X!"},
            "GOOGLE_CLOUD_PROJECT: invalid",
        ),
        ([*GCE, "--gce-zone", "mars"], {}, "--gce-zone (AKRI_E2E_GCE_ZONE): invalid value"),
        ([*GCE, "--gce-instance-name", "Bad_Name"], {}, "--gce-instance-name"),
        ([*GCE, "--gce-disk-gb", "5"], {}, "--gce-disk-gb"),
        ([*GCE, "--keep", "sometimes"], {}, "accepted: never, on-failure, always"),
        ([*GCE, "--gce-max-age", "60"], {}, "--gce-max-age"),
        ([*GCE, "--gce-api-endpoint", "http://10.0.0.1:80"], {}, "http://127.0.0.1:PORT"),
        ([*GCE, FAKE, "--reuse-instance", "vm-1"], {}, "add --keep always (or on-failure)"),
        ([*GCE, FAKE, "--host", "u@h"], {}, "--host is for --target ssh"),
        ([*GCE, FAKE, "--ssh-key", __file__], {}, "--ssh-key applies to --reuse-instance"),
        ([*GCE, FAKE, "--ssh-insecure-accept-any-host-key"], {}, "does not apply to --target gce"),
    ],
)
def test_bad_gce_setting_is_a_usage_error(suite, monkeypatch, args, env, expected):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = suite.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()[-2000:]
    assert expected in result.stderr.str()


def test_missing_credentials_say_what_to_set_before_anything_else(suite):
    began = time.monotonic()
    result = suite.runpytest_subprocess(*GCE)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "no Google Cloud credentials (Application Default Credentials) found" in err
    assert "GOOGLE_APPLICATION_CREDENTIALS=" in err and "roles/compute.instanceAdmin.v1" in err
    assert "test session starts" not in result.stdout.str()
    assert time.monotonic() - began < 30


def test_project_from_google_cloud_project(suite, monkeypatch):
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p-from-env")
    check = "def test_project(settings):\n    assert settings.gce_project == 'p-from-env'\n"
    suite.makepyfile(test_nothing=check)
    suite.runpytest_subprocess("--target", "gce", FAKE).assert_outcomes(passed=1)


def test_help_lists_the_gce_options(suite):
    text = suite.runpytest_subprocess("--help").stdout.str()
    for option in (
        "--gce-project",
        "--gce-zone",
        "--gce-machine-type",
        "--gce-image-project",
        "--gce-image-family",
        "--gce-disk-gb",
        "--gce-network",
        "--gce-instance-name",
        "--gce-api-endpoint",
        "--gce-max-age",
        "--keep",
        "--reuse-instance",
    ):
        assert option in text
    assert "ubuntu-2404-lts-amd64" in text and "AKRI_E2E_KEEP" in text


def test_other_targets_never_import_the_compute_client():
    code = (
        "import sys, fixtures.plugin.hooks, fixtures.targets.registry, fixtures.settings\n"
        "gce = ('google.cloud', 'fixtures.targets.gce')\n"
        "loaded = [m for m in sys.modules if m.startswith(gce)]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)
