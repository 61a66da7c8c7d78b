"""The reaper deletes only this suite's expired VMs, in its own project and zone.

In-process against the fake Compute API (one import of the Google client for the module):
expired and labelled goes; not yet expired, unlabelled, someone else's `suite`, an unreadable
expiry, another zone, or the instance being reused stay. The command line the nightly workflow
runs is checked too.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from selftests.fakegce import FakeCompute
from selftests.gce_support import PROJECT, REPO, ZONE

OURS = {"suite": "akri-conformance", "run-id": "20260101-000000-abcdef"}


@pytest.fixture
def fake():
    now = int(time.time())
    with FakeCompute() as fake:
        fake.seed(ZONE, "expired", {**OURS, "expires": str(now - 60)})
        fake.seed(ZONE, "expired-reused", {**OURS, "expires": str(now - 60)})
        fake.seed(ZONE, "young", {**OURS, "expires": str(now + 3600)})
        fake.seed(ZONE, "no-expiry", dict(OURS))
        fake.seed(ZONE, "bad-expiry", {**OURS, "expires": "soon"})
        fake.seed(ZONE, "unlabelled", {"expires": "1"})
        fake.seed(ZONE, "other-suite", {"suite": "nightly-db", "expires": "1"})
        fake.seed("europe-west1-b", "other-zone", {**OURS, "expires": "1"})
        yield fake


def test_reaper_deletes_only_expired_labelled_instances(fake):
    from fixtures.targets.gce.api import GceApi
    from fixtures.targets.gce.reaper import reap
    from fixtures.targets.gce.session import credentials

    api = GceApi(PROJECT, ZONE, endpoint=fake.url, credentials=credentials(fake.url))
    result = reap(api, time.time(), spare=("expired-reused",))
    assert result.deleted == ["expired"]
    assert result.errors == []
    assert sorted(result.spared) == sorted(
        [
            "expired-reused",
            "young",
            "no-expiry (no readable expires label)",
            "bad-expiry (no readable expires label)",
        ]
    )
    assert [d.path.rsplit("/", 1)[-1] for d in fake.calls("DELETE")] == ["expired"]
    assert "expired" not in fake.names()
    assert {"unlabelled", "other-suite", "other-zone", "young"} <= set(fake.names())
    listed = fake.calls("GET", f"/zones/{ZONE}/instances")
    assert listed[0].query["filter"] == 'labels.suite = "akri-conformance"'


def test_reaper_command_line(fake):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fixtures.targets.gce.reaper",
            "--gce-project",
            PROJECT,
            "--gce-zone",
            ZONE,
            "--gce-api-endpoint",
            fake.url,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith(f"reaper {PROJECT}/{ZONE}: deleted expired, expired-reused;")
    assert sorted(fake.names()) == [
        "bad-expiry",
        "no-expiry",
        "other-suite",
        "other-zone",
        "unlabelled",
        "young",
    ]
