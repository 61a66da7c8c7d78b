"""The GitHub Actions workflows: actionlint-clean, and calling the suite the way the suite accepts.

actionlint (with shellcheck for the `run:` scripts) checks syntax, expressions, action inputs
and retired action versions; shellcheck also reads the repository scripts the steps call. The
nightly is then held against the real programs: every `--option` a step passes to
`python3 -m <module>` (in its `run:` or the script it calls) must appear in that module's
`--help` (run from the checkout), the literal values it feeds options (matrix, dispatch
choices) must pass the suite's validation, and the suite step, run as the runner runs it with
`python3` shimmed to collect only against a loopback endpoint, must build a command line the
suite accepts. A test pins the properties the nightly promises (cleanup, evidence, bounded
parallelism). The preflight scripts: test_workflow_preflight.py; the actions, permissions and
the job summary: test_workflow_actions.py; a cancelled cell: test_workflow_cancel.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures import settings
from selftests.workflow_support import (
    CONFORMANCE_SCRIPT,
    NIGHTLY,
    NIGHTLY_RUNNER,
    REPO,
    REPO_SCRIPT,
    SELFTESTS,
    assert_suite_collects,
    help_options,
    load,
    module_calls,
    step_script,
    steps,
    suite_step,
    tool,
)

DISPATCH_INPUTS = {"microk8s-channel", "image-family", "akri-chart", "akri-version", "zone", "keep"}


def test_actionlint_is_clean() -> None:
    proc = subprocess.run(
        [
            tool("actionlint"),
            "-no-color",
            "-oneline",
            f"-shellcheck={tool('shellcheck')}",
            "-pyflakes=",
            str(NIGHTLY.relative_to(REPO)),
            str(NIGHTLY_RUNNER.relative_to(REPO)),
            str(SELFTESTS.relative_to(REPO)),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"actionlint:\n{proc.stdout}{proc.stderr}"


def test_repository_scripts_exist_and_are_shellcheck_clean() -> None:
    workflows = (NIGHTLY, NIGHTLY_RUNNER, SELFTESTS)
    called = {p for path in workflows for p in REPO_SCRIPT.findall(path.read_text())}
    assert str(CONFORMANCE_SCRIPT.relative_to(REPO)) in called
    files = [str(REPO / path) for path in sorted(called)]
    assert all(Path(f).is_file() for f in files), files
    proc = subprocess.run(
        [tool("shellcheck"), "--shell=bash", *files], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, f"shellcheck:\n{proc.stdout}{proc.stderr}"


def test_nightly_passes_only_options_that_exist() -> None:
    calls = module_calls(load(NIGHTLY))
    assert "pytest" in calls, "the nightly no longer runs the suite (python3 -m pytest)"
    assert {"--target", "--keep", "--gce-project", "--microk8s-channel"} <= calls["pytest"]
    for module, used in sorted(calls.items()):
        known = help_options(module)
        unknown = sorted(used - known)
        assert not unknown, f"nightly.yml passes {unknown} to python3 -m {module}: not in --help"


def test_nightly_runs_the_gce_target_over_the_whole_suite() -> None:
    script = step_script(suite_step(load(NIGHTLY)))
    assert re.search(r"\bexec python3 -m pytest -k akri --target gce\b", script)
    assert "gce" in settings.TARGETS


def test_nightly_values_pass_the_suite_validation() -> None:
    workflow = load(NIGHTLY)
    options = {o.name: o for o in settings.OPTIONS}
    literals = {
        "microk8s-channel": workflow["env"]["MICROK8S_CHANNELS"].split(),
        "gce-image-family": workflow["env"]["IMAGE_FAMILIES"].split(),
    }
    inputs = workflow["on"]["workflow_dispatch"]["inputs"]
    for name, spec in inputs.items():
        if spec.get("type") == "choice":
            assert name in options, f"dispatch choice {name!r} is not a suite option"
            literals[name] = spec["options"]
    assert len(literals["microk8s-channel"]) >= 2 and len(literals["gce-image-family"]) >= 2
    for name, values in literals.items():
        for value in values:
            try:
                options[name].convert(value)
            except settings.SettingError as exc:
                pytest.fail(f"nightly.yml gives --{name} {value!r}, which the suite refuses: {exc}")


def test_nightly_keeps_its_promises() -> None:
    workflow = load(NIGHTLY)
    jobs = workflow["jobs"]
    assert workflow["on"]["schedule"] and "workflow_dispatch" in workflow["on"]
    assert set(workflow["on"]["workflow_dispatch"]["inputs"]) >= DISPATCH_INPUTS
    # one group for scheduled and manual runs on any branch (one GCE project, one CPU quota);
    # a run waits for the running one, never cancels it
    concurrency = workflow["concurrency"]
    assert concurrency["group"] and "${{" not in concurrency["group"]
    assert concurrency["cancel-in-progress"] is False
    for job_id, job in jobs.items():
        assert 0 < job["timeout-minutes"] <= 120, f"{job_id}: timeout-minutes"
    strategy = jobs["conformance"]["strategy"]
    assert strategy["fail-fast"] is False and strategy["max-parallel"] >= 1
    by_action = {s["uses"].split("@")[0]: s for _, s in steps(workflow) if "uses" in s}
    upload = by_action["actions/upload-artifact"]
    assert upload["if"] == "always()" and "matrix.cell" in upload["with"]["name"]
    for job_id in ("publish", "reap"):
        assert "always()" in jobs[job_id]["if"] and "conformance" in jobs[job_id]["needs"]
    # the runner's signals on a cancel reach pytest: the step execs the script, which execs it
    assert suite_step(workflow)["run"] == f"exec bash {CONFORMANCE_SCRIPT.relative_to(REPO)}"


def test_selftests_workflow_runs_once_per_change_and_cancels_only_pull_requests() -> None:
    workflow = load(SELFTESTS)
    # main's pushes, and each pull request: a branch push is not tested twice (push + PR)
    assert workflow["on"]["push"] == {"branches": ["main"]} and "pull_request" in workflow["on"]
    assert "branches" not in (workflow["on"]["pull_request"] or {})
    concurrency = workflow["concurrency"]
    assert "github.event.pull_request.number" in concurrency["group"]
    assert concurrency["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"
    (job,) = workflow["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest" and job["timeout-minutes"] > 0
    assert any("sudo" in s.get("run", "") and "bash .ci/run" in s["run"] for s in job["steps"])


@pytest.mark.parametrize(
    "inputs",
    [
        {"AKRI_CHART": "akri-dev", "AKRI_VERSION": "", "KEEP": "never"},
        {
            "AKRI_CHART": "akri",
            "AKRI_VERSION": "0.13.8",
            "KEEP": "on-failure",
            "GCE_NETWORK": "conformance",
            "GCE_MACHINE_TYPE": "e2-standard-8",
        },
    ],
    ids=["nightly", "manual-run-with-every-option"],
)
def test_the_suite_accepts_the_nightly_command_line(tmp_path: Path, inputs: dict[str, str]) -> None:
    """The step's script builds the command; the suite validates it and collects (no VM)."""
    workflow = load(NIGHTLY)
    step_file = tmp_path / "step.sh"
    step_file.write_text(suite_step(workflow)["run"])
    shim = tmp_path / "bin" / "python3"
    shim.parent.mkdir()
    # Collect only, against a loopback endpoint (anonymous credentials): validation without a VM.
    shim.write_text(
        f'#!/bin/sh\nexec {sys.executable} "$@" --collect-only -q '
        f"--gce-api-endpoint=http://127.0.0.1:9 --reports-dir={tmp_path / 'reports'}\n"
    )
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AKRI_E2E_", "GOOGLE_"))}
    env.update(
        PATH=f"{shim.parent}{os.pathsep}{env['PATH']}",
        GCP_PROJECT="my-project",
        GCE_ZONE="europe-west1-b",
        MICROK8S_CHANNEL=workflow["env"]["MICROK8S_CHANNELS"].split()[-1],
        IMAGE_FAMILY=workflow["env"]["IMAGE_FAMILIES"].split()[0],
    )
    env.update({"GCE_NETWORK": "", "GCE_MACHINE_TYPE": "", **inputs})
    assert_suite_collects(step_file, env)


def test_readme_nightly_section_names_what_the_workflows_do() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Nightly on GitHub Actions\n", 1)[1].split("\n## ", 1)[0]
    workflow = load(NIGHTLY)
    for job_id in workflow["jobs"]:
        assert f"**{job_id}**" in section, job_id
    minute, hour = workflow["on"]["schedule"][0]["cron"].split()[:2]
    assert f"at {int(hour):02d}:{int(minute):02d} UTC" in section
    publish = workflow["jobs"]["publish"]
    assert f"`{publish['steps'][-1]['with']['check_name']}`" in section
    assert "`checks: write`" in section and "`contents: read`" in section
    assert f"`{workflow['concurrency']['group']}`" in section
    assert "reports-<channel>_<family>-attempt<N>" in section
    assert str(CONFORMANCE_SCRIPT.relative_to(REPO)) in section
    # Workload Identity admits by GitHub's numeric ids, never by a (re-registrable) name
    assert "--attribute-condition \"assertion.repository_id == '${REPO_ID}'" in section
    assert "/attribute.repository_id/${REPO_ID}" in section
    assert "assertion.repository ==" not in section and "attribute.repository/" not in section
