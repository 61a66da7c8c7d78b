"""Which pod and container a `kubectl logs` or `kubectl exec` command line means.

A pod name, `pod/x`, or a workload (`deploy/x`, ...) whose selector picks the first pod; the
container named with `-c`, the `kubectl.kubernetes.io/default-container` annotation, or the
first, with kubectl's notices (`Found 2 pods, using pod/...`, `Defaulted container ...`).
"""

from __future__ import annotations

from twin.kubeapi.store import ObjectStore
from twin.kubectl.args import Args
from twin.kubectl.get import Failure
from twin.kubectl.resources import not_found, resolve


def pod_for(store: ObjectStore, args: Args, word: str) -> tuple[dict, str]:
    """The pod a logs/exec target names (pod name, pod/x, deploy/x, ...) and a notice."""
    ns = args.get("namespace") or "default"
    kind, _sep, name = word.rpartition("/") if "/" in word else ("pod", "", word)
    ktype = resolve(store, kind)
    obj = store.get(ktype.kind, ns, name)
    if obj is None:
        raise Failure(not_found(ktype, name))
    if ktype.kind == "Pod":
        return obj, ""
    labels = obj["spec"].get("selector") or {}
    labels = labels.get("matchLabels", labels)
    selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    pods = store.list("Pod", ns, selector)[0] if selector else []
    if not pods:
        raise Failure(f"error: timed out waiting for the condition on {ktype.qualified}/{name}")
    note = f"Found {len(pods)} pods, using pod/{pods[0]['metadata']['name']}\n"
    return pods[0], note if len(pods) > 1 else ""


def container_for(args: Args, pod: dict, explicit: str | None) -> tuple[str, str]:
    """The container a logs/exec command means, and kubectl's notice when it chose one."""
    names = [c["name"] for c in pod["spec"].get("containers", [])]
    chosen = explicit or args.get("container")
    if chosen:
        return chosen, ""
    annotated = (pod["metadata"].get("annotations") or {}).get(
        "kubectl.kubernetes.io/default-container"
    )
    chosen = annotated if annotated in names else names[0]
    note = f'Defaulted container "{chosen}" out of: {", ".join(names)}\n'
    return chosen, note if len(names) > 1 else ""
