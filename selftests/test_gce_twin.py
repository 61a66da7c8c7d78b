"""The nightly path minus Google: `--target gce` against the fake Compute API and the twin.

The fake creates the VM, answers with a loopback address, installs the run's ephemeral key into
the twin's sshd like the guest agent does, and publishes the twin's host key as guest
attributes; `--ssh-port` points at the twin's sshd. The whole suite must pass, with the host key
pinned, the image recorded, the VM deleted and the key removed.
"""

from __future__ import annotations

import pytest

from fixtures.evidence.contact_sheet import feeds
from selftests.fakegce import FakeCompute
from selftests.gce_support import agent_for, run_gce, twin_node  # noqa: F401


@pytest.mark.slow
def test_whole_suite_green_through_the_gce_target(tmp_path, twin_node):  # noqa: F811
    endpoint, _ = twin_node
    with FakeCompute(agent=agent_for(twin_node)) as fake:
        run = run_gce(
            fake,
            tmp_path,
            endpoint.port,
            "-k",
            "akri",
            "--ssh-user=root",
            "--ready-timeout=60",
            timeout=600,
        )
        deletes = fake.calls("DELETE")
        left = fake.names()
    assert run.returncode == 0, run.stdout[-4000:]
    assert len(run.cases) >= 30 and all(c["outcome"] == "passed" for c in run.cases.values())
    props = run.properties
    assert props["target"] == "gce" and props["gce_image"].endswith("-v20261101")
    assert props["gce_host_key"].startswith("pinned: ssh-ed25519 SHA256:")
    assert props["gce_external_ip"] == "127.0.0.1"
    assert fake.rejections == [] and len(deletes) == 1 and left == []
    assert run.temp_leftovers == []
    assert len(feeds(tmp_path / "reports" / "frames")) >= 2
