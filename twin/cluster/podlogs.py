"""What the kubelet answers about a pod's containers: which one is meant, and its log.

Reads of the kubelet's records, worded as the API server relays the kubelet's refusals: no
such pod (404), a container name missing or unknown, a container still being created, no
previous container (400 BadRequest).
"""

from __future__ import annotations

from twin.cluster.podstatus import ContainerRecord, PodRecord
from twin.kubeapi.store import NotFound, ObjectStore


class PodUnavailable(ValueError):
    """A container's logs or environment cannot be read (the API server's 400 BadRequest)."""

    reason = "BadRequest"


class PodNotFound(PodUnavailable, NotFound):
    """No such pod (the API server's 404 NotFound)."""

    reason = "NotFound"


def container_of(
    store: ObjectStore,
    records: dict[str, PodRecord],
    namespace: str,
    name: str,
    container: str | None,
) -> tuple[dict, PodRecord | None, ContainerRecord | None, str]:
    """(pod, record, container record, container name); PodUnavailable as the API says it."""
    pod = store.get("Pod", namespace, name)
    if pod is None:
        raise PodNotFound(f'pods "{name}" not found')
    names = [c["name"] for c in pod["spec"].get("containers", [])]
    if container is None:
        if len(names) != 1:
            raise PodUnavailable(
                f"a container name must be specified for pod {name}, choose one of: "
                f"[{' '.join(names)}]",
            )
        container = names[0]
    if container not in names:
        raise PodUnavailable(f"container {container} is not valid for pod {name}")
    rec = records.get(pod["metadata"]["uid"])
    return pod, rec, (rec.containers.get(container) if rec else None), container


def container_log(
    rec: PodRecord | None, c: ContainerRecord | None, name: str, cname: str, previous: bool
) -> str:
    """What `kubectl logs` shows for one container (previous: the last terminated one)."""
    if previous and (c is None or c.last_terminated is None):
        raise PodUnavailable(f'previous terminated container "{cname}" in pod "{name}" not found')
    if rec is None or c is None or not c.container_id:
        raise PodUnavailable(
            f'container "{cname}" in pod "{name}" is waiting to start: ContainerCreating',
        )
    behaviour = rec.behaviour
    if behaviour.logs is not None:
        return behaviour.logs(previous)
    if behaviour.crash_reason and (previous or c.state != "running"):
        reason = behaviour.crash_reason
        return reason if reason.endswith("\n") else reason + "\n"
    return ""
