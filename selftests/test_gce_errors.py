"""Provisioning failures end the run at once with a message that says why, where, what to do.

Each case is one suite run against the fake Compute API: the target layer errors with the GCE
reason and the zone, every later layer is skipped, nothing of the run is left in the project,
and nothing that is not the run's is touched. No SSH happens (the port would never answer).
"""

from __future__ import annotations

import pytest

from selftests.fakegce import FakeCompute
from selftests.gce_support import ZONE, blackhole, run_gce

# the target layer and the next: the next must be skipped, naming the target test
SELECT = ("-k", "target or v4l2loopback")
CASES = {
    "quota": ("quotaExceeded", f"failed in zone {ZONE}: HTTP 403", "raise the quota"),
    "stockout": ("ZONE_RESOURCE_POOL_EXHAUSTED", f"failed in zone {ZONE}", "another --gce-zone"),
}


def _check_failed_setup(run) -> str:
    assert run.returncode == 1, run.stdout[-3000:]
    assert run.outcome("test_target_reachable") == "error"
    later = [n for n in run.cases if n != "test_target_reachable"]
    assert later and all(run.outcome(n) == "skipped" for n in later)
    assert run.temp_leftovers == []
    assert run.seconds < 45, run.seconds
    return run.cases["test_target_reachable"]["message"]


@pytest.mark.parametrize("mode", CASES)
def test_refused_insert_is_reported_with_reason_and_zone(tmp_path, mode):
    with blackhole() as (port, attempts), FakeCompute(modes=(mode,)) as fake:
        run = run_gce(fake, tmp_path, port, *SELECT)
        deletes = fake.calls("DELETE")
        left = fake.names()
    message = _check_failed_setup(run)
    for expected in CASES[mode]:
        assert expected in message, message[-2000:]
    assert left == [] and deletes == [] and attempts == []


def test_name_taken_leaves_the_other_instance_alone(tmp_path):
    with blackhole() as (port, attempts), FakeCompute() as fake:
        fake.seed(ZONE, "busy", {"team": "other"})
        run = run_gce(fake, tmp_path, port, *SELECT, "--gce-instance-name=busy")
        deletes = fake.calls("DELETE")
        left = fake.names()
    message = _check_failed_setup(run)
    assert "HTTP 409 alreadyExists" in message and "--reuse-instance" in message, message
    assert left == ["busy"] and deletes == [] and attempts == []


def test_non_loopback_address_from_a_local_fake_is_refused(tmp_path):
    with blackhole() as (port, attempts), FakeCompute(nat_ip="203.0.113.10") as fake:
        run = run_gce(fake, tmp_path, port, *SELECT)
        deletes = fake.calls("DELETE")
        left = fake.names()
    message = _check_failed_setup(run)
    assert "203.0.113.10, which is not loopback: refusing to connect" in message, message
    assert len(deletes) == 1 and left == [] and attempts == []


def test_unknown_image_family(tmp_path):
    with blackhole() as (port, _), FakeCompute() as fake:
        run = run_gce(fake, tmp_path, port, *SELECT, "--gce-image-family=ubuntu-1804-lts")
        inserts = fake.calls("POST", "/instances")
    message = _check_failed_setup(run)
    assert "image family ubuntu-os-cloud/ubuntu-1804-lts failed" in message, message
    assert "HTTP 404" in message and inserts == []
