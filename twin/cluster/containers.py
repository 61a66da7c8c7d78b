"""One container's life on the twin's kubelet: pulled, created, started, crashed, stopped.

`start_container` starts the current container of a slot (image pull events the first time,
then Created and Started); a behaviour with a crash reason exits 101 right away, restarted at
once the first time and then with the kubelet's back-off (1 s, 2 s, 4 s, capped at 8 s).
`stop_container` ends it for the pod's deletion: 143 when it exited on SIGTERM, 137 when the
grace period ran out and the kubelet killed it (128 + the signal, as containerd reports them).
"""

from __future__ import annotations

import secrets

from twin.cluster.podstatus import ContainerRecord, PodRecord
from twin.cluster.recorder import EventRecorder
from twin.kubeapi.meta import now

FIRST_RESTART = 0.2  # seconds between the first crash and the first restart (no back-off yet)
MAX_BACKOFF = 8.0
SIGTERM_EXIT, SIGKILL_EXIT = 143, 137


def start_container(
    recorder: EventRecorder, pod: dict, rec: PodRecord, c: ContainerRecord, clock: float
) -> None:
    """Start a new container in the slot, with the events the kubelet records."""
    behaviour = rec.behaviour
    rec.ever_started = True
    path = f"spec.containers{{{c.name}}}"
    if c.container_id:
        message = f'Container image "{c.image}" already present on machine'
    else:
        message = f'Successfully pulled image "{c.image}" in 1.2s (1.2s including waiting)'
        recorder.record(pod, "Pulling", f'Pulling image "{c.image}"', "kubelet", field_path=path)
    recorder.record(pod, "Pulled", message, "kubelet", field_path=path)
    c.container_id = secrets.token_hex(32)
    c.started_at = now()
    recorder.record(pod, "Created", f"Created container: {c.name}", "kubelet", field_path=path)
    recorder.record(pod, "Started", f"Started container {c.name}", "kubelet", field_path=path)
    if behaviour.crash_reason is None:
        c.state, c.ready = "running", not behaviour.never_ready
        if behaviour.never_ready:
            recorder.record(
                pod,
                "Unhealthy",
                "Readiness probe failed: connection refused",
                "kubelet",
                warning=True,
                field_path=path,
            )
        return
    c.ready = False
    c.last_terminated = {
        "exitCode": 101,
        "reason": "Error",
        "startedAt": c.started_at,
        "finishedAt": now(),
        "containerID": f"containerd://{c.container_id}",
    }
    if c.state == "creating":
        c.state, c.next_at = "error", clock + FIRST_RESTART
        return
    c.backoff = min(MAX_BACKOFF, c.backoff * 2) if c.backoff else 1.0
    c.state, c.next_at = "backoff", clock + c.backoff
    recorder.record(
        pod,
        "BackOff",
        f"Back-off restarting failed container {c.name} in pod "
        f"{rec.name}_{rec.namespace}({rec.uid})",
        "kubelet",
        warning=True,
        field_path=path,
    )


def stop_container(c: ContainerRecord, killed: bool) -> None:
    """The container ended for its pod's deletion (SIGTERM, or SIGKILL after the grace)."""
    if c.state != "stopped":
        c.stopped = {
            "exitCode": SIGKILL_EXIT if killed else SIGTERM_EXIT,
            "reason": "Error",
            "startedAt": c.started_at or now(),
            "finishedAt": now(),
            "containerID": f"containerd://{c.container_id}",
        }
    c.state, c.ready = "stopped", False
