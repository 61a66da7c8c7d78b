"""The objects a fresh MicroK8s node starts with, and small helpers shared by the node model.

MicroK8s on a single node: the four standard namespaces, the `kubernetes` Service on 10.152.183.1
(docs/facts.md#kubeconfig), and the Node itself (kubelet v1.34, Ubuntu 24.04, containerd) with the
conditions and taints its kubelet and the node lifecycle controller give it: healthy, Unknown once
the kubelet stopped posting status (plus the `unreachable` taints), or under pressure (DiskPressure
with a small disk, docs/facts.md#disk-pressure: `KubeletHasDiskPressure` and the
`node.kubernetes.io/disk-pressure:NoSchedule` taint, while Ready stays True). The Calico and CoreDNS
objects are in `twin.cluster.addons`. Addresses here are data only: nothing connects to them.
"""

from __future__ import annotations

import hashlib
import json
import uuid

from twin.kubeapi.meta import now

KUBE_VERSION = "v1.34.2"
NODE_IP = "10.128.0.2"
APISERVER_PORT = 16443
KUBERNETES_SERVICE_IP = "10.152.183.1"
CLUSTER_DNS_IP = "10.152.183.10"
CONTAINER_RUNTIME = "containerd://1.7.28"
OS_IMAGE = "Ubuntu 24.04.1 LTS"
KERNEL_VERSION = "6.8.0-1019-gcp"
#: the Node's (osImage, kernelVersion) by default
SYSTEM = (OS_IMAGE, KERNEL_VERSION)
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def template_hash(template: dict) -> str:
    """A stable 10-hex-digit hash of a pod template (pod-template-hash)."""
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


def owned_by(obj: dict, owner: dict) -> bool:
    """True when obj carries an ownerReference to owner (by uid)."""
    uid = owner["metadata"].get("uid")
    refs = obj["metadata"].get("ownerReferences") or []
    return any(ref.get("uid") == uid for ref in refs)


def labels_string(labels: dict[str, str]) -> str:
    """A Service-style selector map as a label-selector string."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def namespace(name: str) -> dict:
    """A Namespace as the API server stores it."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def kubernetes_service() -> list[dict]:
    """The apiserver's Service and Endpoints in default (no selector: the apiserver owns them)."""
    labels = {"component": "apiserver", "provider": "kubernetes"}
    port = {"name": "https", "port": 443, "protocol": "TCP", "targetPort": APISERVER_PORT}
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": labels},
        "spec": {
            "clusterIP": KUBERNETES_SERVICE_IP,
            "clusterIPs": [KUBERNETES_SERVICE_IP],
            "ports": [port],
            "type": "ClusterIP",
            "sessionAffinity": "None",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
        },
        "status": {"loadBalancer": {}},
    }
    endpoints = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {}},
        "subsets": [
            {
                "addresses": [{"ip": NODE_IP}],
                "ports": [{"name": "https", "port": APISERVER_PORT, "protocol": "TCP"}],
            }
        ],
    }
    return [service, endpoints]


def node(
    name: str,
    boot_id: str,
    pressure: frozenset[str] = frozenset(),
    system: tuple[str, str] = SYSTEM,
) -> dict:
    """The single MicroK8s Node, Ready, with its capacity and system info (osImage, kernel)."""
    capacity = {
        "cpu": "4",
        "ephemeral-storage": "49836032Ki",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": "16379492Ki",
        "pods": "110",
    }
    allocatable = {**capacity, "ephemeral-storage": "48787456Ki", "memory": "16277092Ki"}
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "microk8s.io/cluster": "true",
        "node.kubernetes.io/microk8s-controlplane": "microk8s-controlplane",
    }
    obj = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {},
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": NODE_IP},
                {"type": "Hostname", "address": name},
            ],
            "allocatable": allocatable,
            "capacity": capacity,
            "conditions": [],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": boot_id,
                "containerRuntimeVersion": CONTAINER_RUNTIME,
                "kernelVersion": system[1],
                "kubeProxyVersion": KUBE_VERSION,
                "kubeletVersion": KUBE_VERSION,
                "machineID": uuid.uuid5(uuid.NAMESPACE_DNS, name).hex,
                "operatingSystem": "linux",
                "osImage": system[0],
                "systemUUID": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
            },
        },
    }
    set_node_health(obj, True, pressure, now())
    return obj


_NODE_CONDITIONS = (
    ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "KubeletReady", "kubelet is posting ready status"),
)
_UNDER_PRESSURE = {
    "MemoryPressure": ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
    "DiskPressure": ("KubeletHasDiskPressure", "kubelet has disk pressure"),
    "PIDPressure": ("KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
}
_PRESSURE_TAINTS = {
    "MemoryPressure": "node.kubernetes.io/memory-pressure",
    "DiskPressure": "node.kubernetes.io/disk-pressure",
    "PIDPressure": "node.kubernetes.io/pid-pressure",
}
_NODE_TAINTS = (*_PRESSURE_TAINTS.values(), "node.kubernetes.io/unreachable")


def node_conditions(ready: bool, stamp: str, pressure: frozenset[str] = frozenset()) -> list[dict]:
    """The four kubelet conditions: healthy or under `pressure`, or Unknown once the kubelet
    stopped reporting."""
    conditions = []
    for ctype, reason, message in _NODE_CONDITIONS:
        status = "True" if ctype == "Ready" else "False"
        if ctype in pressure:
            status, (reason, message) = "True", _UNDER_PRESSURE[ctype]
        if not ready:
            status = "Unknown"
            reason, message = "NodeStatusUnknown", "Kubelet stopped posting node status."
        conditions.append(
            {
                "type": ctype,
                "status": status,
                "reason": reason,
                "message": message,
                "lastHeartbeatTime": stamp,
                "lastTransitionTime": stamp,
            }
        )
    return conditions


def set_node_health(node: dict, ready: bool, pressure: frozenset[str], stamp: str) -> None:
    """Conditions and taints of a node whose kubelet reports (ready) or not, under pressure."""
    node["status"]["conditions"] = node_conditions(ready, stamp, pressure)
    taints = [t for t in node["spec"].get("taints") or [] if t.get("key") not in _NODE_TAINTS]
    if ready:
        taints += [{"key": _PRESSURE_TAINTS[p], "effect": "NoSchedule"} for p in sorted(pressure)]
    else:
        taints += [
            {"key": "node.kubernetes.io/unreachable", "effect": effect, "timeAdded": stamp}
            for effect in ("NoSchedule", "NoExecute")
        ]
    node["spec"].pop("taints", None)
    if taints:
        node["spec"]["taints"] = taints


def service_account(name: str, ns: str) -> dict:
    """A ServiceAccount as the API server stores it."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": ns},
    }


def default_service_account(ns: str) -> dict:
    """The `default` ServiceAccount the service-account controller puts in every namespace."""
    return service_account("default", ns)
