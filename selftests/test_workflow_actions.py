"""Which code the workflows run, with which permissions, and what lands in the job summary.

Every action is pinned by a full commit SHA with its version in a comment (a tag can be moved
to other code). A job that can reach Google Cloud (the auth action, an OIDC token, a GCP_
secret) runs GitHub's own actions and the auth action only: a third-party action there could
read the credentials file the auth action writes into the workspace, or mint tokens. The JUnit
check is published from a job of its own that holds no cloud permission, downloads the cells'
artifacts and names its check apart from every job. The suite's report reaches the job summary
once: the suite appends it; the workflow adds a line only when the suite wrote none, and the
publisher adds nothing.
"""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from selftests.workflow_support import NIGHTLY, NIGHTLY_RUNNER, RUNNER_BASH, SELFTESTS, load, steps

PINNED = re.compile(r"(?P<action>[\w.-]+/[\w.-]+(?:/[\w./-]+)?)@(?P<sha>[0-9a-f]{40})")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)\s*(?P<comment>#.*)?$")
VERSION_COMMENT = re.compile(r"#\s*v\d+(?:\.\d+){0,2}\s*$")
FIRST_PARTY = "actions/"  # GitHub's own actions
AUTH_ACTION = "google-github-actions/auth"
PUBLISHER = "EnricoMi/publish-unit-test-result-action"
MATRIX_REF = re.compile(r"\$\{\{\s*matrix\.(?P<key>\w+)\s*\}\}")


def uses_lines(path: Path) -> list[tuple[str, str]]:
    """(ref, comment) of every `uses:` line, comments included (YAML parsing drops them)."""
    found = [USES_LINE.match(line) for line in path.read_text().splitlines()]
    return [(m["ref"], m["comment"] or "") for m in found if m]


def talks_to_google(job: dict[str, Any]) -> bool:
    """A job that can reach Google Cloud: the auth action, an OIDC token, or a GCP_ secret."""
    text = str(job)
    return (
        AUTH_ACTION in text
        or (job.get("permissions") or {}).get("id-token") == "write"
        or "secrets.GCP_" in text
    )


@pytest.mark.parametrize("path", [NIGHTLY, NIGHTLY_RUNNER, SELFTESTS], ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_sha_with_its_version(path: Path) -> None:
    lines = uses_lines(path)
    parsed = [s["uses"] for _, s in steps(load(path)) if "uses" in s]
    assert sorted(ref for ref, _ in lines) == sorted(parsed), "a `uses:` this check cannot see"
    shas: dict[str, set[str]] = {}
    for ref, comment in lines:
        pinned = PINNED.fullmatch(ref)
        assert pinned, f"{path.name}: {ref} is not pinned by a full commit SHA"
        assert VERSION_COMMENT.search(comment), f"{path.name}: {ref} has no `# vX.Y.Z` comment"
        shas.setdefault(pinned["action"], set()).add(pinned["sha"] + comment)
    several = {action: pins for action, pins in shas.items() if len(pins) > 1}
    assert not several, f"one action, several pins: {several}"


def test_no_third_party_action_runs_where_google_credentials_are() -> None:
    jobs = load(NIGHTLY)["jobs"]
    cloud = {job_id for job_id, job in jobs.items() if talks_to_google(job)}
    assert {"conformance", "reap"} <= cloud and "publish" not in cloud
    for job_id in sorted(cloud):
        for step in jobs[job_id]["steps"]:
            action = step.get("uses", "").split("@")[0]
            allowed = action.startswith(FIRST_PARTY) or action == AUTH_ACTION
            assert not action or allowed, f"{job_id} holds Google credentials and runs {action}"


def test_the_check_is_published_from_a_job_without_cloud_permissions() -> None:
    workflow = load(NIGHTLY)
    jobs = workflow["jobs"]
    publishing = [
        job_id
        for job_id, job in jobs.items()
        if any(s.get("uses", "").startswith(PUBLISHER + "@") for s in job["steps"])
    ]
    assert publishing == ["publish"]
    job = jobs["publish"]
    assert job["permissions"] == {"checks": "write", "contents": "read"}
    assert "secrets." not in str(job) and "conformance" in job["needs"]
    download, publish = job["steps"]
    assert download["uses"].startswith("actions/download-artifact@")
    # the pattern picks up every cell's artifact of this attempt
    (upload,) = [s for _, s in steps(workflow) if s.get("uses", "").startswith("actions/upload-")]
    cell_artifact = upload["with"]["name"].replace("${{ matrix.cell }}", "1.34-stable_x")
    for artifact in (cell_artifact, cell_artifact.replace("1.34", "1.36")):
        assert fnmatch.fnmatchcase(artifact, download["with"]["pattern"]), artifact
    assert publish["with"]["files"].startswith(download["with"]["path"] + "/")


def _value(cell: dict[str, str], ref: re.Match) -> str:
    return cell[ref["key"]]


def rendered_job_names(workflow: dict[str, Any]) -> set[str]:
    """Every check-run name the jobs get: matrix job names filled in for each cell."""
    env = workflow["env"]
    cells = [
        {"channel": c, "family": f}
        for c in env["MICROK8S_CHANNELS"].split()
        for f in env["IMAGE_FAMILIES"].split()
    ]
    names = set()
    for job_id, job in workflow["jobs"].items():
        template = job.get("name", job_id)
        for cell in cells if "matrix." in template else [{}]:
            names.add(MATRIX_REF.sub(partial(_value, cell), template))
    return names


def test_the_published_check_is_named_apart_from_every_job() -> None:
    workflow = load(NIGHTLY)
    check = workflow["jobs"]["publish"]["steps"][-1]["with"]["check_name"]
    names = rendered_job_names(workflow)
    assert "conformance 1.34/stable ubuntu-2404-lts-amd64" in names
    assert check and "${{" not in check and check not in names, (check, names)
    assert not any(name.startswith(check) or check.startswith(name) for name in names)


def summary_writers(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(j, s) for j, s in steps(workflow) if "GITHUB_STEP_SUMMARY" in s.get("run", "")]


@pytest.mark.parametrize("suite_wrote_one", [True, False], ids=["report", "no-report"])
def test_the_job_summary_gets_the_report_once(tmp_path: Path, suite_wrote_one: bool) -> None:
    workflow = load(NIGHTLY)
    ((job_id, step),) = summary_writers(workflow)
    assert job_id == "conformance" and step["if"] == "always()"
    publishers = workflow["jobs"]["publish"]["steps"]
    (publish,) = [s for s in publishers if s["uses"].startswith(PUBLISHER)]
    assert publish["with"]["job_summary"] == "false"
    # The suite appended its report (without the contact sheet's relative link) if it wrote one.
    (tmp_path / "reports").mkdir()
    summary = tmp_path / "step-summary.md"
    suite_report = "# Akri on MicroK8s conformance: PASSED\n"
    summary.write_text(suite_report if suite_wrote_one else "")
    if suite_wrote_one:
        (tmp_path / "reports" / "summary.md").write_text(suite_report)
    step_file = tmp_path / "step.sh"
    step_file.write_text(step["run"])
    env = {"PATH": os.environ["PATH"], "GITHUB_STEP_SUMMARY": str(summary), "CELL": "1.34 on x"}
    proc = subprocess.run(
        [*RUNNER_BASH, str(step_file)], cwd=tmp_path, env=env, capture_output=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    text = summary.read_text()
    if suite_wrote_one:
        assert text == suite_report
    else:
        assert text.count("\n") == 1 and "no report" in text and "1.34 on x" in text
