"""The VM is deleted when the run fails, and a VM left behind after its delete is a red build.

Suite runs against the fake Compute API: an SSH port that never answers (the target test fails
within a small --ssh-timeout and the VM is deleted), and a delete that leaves the instance
behind (an error in the teardown of the session's last test, with the delete command).
"""

from __future__ import annotations

from selftests.fakegce import FakeCompute
from selftests.gce_support import (  # noqa: F401  (twin_node is a fixture)
    PROJECT,
    ZONE,
    agent_for,
    blackhole,
    run_gce,
    twin_node,
)

SELECT = ("-k", "target or v4l2loopback")


def test_ssh_never_answers_fails_the_target_and_deletes_the_vm(tmp_path):
    with blackhole() as (port, attempts), FakeCompute() as fake:
        run = run_gce(fake, tmp_path, port, *SELECT, "--ssh-timeout=3")
        deletes = fake.calls("DELETE")
        left = fake.names()
    assert run.returncode == 1, run.stdout[-3000:]
    message = run.cases["test_target_reachable"]["message"]
    assert run.outcome("test_target_reachable") == "failed", message
    assert "did not answer within 3s (--ssh-timeout)" in message, message
    assert "Compute Engine VM akri-conformance-" in message
    assert all(run.outcome(n) == "skipped" for n in run.cases if "v4l2" in n)
    assert attempts, "SSH was tried against the VM's address"
    assert len(deletes) == 1 and left == []
    assert run.properties["gce_host_key"] == "not published: first use"
    assert run.temp_leftovers == []
    assert run.seconds < 45, run.seconds


def test_instance_left_after_delete_is_a_red_build(tmp_path, twin_node):  # noqa: F811
    endpoint, _ = twin_node
    with FakeCompute(agent=agent_for(twin_node), modes=("undeletable",)) as fake:
        run = run_gce(fake, tmp_path, endpoint.port, "-k", "target", "--ssh-user=root")
        left = fake.names()
    assert run.returncode == 1, run.stdout[-3000:]
    assert len(left) == 1
    # JUnit: the session's last test carries the teardown error
    case = run.cases["test_target_reachable"]
    assert case["outcome"] == "error" and "GceLeak" in case["message"], case
    assert f"LEAK: VM {left[0]} of this run in {PROJECT}/{ZONE}" in run.stdout
    assert f"gcloud compute instances delete {left[0]}" in run.stdout
