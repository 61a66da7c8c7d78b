"""The nightly's preflight job, run under bash as the runner runs it.

Missing or malformed secrets fail with one annotation each and no output; the credentials the
secrets pick; the matrix (the nightly grid, or the cell a manual run names); a dispatch input
of only whitespace is refused with its own annotation instead of an empty matrix.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from selftests.workflow_support import NIGHTLY, load, run_script


def run_step(step_id: str, env: dict[str, str], tmp_path: Path) -> tuple[int, str, str]:
    """Run a preflight step's script as the runner would: (exit code, log, outputs)."""
    workflow = load(NIGHTLY)
    (step,) = [s for s in workflow["jobs"]["preflight"]["steps"] if s.get("id") == step_id]
    return run_script(step["run"], env, tmp_path, workflow)


NO_SECRETS = dict.fromkeys(
    (
        "GCP_PROJECT",
        "GCP_WORKLOAD_IDENTITY_PROVIDER",
        "GCP_SERVICE_ACCOUNT",
        "GCP_CREDENTIALS_JSON",
    ),
    "",
)
PROVIDER = "projects/123456789/locations/global/workloadIdentityPools/github/providers/akri"
ACCOUNT = "akri-nightly@my-project.iam.gserviceaccount.com"


@pytest.mark.parametrize(
    ("secrets", "expected"),
    [
        ({}, ["GCP_PROJECT is not set", "no Google Cloud credentials"]),
        (
            {"GCP_PROJECT": "123456789012", "GCP_SERVICE_ACCOUNT": ACCOUNT},
            ["not the project number", "GCP_WORKLOAD_IDENTITY_PROVIDER must be the full"],
        ),
        (
            {
                "GCP_PROJECT": "my-project",
                "GCP_WORKLOAD_IDENTITY_PROVIDER": "github",
                "GCP_SERVICE_ACCOUNT": "akri-nightly",
            },
            ["must be the full provider name", "must be a service account email"],
        ),
    ],
)
def test_preflight_fails_loudly_on_missing_or_bad_secrets(
    tmp_path: Path, secrets: dict[str, str], expected: list[str]
) -> None:
    code, log, outputs = run_step("secrets", {**NO_SECRETS, **secrets}, tmp_path)
    assert code == 1 and outputs == "", log
    errors = [line for line in log.splitlines() if line.startswith("::error ")]
    assert len(errors) == len(expected), log
    for text in expected:
        assert any(text in line and "README" in line for line in errors), (text, log)


@pytest.mark.parametrize(
    ("secrets", "auth"),
    [
        (
            {
                "GCP_PROJECT": "my-project",
                "GCP_WORKLOAD_IDENTITY_PROVIDER": PROVIDER,
                "GCP_SERVICE_ACCOUNT": ACCOUNT,
                "GCP_CREDENTIALS_JSON": "{}",
            },
            "wif",
        ),
        ({"GCP_PROJECT": "my-project", "GCP_CREDENTIALS_JSON": "{}"}, "json"),
    ],
)
def test_preflight_picks_the_credentials(
    tmp_path: Path, secrets: dict[str, str], auth: str
) -> None:
    code, log, outputs = run_step("secrets", {**NO_SECRETS, **secrets}, tmp_path)
    assert code == 0, log
    assert outputs == f"auth={auth}\n"
    assert ("::warning" in log) == (auth == "json")


def test_matrix_is_the_nightly_grid_or_the_cell_a_manual_run_asks_for(tmp_path: Path) -> None:
    assert shutil.which("jq"), "jq (on GitHub's runners and in the project's images) is missing"
    code, log, outputs = run_step("matrix", {"INPUT_CHANNEL": "", "INPUT_FAMILY": ""}, tmp_path)
    assert code == 0, log
    cells = yaml.safe_load(outputs.removeprefix("matrix="))["include"]
    assert len(cells) == 9  # 3 channels x 3 families (22.04, 24.04, 26.04)
    assert {"channel": "1.36/stable", "family": "ubuntu-2604-lts-amd64"}.items() <= next(
        c for c in cells if c["family"] == "ubuntu-2604-lts-amd64" and "1.36" in c["channel"]
    ).items()
    assert {
        "channel": "1.34/stable",
        "family": "ubuntu-2404-lts-amd64",
        "cell": "1.34-stable_ubuntu-2404-lts-amd64",
    } in cells
    code, log, outputs = run_step(
        "matrix", {"INPUT_CHANNEL": "1.35/edge", "INPUT_FAMILY": "ubuntu-2204-lts"}, tmp_path
    )
    assert code == 0, log
    assert yaml.safe_load(outputs.removeprefix("matrix="))["include"] == [
        {"channel": "1.35/edge", "family": "ubuntu-2204-lts", "cell": "1.35-edge_ubuntu-2204-lts"}
    ]


@pytest.mark.parametrize(
    ("inputs", "named"),
    [
        ({"INPUT_CHANNEL": " ", "INPUT_FAMILY": ""}, ["microk8s-channel"]),
        ({"INPUT_CHANNEL": "", "INPUT_FAMILY": "\t\n"}, ["image-family"]),
        ({"INPUT_CHANNEL": "  ", "INPUT_FAMILY": " "}, ["microk8s-channel", "image-family"]),
    ],
    ids=["channel", "family", "both"],
)
def test_matrix_refuses_a_whitespace_only_dispatch_input(
    tmp_path: Path, inputs: dict[str, str], named: list[str]
) -> None:
    code, log, outputs = run_step("matrix", inputs, tmp_path)
    assert code == 1 and outputs == "", log
    errors = [line for line in log.splitlines() if line.startswith("::error ")]
    assert len(errors) == len(named), log
    for name, line in zip(named, errors, strict=True):
        assert line.startswith("::error title=Bad dispatch input::" + name), line
        assert "whitespace" in line and "leave it empty" in line, line


def test_matrix_takes_values_apart_on_any_whitespace(tmp_path: Path) -> None:
    code, log, outputs = run_step(
        "matrix", {"INPUT_CHANNEL": " 1.34/stable\t1.36/stable ", "INPUT_FAMILY": ""}, tmp_path
    )
    assert code == 0, log
    cells = yaml.safe_load(outputs.removeprefix("matrix="))["include"]
    assert sorted({c["channel"] for c in cells}) == ["1.34/stable", "1.36/stable"]
    assert len(cells) == 6


def test_matrix_never_hands_github_an_empty_matrix(tmp_path: Path) -> None:
    code, log, outputs = run_step(
        "matrix", {"INPUT_CHANNEL": "", "INPUT_FAMILY": "", "MICROK8S_CHANNELS": ""}, tmp_path
    )
    assert code == 1 and outputs == "", log
    assert "::error title=Empty matrix::" in log
