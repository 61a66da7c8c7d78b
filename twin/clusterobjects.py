"""The objects a fresh MicroK8s node starts with, and small helpers shared by the node model.

MicroK8s on a single node: the four standard namespaces, the `kubernetes` Service on
10.152.183.1 (akri-facts 5.3), the Node itself (kubelet v1.34, Ubuntu 24.04, containerd), the
Calico CNI that MicroK8s deploys by default, and the CoreDNS objects of the dns addon on
10.152.183.10 (akri-facts 5.2). Addresses here are data only: nothing connects to them.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

KUBE_VERSION = "v1.34.2"
NODE_IP = "10.128.0.2"
APISERVER_PORT = 16443
KUBERNETES_SERVICE_IP = "10.152.183.1"
CLUSTER_DNS_IP = "10.152.183.10"
CALICO_IMAGE_TAG = "v3.28.1"
COREDNS_IMAGE = "coredns/coredns:1.13.1"
CONTAINER_RUNTIME = "containerd://1.7.28"
OS_IMAGE = "Ubuntu 24.04.1 LTS"
KERNEL_VERSION = "6.8.0-1019-gcp"
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what Kubernetes draws name suffixes from


def now() -> str:
    """The current time as the API server writes timestamps (RFC 3339, seconds, Z)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def suffix(length: int = 5) -> str:
    """A random name suffix like the ones controllers append to pod names."""
    return "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(length))


def template_hash(template: dict) -> str:
    """A stable 10-hex-digit hash of a pod template (pod-template-hash)."""
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


def owner_ref(owner: dict) -> dict:
    """A controller ownerReference pointing at `owner`."""
    meta = owner["metadata"]
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


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


def node(name: str, boot_id: str) -> dict:
    """The single MicroK8s Node, Ready, with its capacity and system info."""
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
    stamp = now()
    return {
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
            "conditions": node_conditions(True, stamp),
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": boot_id,
                "containerRuntimeVersion": CONTAINER_RUNTIME,
                "kernelVersion": KERNEL_VERSION,
                "kubeProxyVersion": KUBE_VERSION,
                "kubeletVersion": KUBE_VERSION,
                "machineID": uuid.uuid5(uuid.NAMESPACE_DNS, name).hex,
                "operatingSystem": "linux",
                "osImage": OS_IMAGE,
                "systemUUID": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
            },
        },
    }


_NODE_CONDITIONS = (
    ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "KubeletReady", "kubelet is posting ready status"),
)


def node_conditions(ready: bool, stamp: str) -> list[dict]:
    """The four kubelet conditions: healthy, or Unknown once the kubelet stopped reporting."""
    conditions = []
    for ctype, reason, message in _NODE_CONDITIONS:
        status = ("True" if ctype == "Ready" else "False") if ready else "Unknown"
        if not ready:
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


def _container(name: str, image: str, **extra: Any) -> dict:
    return {"name": name, "image": image, "imagePullPolicy": "IfNotPresent", **extra}


def _workload(kind: str, name: str, labels: dict, spec: dict, **extra: Any) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "kube-system", "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": spec},
            **extra,
        },
    }


def calico() -> list[dict]:
    """MicroK8s' default CNI: the calico-node DaemonSet and calico-kube-controllers."""
    node_labels = {"k8s-app": "calico-node"}
    controller_labels = {"k8s-app": "calico-kube-controllers"}
    node_spec = {
        "hostNetwork": True,
        "serviceAccountName": "calico-node",
        "priorityClassName": "system-node-critical",
        "containers": [
            _container(
                "calico-node",
                f"docker.io/calico/node:{CALICO_IMAGE_TAG}",
                env=[{"name": "CALICO_IPV4POOL_CIDR", "value": "10.1.0.0/16"}],
                securityContext={"privileged": True},
            )
        ],
    }
    controller_spec = {
        "serviceAccountName": "calico-kube-controllers",
        "priorityClassName": "system-cluster-critical",
        "containers": [
            _container(
                "calico-kube-controllers", f"docker.io/calico/kube-controllers:{CALICO_IMAGE_TAG}"
            )
        ],
    }
    return [
        _service_account("calico-node", "kube-system"),
        _service_account("calico-kube-controllers", "kube-system"),
        _workload("DaemonSet", "calico-node", node_labels, node_spec),
        _workload(
            "Deployment", "calico-kube-controllers", controller_labels, controller_spec, replicas=1
        ),
    ]


def coredns() -> list[dict]:
    """The dns addon: CoreDNS in kube-system behind the kube-dns Service on 10.152.183.10."""
    labels = {"k8s-app": "kube-dns"}
    ports = [
        {"name": "dns", "containerPort": 53, "protocol": "UDP"},
        {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
        {"name": "metrics", "containerPort": 9153, "protocol": "TCP"},
    ]
    spec = {
        "serviceAccountName": "coredns",
        "priorityClassName": "system-cluster-critical",
        "dnsPolicy": "Default",
        "containers": [
            _container(
                "coredns",
                COREDNS_IMAGE,
                args=["-conf", "/etc/coredns/Corefile"],
                ports=ports,
                readinessProbe={"httpGet": {"path": "/ready", "port": 8181, "scheme": "HTTP"}},
            )
        ],
    }
    deployment = _workload("Deployment", "coredns", labels, spec, replicas=1)
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kube-dns",
            "namespace": "kube-system",
            "labels": {**labels, "kubernetes.io/name": "CoreDNS"},
        },
        "spec": {
            "selector": labels,
            "clusterIP": CLUSTER_DNS_IP,
            "clusterIPs": [CLUSTER_DNS_IP],
            "type": "ClusterIP",
            "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153},
            ],
        },
    }
    corefile = (
        ".:53 {\n    errors\n    health {\n      lameduck 5s\n    }\n    ready\n"
        "    kubernetes cluster.local in-addr.arpa ip6.arpa {\n      pods insecure\n"
        "      fallthrough in-addr.arpa ip6.arpa\n    }\n    prometheus :9153\n"
        "    forward . /etc/resolv.conf\n    cache 30\n    loop\n    reload\n    loadbalance\n}\n"
    )
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "coredns", "namespace": "kube-system", "labels": labels},
        "data": {"Corefile": corefile},
    }
    return [_service_account("coredns", "kube-system"), config, deployment, service]


def _service_account(name: str, ns: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": ns},
    }


def default_service_account(ns: str) -> dict:
    """The `default` ServiceAccount the service-account controller puts in every namespace."""
    return _service_account("default", ns)
