"""A cancelled nightly cell deletes its VM before the runner kills what is left.

On a cancel or a timeout the GitHub runner signals the step's own process: SIGINT, SIGTERM
7.5 s later, and 2.5 s after that it kills the process tree. Here the conformance step runs as
the runner runs it: its `run:` text written to a file and started as
`bash --noprofile --norc -eo pipefail FILE` from the checkout, in a process group of its own,
with the matrix cell's environment. `python3` is a shim that execs this interpreter with the
fake Compute API's endpoint and an SSH port that never answers, so the suite creates its VM
and then waits on SSH. Then the runner's sequence, with its delays; the group is killed at the
end if anything is left (the runner's kill of the tree).

As shipped (the step execs the script, the script execs pytest), pytest is the signalled
process and the fake sees the DELETE well before the kill; the test prints the time from the
SIGINT to the DELETE. The old shape, the same script with pytest a child of bash, must leave
the VM behind: bash holds the SIGINT, dies on the SIGTERM, and pytest goes down with the kill
unsignalled. That second case is what shows the first can fail.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from selftests.fakegce import FakeCompute, GuestAgent
from selftests.gce_support import PROJECT, REPO, ZONE, blackhole, environment
from selftests.workflow_support import (
    CONFORMANCE_SCRIPT,
    NIGHTLY,
    RUNNER_BASH,
    load,
    suite_step,
)
from twin.sshd import generate_ed25519

SIGTERM_AFTER = 7.5  # the runner: SIGINT, then SIGTERM this much later
KILL_AFTER = 2.5  # then the process tree is killed this much after the SIGTERM
EXEC_PYTEST = "\nexec python3 -m pytest "


@dataclass
class Cancel:
    """What the runner-style cancel saw; times in seconds after the SIGINT."""

    signalled: str  # the command line of the process the signals went to
    delete: float | None  # the fake's first DELETE (None: none came)
    kill: float | None  # the group kill (None: nothing was left to kill)
    returncode: int
    left: list[str]  # the instances that still exist


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group, from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _ppid, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(pgrp) == pgid and state != "Z":
            members.append(int(stat.parent.name))
    return members


def ended(proc: subprocess.Popen, deadline: float, whole_group: bool = False) -> bool:
    """Wait until the process (and, with whole_group, its group) is gone, or the deadline."""
    while time.monotonic() < deadline:
        if proc.poll() is not None and not (whole_group and group_members(proc.pid)):
            return True
        time.sleep(0.05)
    return proc.poll() is not None and not (whole_group and group_members(proc.pid))


def cancel_like_the_runner(proc: subprocess.Popen, fake: FakeCompute) -> Cancel:
    """SIGINT the step's process, SIGTERM it 7.5 s later, SIGKILL its group 2.5 s after."""
    cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    sent = time.monotonic()
    os.kill(proc.pid, signal.SIGINT)
    if not ended(proc, sent + SIGTERM_AFTER):
        os.kill(proc.pid, signal.SIGTERM)
    kill = None
    if not ended(proc, sent + SIGTERM_AFTER + KILL_AFTER, whole_group=True):
        kill = time.monotonic() - sent
        os.killpg(proc.pid, signal.SIGKILL)
    returncode = proc.wait(10)
    deletes = fake.calls("DELETE")
    delete = deletes[0].at - sent if deletes else None
    return Cancel(cmdline, delete, kill, returncode, fake.names())


def start_step(script: str, fake: FakeCompute, ssh_port: int, home: Path) -> subprocess.Popen:
    """The step as the runner starts it, for one matrix cell, against the fake."""
    shim = home / "bin" / "python3"
    shim.parent.mkdir(parents=True)
    shim.write_text(
        f'#!/bin/sh\nexec {sys.executable} "$@" -p no:cacheprovider '
        f"--gce-api-endpoint={fake.url} --ssh-port={ssh_port} --ssh-timeout=120 "
        f"--reports-dir={home / 'reports'}\n"
    )
    shim.chmod(0o755)
    step_file = home / "step.sh"
    step_file.write_text(script)
    env = environment(home)
    channels = load(NIGHTLY)["env"]["MICROK8S_CHANNELS"].split()
    env.update(
        PATH=f"{shim.parent}{os.pathsep}{env['PATH']}",
        GITHUB_STEP_SUMMARY=str(home / "step-summary.md"),
        GCP_PROJECT=PROJECT,
        GCE_ZONE=ZONE,
        IMAGE_FAMILY="ubuntu-2404-lts-amd64",
        MICROK8S_CHANNEL=channels[-1],
        AKRI_CHART="akri-dev",
        AKRI_VERSION="",
        KEEP="never",
        GCE_NETWORK="",
        GCE_MACHINE_TYPE="",
    )
    with (home / "step.log").open("w") as log:
        return subprocess.Popen(
            [*RUNNER_BASH, str(step_file)],
            cwd=REPO,  # the workspace: the checkout
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            process_group=0,
        )


def cancelled_step(script: str, home: Path) -> Cancel:
    """Run the step against the fake until it waits on the VM's SSH, then cancel it."""
    host_key = generate_ed25519(home / "host_key", "")
    agent = GuestAgent(home / "authorized_keys", host_key)
    with blackhole() as (port, attempts), FakeCompute(agent=agent) as fake:
        proc = start_step(script, fake, port, home)
        try:
            deadline = time.monotonic() + 90
            while not attempts and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            log = (home / "step.log").read_text()
            assert attempts and fake.names(), f"never waited on the VM: {proc.poll()}\n{log}"
            return cancel_like_the_runner(proc, fake)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def test_the_conformance_step_execs_pytest() -> None:
    step = suite_step(load(NIGHTLY))
    assert step["run"].strip() == f"exec bash {CONFORMANCE_SCRIPT.relative_to(REPO)}"
    assert CONFORMANCE_SCRIPT.read_text().count(EXEC_PYTEST) == 1


def test_a_cancelled_step_deletes_its_vm_before_the_kill(tmp_path: Path) -> None:
    home = tmp_path / "run"
    home.mkdir()
    cancel = cancelled_step(suite_step(load(NIGHTLY))["run"], home)
    log = (home / "step.log").read_text()[-4000:]
    assert " -m pytest " in cancel.signalled, cancel.signalled  # pytest took the step's process
    assert cancel.delete is not None, log
    print(f"\nrunner-style cancel: SIGINT -> DELETE in {cancel.delete:.3f} s")  # pytest -s
    assert cancel.kill is None or cancel.delete < cancel.kill, (cancel, log)
    assert cancel.delete < SIGTERM_AFTER, cancel  # the SIGINT alone does it
    assert cancel.left == [] and cancel.returncode == pytest.ExitCode.INTERRUPTED, (cancel, log)
    summary = (home / "step-summary.md").read_text()
    assert summary.count("# Akri on MicroK8s conformance: ") == 1, summary


def test_with_pytest_a_child_of_bash_the_vm_outlives_the_cancel(tmp_path: Path) -> None:
    """The old shape: the same script without `exec`. The check above could fail on it."""
    script = CONFORMANCE_SCRIPT.read_text()
    assert EXEC_PYTEST in script
    home = tmp_path / "run"
    home.mkdir()
    cancel = cancelled_step(script.replace(EXEC_PYTEST, "\npython3 -m pytest "), home)
    assert cancel.signalled.startswith("bash "), cancel.signalled
    assert cancel.kill is not None and cancel.delete is None, cancel  # pytest never knew
    assert cancel.left != [], cancel
