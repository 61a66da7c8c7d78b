"""The kube-controller-manager's workload controllers: Deployments, ReplicaSets, DaemonSets.

Level-triggered like the real controllers: every pass compares what the store holds with what
it should hold and writes only the difference. A Deployment owns one ReplicaSet per pod
template (`<name>-<pod-template-hash>`), scaled to the desired replicas while older ones go to
zero; a ReplicaSet owns pods `<rs>-<5 chars>`; a DaemonSet owns one pod `<name>-<5 chars>` on
the node. Pods being deleted no longer count (FilterActivePods): a replacement is created while
the old pod terminates. Pods are created through admission like any write, so a refused pod is
a FailedCreate event, as the real controllers record it. Namespaces and the garbage collector
live in `twin.cluster.garbage`, Endpoints in `twin.cluster.endpoints`.
"""

from __future__ import annotations

import copy

from twin.cluster.objects import owned_by, template_hash
from twin.cluster.recorder import EventRecorder
from twin.cluster.statuses import daemonset_status, deployment_status, pod_ready, replicaset_status
from twin.kubeapi.meta import owner_ref, suffix
from twin.kubeapi.store import Conflict, Invalid, NotFound, ObjectStore

# what the DaemonSet controller lets its pods tolerate (daemon/util AddOrUpdateDaemonPodTolerations)
_DAEMON_TOLERATIONS = [
    {"key": f"node.kubernetes.io/{key}", "operator": "Exists", "effect": effect}
    for key, effect in (
        ("not-ready", "NoExecute"),
        ("unreachable", "NoExecute"),
        ("disk-pressure", "NoSchedule"),
        ("memory-pressure", "NoSchedule"),
        ("pid-pressure", "NoSchedule"),
        ("unschedulable", "NoSchedule"),
    )
]


def _not_deleting(objects: list[dict]) -> list[dict]:
    return [o for o in objects if not o["metadata"].get("deletionTimestamp")]


def active(pods: list[dict]) -> list[dict]:
    """Pods that count for their controller: not being deleted, not finished."""
    return [
        p
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
        and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    ]


