"""The gce target provisions as GCE expects: request bodies, image, labels, retries, cleanup.

Each test runs the suite (`-k target`) with `--target gce` against the fake Compute API, whose
guest agent lets the run's ephemeral key into the twin's sshd and publishes the twin's host key.
"""

from __future__ import annotations

import time

import pytest

from selftests.fakegce import FakeCompute
from selftests.gce_support import PROJECT, ZONE, agent_for, run_gce, twin_node  # noqa: F401


def _metadata(body: dict) -> dict[str, str]:
    return {i["key"]: i["value"] for i in body["metadata"]["items"]}


def test_happy_path_creates_checks_and_deletes(tmp_path, twin_node):  # noqa: F811
    endpoint, _ = twin_node
    now = int(time.time())
    with FakeCompute(agent=agent_for(twin_node)) as fake:
        fake.seed(ZONE, "old-run", {"suite": "akri-conformance", "run-id": "x", "expires": "1"})
        fake.seed(ZONE, "young-run", {"suite": "akri-conformance", "expires": str(now + 3600)})
        run = run_gce(fake, tmp_path, endpoint.port, "-k", "target", "--ssh-user=root")
        inserts = fake.calls("POST", "/instances")
        deletes = fake.calls("DELETE")
        left = fake.names()
    assert run.returncode == 0, run.stdout[-3000:]
    assert run.outcome("test_target_reachable") == "passed"
    assert fake.rejections == []
    body = inserts[0].body
    name = body["name"]
    assert name.startswith("akri-conformance-") and inserts[0].query["requestId"]
    labels = body["labels"]
    assert labels["suite"] == "akri-conformance" and labels["run-id"] in name
    assert now + 14400 - 5 <= int(labels["expires"]) <= now + 14400 + 60
    metadata = _metadata(body)
    assert metadata["enable-guest-attributes"] == "TRUE"
    assert metadata["ssh-keys"].startswith("root:ssh-ed25519 AAAA")
    disk = body["disks"][0]
    assert disk["boot"] and disk["autoDelete"]
    assert disk["initializeParams"]["diskSizeGb"] == "50"
    assert disk["initializeParams"]["sourceImage"].endswith("/ubuntu-2404-lts-amd64-v20261101")
    assert body["machineType"] == f"zones/{ZONE}/machineTypes/e2-standard-4"
    access = body["networkInterfaces"][0]["accessConfigs"][0]
    assert access == {"name": "External NAT", "type": "ONE_TO_ONE_NAT"}
    # Secure Boot asked off, explicitly (docs/facts.md#secure-boot)
    assert body["shieldedInstanceConfig"] == {
        "enableSecureBoot": False,
        "enableVtpm": True,
        "enableIntegrityMonitoring": True,
    }
    props = run.properties
    assert props["gce_image"].endswith("/global/images/ubuntu-2404-lts-amd64-v20261101")
    assert props["gce_instance"] == name and props["target"] == "gce"
    assert props["gce_host_key"].startswith("pinned: ssh-ed25519 SHA256:")
    assert props["gce_reaped"].startswith("deleted old-run; not expired: young-run")
    # the reaper took the expired one, cleanup took ours; nothing else was touched
    assert sorted(d.path.rsplit("/", 1)[-1] for d in deletes) == sorted(["old-run", name])
    assert left == ["young-run"]
    assert run.temp_leftovers == [], "the ephemeral key must be removed"


@pytest.mark.parametrize("mode", ["rate-limit-once", "unavailable-once"])
def test_insert_retried_with_the_same_request_id(tmp_path, twin_node, mode):  # noqa: F811
    endpoint, _ = twin_node
    with FakeCompute(agent=agent_for(twin_node), modes=(mode,)) as fake:
        run = run_gce(fake, tmp_path, endpoint.port, "-k", "target", "--ssh-user=root")
        inserts = fake.calls("POST", "/instances")
        left = fake.names()
    assert run.returncode == 0, run.stdout[-3000:]
    assert len(inserts) == 2
    assert inserts[0].query["requestId"] == inserts[1].query["requestId"]
    assert left == []
    assert run.seconds < 60


def test_unpublished_host_key_is_accepted_on_first_use_and_reported(tmp_path, twin_node):  # noqa: F811
    endpoint, _ = twin_node
    agent = agent_for(twin_node)
    agent.publish_host_key = False
    with FakeCompute(agent=agent) as fake:
        run = run_gce(
            fake, tmp_path, endpoint.port, "-k", "target", "--ssh-user=root", "--ssh-timeout=5"
        )
    assert run.returncode == 0, run.stdout[-3000:]
    assert len(fake.calls("GET", "/getGuestAttributes")) >= 2, "polled before giving up"
    fingerprint = run.properties["gce_host_key"]
    assert fingerprint.startswith("first seen, NOT verified: ssh-ed25519 SHA256:"), fingerprint
    assert "HOST KEY NOT VERIFIED" in run.stdout and fingerprint.split(": ", 1)[1] in run.stdout
