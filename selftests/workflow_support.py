"""Shared pieces of the workflow self-tests: the workflows as data, their steps and scripts.

A step's script is its `run:` text plus the text of every repository script it runs
(`.github/scripts/*.sh`), so the static checks read what the runner would execute. `run_script`
runs a preflight step's script under bash the way the runner does, with the workflow's plain
`env:` values and a `$GITHUB_OUTPUT` file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = REPO / ".github" / "workflows"
NIGHTLY = WORKFLOWS / "nightly.yml"
NIGHTLY_RUNNER = WORKFLOWS / "nightly-runner.yml"
SELFTESTS = WORKFLOWS / "selftests.yml"
CONFORMANCE_SCRIPT = REPO / ".github" / "scripts" / "conformance.sh"
REPO_SCRIPT = re.compile(r"\.github/scripts/[\w.-]+\.sh")
# How the runner runs a `shell: bash` step: the script written to a file, then this command.
RUNNER_BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]


def load(path: Path) -> dict[str, Any]:
    """A workflow as data (PyYAML reads the `on:` key as True; give it back its name)."""
    data = yaml.safe_load(path.read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


def tool(name: str) -> str:
    """A pinned tool's binary: next to this interpreter (pip's scripts), else on PATH."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.is_file() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: pip install -r requirements.lock (pins it)")
    return found


def steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(job id, step) for every step of every job."""
    return [(job_id, step) for job_id, job in workflow["jobs"].items() for step in job["steps"]]


def step_script(step: dict[str, Any]) -> str:
    """What a `run:` step executes: its text and that of the repository scripts it calls."""
    script = step.get("run", "")
    called = [REPO / path for path in REPO_SCRIPT.findall(script)]
    return "\n".join([script, *(path.read_text() for path in called)])


def suite_step(workflow: dict[str, Any]) -> dict[str, Any]:
    """The one step that runs the conformance suite (`python3 -m pytest`)."""
    (step,) = [s for _, s in steps(workflow) if "python3 -m pytest" in step_script(s)]
    return step


def run_script(
    script: str, env: dict[str, str], tmp_path: Path, workflow: dict[str, Any]
) -> tuple[int, str, str]:
    """Run a step's script as the runner would: (exit code, log, what it wrote to outputs)."""
    outputs = tmp_path / "github_output"
    outputs.write_text("")
    step_file = tmp_path / "step.sh"
    step_file.write_text(script)
    proc = subprocess.run(
        [*RUNNER_BASH, str(step_file)],
        env={
            "PATH": os.environ["PATH"],
            "GITHUB_OUTPUT": str(outputs),
            "GCE_ZONE": "us-central1-a",
            **{k: v for k, v in workflow["env"].items() if "${{" not in v},
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc.returncode, proc.stdout + proc.stderr, outputs.read_text()


MODULE_CALL = re.compile(r"\bpython3? -m ([A-Za-z_][\w.]*)")
LONG_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def module_calls(workflow: dict[str, Any]) -> dict[str, set[str]]:
    """module -> the long options the workflow's run scripts pass to `python3 -m module`."""
    calls: dict[str, set[str]] = {}
    for job_id, step in steps(workflow):
        script = step_script(step)
        modules = set(MODULE_CALL.findall(script))
        if not modules:
            continue
        # One module per step, so each option found in the script (the command and the array
        # of optional arguments built before it) belongs to that module without guessing.
        assert len(modules) == 1, f"{job_id}: one python module per step, found {modules}"
        calls.setdefault(modules.pop(), set()).update(LONG_OPTION.findall(script))
    return calls


def help_options(module: str) -> set[str]:
    """The long options `python3 -m module --help` lists, run from the checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AKRI_E2E_")}
    proc = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"python3 -m {module} --help failed:\n{proc.stderr[-2000:]}"
    return set(LONG_OPTION.findall(proc.stdout))


def assert_suite_collects(step_file: Path, env: dict[str, str]) -> None:
    """Run a suite step as the runner does (its python3 shimmed to collect only): it collects.

    Per-camera cases (layer 60) make the count grow with --cameras: at least the 34 tests.
    """
    proc = subprocess.run(
        [*RUNNER_BASH, str(step_file)],
        cwd=REPO,  # the workspace: the checkout
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    collected = re.search(r"\b(?:\d+/)?(\d+) tests collected\b", proc.stdout)
    assert collected and int(collected.group(1)) >= 34, proc.stdout