class Controllers:
    """The Deployment, ReplicaSet and DaemonSet controllers for one node."""

    def __init__(self, store: ObjectStore, recorder: EventRecorder, node_name: str) -> None:
        self.store = store
        self.recorder = recorder
        self.node_name = node_name

    # --- helpers ---------------------------------------------------------------------------

    def _owned(self, kind: str, owner: dict) -> list[dict]:
        items, _ = self.store.list(kind, owner["metadata"]["namespace"])
        return [o for o in items if owned_by(o, owner)]

    def _write_status(self, obj: dict, status: dict) -> None:
        if obj.get("status") == status:
            return

        def write(current: dict) -> None:
            current["status"] = status

        meta = obj["metadata"]
        self.store.patch(obj["kind"], meta.get("namespace"), meta["name"], write)

    def _delete(self, kind: str, namespace: str | None, name: str) -> bool:
        try:
            self.store.delete(kind, namespace, name)
        except NotFound:
            return False
        return True

    # --- workloads -------------------------------------------------------------------------

    def sync_workloads(self) -> None:
        """Deployments -> ReplicaSets -> pods, and DaemonSets -> pods.

        A workload being deleted creates nothing more, as the real controllers skip it.
        """
        for deployment in _not_deleting(self.store.list("Deployment")[0]):
            self._sync_deployment(deployment)
        for rs in _not_deleting(self.store.list("ReplicaSet")[0]):
            self._sync_replicaset(rs)
        node = self.store.get("Node", None, self.node_name)
        for ds in _not_deleting(self.store.list("DaemonSet")[0]):
            self._sync_daemonset(ds, node)

    def _sync_deployment(self, deployment: dict) -> None:
        meta, spec = deployment["metadata"], deployment["spec"]
        replicas = int(spec.get("replicas", 1))
        pod_hash = template_hash(spec["template"])
        current_name = f"{meta['name']}-{pod_hash}"
        owned = self._owned("ReplicaSet", deployment)
        if not any(rs["metadata"]["name"] == current_name for rs in owned):
            self._create_replicaset(deployment, current_name, pod_hash, replicas, len(owned))
        for rs in owned:
            want = replicas if rs["metadata"]["name"] == current_name else 0
            have = int(rs["spec"].get("replicas", 1))
            if have != want:
                self.store.patch(
                    "ReplicaSet",
                    meta["namespace"],
                    rs["metadata"]["name"],
                    lambda o, n=want: o["spec"].__setitem__("replicas", n),
                )
                verb = "up" if want > have else "down"
                self.recorder.record(
                    deployment,
                    "ScalingReplicaSet",
                    f"Scaled {verb} replica set {rs['metadata']['name']} from {have} to {want}",
                    "deployment-controller",
                )

    def _create_replicaset(
        self, deployment: dict, name: str, pod_hash: str, replicas: int, revision: int
    ) -> None:
        meta, spec = deployment["metadata"], deployment["spec"]
        template = copy.deepcopy(spec["template"])
        labels = {
            **(template.get("metadata") or {}).get("labels", {}),
            "pod-template-hash": pod_hash,
        }
        template.setdefault("metadata", {})["labels"] = labels
        selector = copy.deepcopy(spec["selector"])
        selector.setdefault("matchLabels", {})["pod-template-hash"] = pod_hash
        rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": meta["namespace"],
                "labels": labels,
                "annotations": {
                    "deployment.kubernetes.io/desired-replicas": str(replicas),
                    "deployment.kubernetes.io/max-replicas": str(replicas + 1),
                    "deployment.kubernetes.io/revision": str(revision + 1),
                },
                "ownerReferences": [owner_ref(deployment)],
            },
            "spec": {"replicas": replicas, "selector": selector, "template": template},
        }
        try:
            self.store.create(rs)
        except Conflict:
            return
        self.recorder.record(
            deployment,
            "ScalingReplicaSet",
            f"Scaled up replica set {name} from 0 to {replicas}",
            "deployment-controller",
        )

    def _sync_replicaset(self, rs: dict) -> None:
        want = int(rs["spec"].get("replicas", 1))
        pods = active(self._owned("Pod", rs))
        for _ in range(want - len(pods)):
            self._create_pod(
                rs, f"{rs['metadata']['name']}-{suffix()}", {}, "replicaset-controller"
            )
        # like the real controller, unscheduled and unready pods go first
        pods.sort(key=lambda p: (bool(p["spec"].get("nodeName")), pod_ready(p)))
        for pod in pods[: max(0, len(pods) - want)]:
            if self._delete("Pod", pod["metadata"]["namespace"], pod["metadata"]["name"]):
                self.recorder.record(
                    rs,
                    "SuccessfulDelete",
                    f"Deleted pod: {pod['metadata']['name']}",
                    "replicaset-controller",
                )

    def _sync_daemonset(self, ds: dict, node: dict | None) -> None:
        pod_hash = template_hash(ds["spec"]["template"])
        pods = active(self._owned("Pod", ds))
        wanted = node is not None and self._fits_node(ds, node)
        current = [
            p for p in pods if p["metadata"]["labels"].get("controller-revision-hash") == pod_hash
        ]
        keep = current[:1] if wanted else []
        for pod in pods:
            if pod not in keep:
                self._delete("Pod", pod["metadata"]["namespace"], pod["metadata"]["name"])
        if wanted and not keep:
            generation = str(ds["metadata"].get("generation", 1))
            extra = {"controller-revision-hash": pod_hash, "pod-template-generation": generation}
            self._create_pod(
                ds, f"{ds['metadata']['name']}-{suffix()}", extra, "daemonset-controller"
            )

    def _fits_node(self, ds: dict, node: dict) -> bool:
        selector = ds["spec"]["template"].get("spec", {}).get("nodeSelector") or {}
        labels = node["metadata"].get("labels") or {}
        return all(labels.get(k) == v for k, v in selector.items())

    def _create_pod(self, owner: dict, name: str, extra_labels: dict, component: str) -> None:
        template = copy.deepcopy(owner["spec"]["template"])
        tmeta = template.get("metadata") or {}
        spec = template.get("spec") or {}
        if owner["kind"] == "DaemonSet":
            tolerations = spec.setdefault("tolerations", [])
            tolerations += [t for t in _DAEMON_TOLERATIONS if t not in tolerations]
            spec["affinity"] = {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchFields": [
                                    {
                                        "key": "metadata.name",
                                        "operator": "In",
                                        "values": [self.node_name],
                                    }
                                ]
                            }
                        ]
                    }
                }
            }
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": owner["metadata"]["namespace"],
                "labels": {**(tmeta.get("labels") or {}), **extra_labels},
                "annotations": dict(tmeta.get("annotations") or {}),
                "ownerReferences": [owner_ref(owner)],
            },
            "spec": spec,
        }
        if owner["kind"] == "ReplicaSet":
            pod["metadata"]["generateName"] = name[: -len(name.rsplit("-", 1)[-1])]
        try:
            self.store.create(pod)
        except Conflict:
            return
        except Invalid as exc:  # admission refused it: the controller says so and retries
            self.recorder.record(
                owner, "FailedCreate", f"Error creating: {exc}", component, warning=True
            )
            return
        self.recorder.record(owner, "SuccessfulCreate", f"Created pod: {name}", component)

    # --- statuses ----------------------------------------------------------------------------

    def sync_statuses(self) -> None:
        """Status of every ReplicaSet, Deployment and DaemonSet from its pods."""
        for rs in self.store.list("ReplicaSet")[0]:
            self._write_status(rs, replicaset_status(rs, active(self._owned("Pod", rs))))
        for deployment in self.store.list("Deployment")[0]:
            sets = self._owned("ReplicaSet", deployment)
            pods = {rs["metadata"]["name"]: active(self._owned("Pod", rs)) for rs in sets}
            self._write_status(deployment, deployment_status(deployment, pods))
        node = self.store.get("Node", None, self.node_name)
        for ds in self.store.list("DaemonSet")[0]:
            desired = 1 if node is not None and self._fits_node(ds, node) else 0
            self._write_status(ds, daemonset_status(ds, active(self._owned("Pod", ds)), desired))
