"""--keep never|on-failure|always decides the VM's fate; a kept VM can be tested again.

Suite runs against the fake Compute API: `--keep on-failure` after a failure (kept, with the
exact ssh and delete commands, the key kept 0600 in the cache directory) and after a success
(deleted), then `--keep always` followed by `--reuse-instance` with the kept key and host key.
"""

from __future__ import annotations

import stat

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


def test_keep_on_failure_keeps_the_vm_and_says_how_to_reach_and_delete_it(tmp_path):
    with blackhole() as (port, _), FakeCompute() as fake:
        run = run_gce(fake, tmp_path, port, *SELECT, "--ssh-timeout=2", "--keep=on-failure")
        deletes = fake.calls("DELETE")
        left = fake.names()
    assert run.returncode == 1
    assert deletes == [] and len(left) == 1
    name = left[0]
    kept = tmp_path / "cache" / "akri-conformance" / name / "id_ed25519"
    assert kept.is_file() and stat.S_IMODE(kept.stat().st_mode) == 0o600
    out = run.stdout
    assert f"VM {name} KEPT (--keep on-failure; the session had failures)" in out, out[-3000:]
    assert f"ssh -i {kept} -o IdentitiesOnly=yes -p {port} ubuntu@127.0.0.1" in out
    assert f"gcloud compute instances delete {name} --project {PROJECT} --zone {ZONE}" in out
    assert run.temp_leftovers == []


def test_keep_on_failure_deletes_after_a_success(tmp_path, twin_node):  # noqa: F811
    endpoint, _ = twin_node
    with FakeCompute(agent=agent_for(twin_node)) as fake:
        run = run_gce(
            fake, tmp_path, endpoint.port, "-k", "target", "--ssh-user=root", "--keep=on-failure"
        )
        deletes = fake.calls("DELETE")
        left = fake.names()
    assert run.returncode == 0, run.stdout[-3000:]
    assert len(deletes) == 1 and left == []
    assert "KEPT" not in run.stdout
    assert not (tmp_path / "cache" / "akri-conformance").exists()


def test_keep_always_then_reuse_with_the_kept_key(tmp_path, twin_node):  # noqa: F811
    endpoint, _ = twin_node
    with FakeCompute(agent=agent_for(twin_node)) as fake:
        first = run_gce(
            fake, tmp_path, endpoint.port, "-k", "target", "--ssh-user=root", "--keep=always"
        )
        name = fake.names()[0]
        again = run_gce(
            fake,
            tmp_path,
            endpoint.port,
            "-k",
            "target",
            "--ssh-user=root",
            f"--reuse-instance={name}",
            "--keep=on-failure",
        )
        inserts = fake.calls("POST", "/instances")
        left = fake.names()
    assert first.returncode == 0 and f"VM {name} KEPT (--keep always)" in first.stdout
    assert f"--reuse-instance={name} --keep=always" in first.stdout
    known = tmp_path / "cache" / "akri-conformance" / name / "known_hosts"
    assert known.read_text().split()[1:] == endpoint.host_key.split()[:2]
    assert again.returncode == 0, again.stdout[-3000:]
    assert again.properties["gce_instance"] == f"{name} (reused)"
    assert again.properties["gce_host_key"].startswith("pinned: ssh-ed25519")
    assert len(inserts) == 1 and left == [], "reused, then deleted after its success"
