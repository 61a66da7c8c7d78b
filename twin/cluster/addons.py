"""The MicroK8s addons the twin deploys: Calico (the default CNI) and CoreDNS (dns addon).

Calico runs as the `calico-node` DaemonSet (privileged, host network) and the
`calico-kube-controllers` Deployment in kube-system, as MicroK8s deploys it at first start;
CoreDNS is the `coredns` Deployment behind the `kube-dns` Service on 10.152.183.10 with the
addon's Corefile (docs/facts.md#microk8s-addons). Addresses here are data only: nothing
connects to them.
"""

from __future__ import annotations

from typing import Any

from twin.cluster.objects import CLUSTER_DNS_IP, service_account

CALICO_IMAGE_TAG = "v3.28.1"
COREDNS_IMAGE = "coredns/coredns:1.13.1"


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
        service_account("calico-node", "kube-system"),
        service_account("calico-kube-controllers", "kube-system"),
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
    return [service_account("coredns", "kube-system"), config, deployment, service]
