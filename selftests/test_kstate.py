"""fixtures.kube.state: a pod being deleted is never a running or ready pod, and says so.

A real API server keeps a deleted pod, often still Running and Ready, until its containers stopped
(docs/facts.md#graceful-deletion); counting it would see one broker too many right after a
replacement.
"""

from __future__ import annotations

from datetime import UTC, datetime

from kubernetes import client

from fixtures.kube.state import live_pods, pod_ready, pod_running, pod_terminating, pods_summary


def a_pod(name: str, deleting: bool = False) -> client.V1Pod:
    ready = client.V1PodCondition(type="Ready", status="True")
    meta = client.V1ObjectMeta(name=name)
    if deleting:
        meta.deletion_timestamp = datetime(2026, 12, 2, tzinfo=UTC)
        meta.deletion_grace_period_seconds = 30
    return client.V1Pod(
        metadata=meta, status=client.V1PodStatus(phase="Running", conditions=[ready])
    )


def test_a_terminating_pod_is_neither_running_nor_ready_and_reads_terminating() -> None:
    old, new = a_pod("akri-udev-video-3a9f0c-pod", deleting=True), a_pod("replacement")
    assert pod_terminating(old) and not pod_terminating(new)
    assert not pod_running(old) and not pod_ready(old)
    assert pod_running(new) and pod_ready(new)
    assert live_pods([old, new]) == [new]
    summary = pods_summary([old, new])
    assert "akri-udev-video-3a9f0c-pod: Terminating (phase Running, grace 30s)" in summary
    assert "replacement: Running" in summary
