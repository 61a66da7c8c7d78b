"""The runner nightly (`nightly-runner.yml`): the suite with `--target local` on GitHub's runners.

It needs no secret, calls the suite with options that exist and a command line the suite
accepts, installs MicroK8s with Akri CI's lowered eviction thresholds, uploads the reports
whatever the outcome, and names a runner kernel that cannot load v4l2loopback as an
environment failure in the job summary (checked on the JUnit of a real run against the twin).
actionlint and the pinned actions: test_workflows.py, test_workflow_actions.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from selftests import suite_run
from selftests import workflow_support as wf

SCRIPTS = wf.REPO / ".github" / "scripts"
ENVIRONMENT = SCRIPTS / "runner-environment.py"
KERNEL = "6.17.0-1010-azure"


def test_the_runner_job_calls_the_suite_with_options_that_exist() -> None:
    calls = wf.module_calls(wf.load(wf.NIGHTLY_RUNNER))
    assert {"--target", "--microk8s-channel", "--akri-chart", "--reports-dir"} <= calls["pytest"]
    for module, used in sorted(calls.items()):
        unknown = sorted(used - wf.help_options(module))
        assert not unknown, f"nightly-runner.yml passes {unknown} to python3 -m {module}"
    script = wf.step_script(wf.suite_step(wf.load(wf.NIGHTLY_RUNNER)))
    assert re.search(r"\bpython3 -m pytest -k akri --target local\b", script)


def test_it_runs_without_cloud_secrets_on_github_hosted_runners() -> None:
    text = wf.NIGHTLY_RUNNER.read_text()
    assert "secrets." not in text and "id-token" not in text
    workflow = wf.load(wf.NIGHTLY_RUNNER)
    assert workflow["on"]["schedule"] and "workflow_dispatch" in workflow["on"]
    (job,) = workflow["jobs"].values()
    assert job["runs-on"] == "${{ matrix.os }}"
    assert {"ubuntu-24.04", "ubuntu-26.04"} <= set(job["strategy"]["matrix"]["os"])
    assert job["strategy"]["fail-fast"] is False and 0 < job["timeout-minutes"] <= 120
    # the runner's signals on a cancel reach pytest: the step execs the script, which execs it
    assert wf.suite_step(workflow)["run"] == "exec bash .github/scripts/conformance-local.sh"


def test_microk8s_gets_akri_cis_lowered_eviction_thresholds_before_the_suite() -> None:
    workflow = wf.load(wf.NIGHTLY_RUNNER)
    names = [s.get("run", "") for _, s in wf.steps(workflow)]
    microk8s = next(i for i, run in enumerate(names) if "runner-microk8s.sh" in run)
    suite = next(i for i, run in enumerate(names) if "conformance-local.sh" in run)
    assert microk8s < suite
    script = (SCRIPTS / "runner-microk8s.sh").read_text()
    # docs/facts.md#disk-pressure: Akri's CI values, then the kubelet restarted and ready again
    assert "memory.available<25Mi,nodefs.available<50Mi,imagefs.available<50Mi" in script
    restart = script.index("systemctl restart snap.microk8s.daemon-kubelite")
    assert "microk8s status --wait-ready --timeout" in script[restart:]


def test_reports_are_uploaded_and_summarised_on_every_outcome() -> None:
    workflow = wf.load(wf.NIGHTLY_RUNNER)
    by_action = {s["uses"].split("@")[0]: s for _, s in wf.steps(workflow) if "uses" in s}
    upload = by_action["actions/upload-artifact"]
    assert upload["if"] == "always()" and upload["with"]["path"] == "reports/"
    assert "matrix.os" in upload["with"]["name"] and "matrix.channel" in upload["with"]["name"]
    (summary,) = [s for _, s in wf.steps(workflow) if "runner-environment.py" in s.get("run", "")]
    assert summary["if"] == "always()" and "GITHUB_STEP_SUMMARY" in summary["run"]


def test_the_suite_accepts_the_runner_command_line(tmp_path: Path) -> None:
    """The step's script builds the command through sudo; the suite validates it and collects."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    # sudo: drop its options and run the command (these self-tests run as root already)
    (bindir / "sudo").write_text(
        '#!/bin/sh\nwhile [ "${1#-}" != "$1" ]; do shift; done\nexec "$@"\n'
    )
    (bindir / "python3").write_text(
        f'#!/bin/sh\nexec {sys.executable} "$@" --collect-only -q '
        f"--reports-dir={tmp_path / 'reports'}\n"
    )
    for shim in bindir.iterdir():
        shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AKRI_E2E_")}
    env.update(
        PATH=f"{bindir}{os.pathsep}{env['PATH']}",
        MICROK8S_CHANNEL="1.36/stable",
        AKRI_CHART="akri-dev",
        AKRI_VERSION="0.13.26",
    )
    step = tmp_path / "step.sh"
    step.write_text(wf.suite_step(wf.load(wf.NIGHTLY_RUNNER))["run"])
    wf.assert_suite_collects(step, env)


def _environment(reports: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ENVIRONMENT), str(reports), KERNEL],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_kernel_that_refuses_the_module_is_an_environment_failure(tmp_path: Path) -> None:
    """A real run's JUnit: the twin's Secure Boot kernel refuses the module (as a runner might)."""
    reports = tmp_path / "reports"
    run = suite_run.run_suite(
        "-p", "no:randomly", f"--reports-dir={reports}", "--twin-fault=secure-boot", "-x"
    )
    assert run.returncode == 1, run.stdout[-3000:]
    proc = _environment(reports)
    assert proc.returncode == 0, proc.stderr
    title = f"## Environment failure: this runner's kernel ({KERNEL}) cannot load v4l2loopback"
    assert proc.stdout.startswith(title), proc.stdout
    assert "not the Akri demo" in proc.stdout and "Key was rejected by service" in proc.stdout
    assert proc.stderr.startswith("::error title=Environment failure::"), proc.stderr


def test_nothing_is_added_when_the_module_layer_passed_or_no_report_exists(
    tmp_path: Path,
) -> None:
    assert _environment(tmp_path / "none").stdout == ""
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "junit.xml").write_text(
        '<testsuites><testsuite name="pytest"><testcase classname="tests.test_20_v4l2loopback" '
        'name="test_v4l2loopback_loaded"/></testsuite></testsuites>'
    )
    proc = _environment(reports)
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == ""
