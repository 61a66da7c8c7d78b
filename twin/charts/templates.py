"""The Akri chart's templates, rendered into objects from coalesced values.

Follows deployment/helm/templates at akri `604bdcb6` (docs/facts.md#helm-values,
docs/facts.md#akri-components): the agent, controller and udev discovery handler workloads here;
RBAC and the webhook in `twin.charts.access`; the udev Configuration in `twin.charts.configuration`;
labels, images and workload defaults in `twin.charts.objects`.
"""

from __future__ import annotations

from typing import Any

from twin.charts.access import rbac_objects, webhook_objects
from twin.charts.catalogue import ChartVersion
from twin.charts.configuration import RenderError, udev_configuration
from twin.charts.objects import chart_labels, component_container, host_volumes, image_ref, workload

__all__ = ["RenderError", "render"]


def _container(name: str, component: dict[str, Any], image: str, **extra: Any) -> dict:
    """A component's container with the pull policy and resources of its values section."""
    pull = component["image"].get("pullPolicy")
    return component_container(name, image, pull, component["resources"], **extra)


def _agent(chart: ChartVersion, release: str, values: dict[str, Any]) -> dict:
    agent, host = values["agent"], values["agent"]["host"]
    repo = agent["image"]["fullRepository" if agent.get("full") else "repository"]
    env: list[dict[str, Any]] = [
        {"name": "AGENT_NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "DISCOVERY_HANDLERS_DIRECTORY", "value": "/var/lib/akri"},
    ]
    mounts = [
        ("discovery-handlers", host["discoveryHandlers"], "/var/lib/akri"),
        ("device-plugin", host["kubeletDevicePlugins"], "/var/lib/kubelet/device-plugins"),
    ]
    security: dict[str, Any] = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    if chart.legacy_crictl:
        sockets = {
            "microk8s": "/var/snap/microk8s/common/run/containerd.sock",
            "k3s": "/run/k3s/containerd/containerd.sock",
        }
        sock = sockets.get(values.get("kubernetesDistro"), "/run/containerd/containerd.sock")
        mounts.append(("var-run-dockershim", sock, "/host/run/containerd/containerd.sock"))
        env.insert(0, {"name": "HOST_CRICTL_PATH", "value": "/usr/local/bin/crictl"})
        security = {"privileged": True}
    else:
        mounts.append(
            ("pod-resources", host["kubeletPodResources"], "/var/lib/kubelet/pod-resources")
        )
    vmounts, vols = host_volumes(mounts)
    image = image_ref(chart, values, repo, agent["image"].get("tag"))
    container = _container(
        "akri-agent", agent, image, securityContext=security, env=env, volumeMounts=vmounts
    )
    pod = {"serviceAccountName": "akri-agent-sa", "containers": [container], "volumes": vols}
    labels = chart_labels(chart, release, "akri-agent", "agent")
    return workload("DaemonSet", "akri-agent-daemonset", labels, pod)


def _controller(chart: ChartVersion, release: str, values: dict[str, Any]) -> dict:
    ctl = values["controller"]
    image = image_ref(chart, values, ctl["image"]["repository"], ctl["image"].get("tag"))
    container = _container("akri-controller", ctl, image)
    pod = {
        "serviceAccountName": "akri-controller-sa",
        "containers": [container],
        "tolerations": [{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}],
    }
    labels = chart_labels(chart, release, "akri-controller", "controller")
    return workload("Deployment", "akri-controller-deployment", labels, pod)


def _udev_discovery(chart: ChartVersion, release: str, values: dict[str, Any]) -> dict:
    dh = values["udev"]["discovery"]
    image = image_ref(chart, values, dh["image"]["repository"], dh["image"].get("tag"))
    mounts = [("discovery-handlers", values["agent"]["host"]["discoveryHandlers"], "/var/lib/akri")]
    if dh.get("host", {}).get("udev"):
        mounts.append(("devices", dh["host"]["udev"], "/run/udev"))
    vmounts, vols = host_volumes(mounts)
    env = [{"name": "DISCOVERY_HANDLERS_DIRECTORY", "value": "/var/lib/akri"}]
    container = _container("akri-udev-discovery", dh, image, env=env, volumeMounts=vmounts)
    labels = chart_labels(chart, release, "akri-udev-discovery", "discovery-handler")
    pod = {"containers": [container], "volumes": vols}
    return workload("DaemonSet", "akri-udev-discovery-daemonset", labels, pod)


def render(
    chart: ChartVersion, release: str, namespace: str, values: dict[str, Any]
) -> list[dict[str, Any]]:
    """All templated objects of a release (CRDs excluded); raises RenderError."""
    out: list[dict[str, Any]] = []
    if values["rbac"].get("enabled"):
        out += rbac_objects(chart, release, namespace)
    if values["agent"].get("enabled"):
        out.append(_agent(chart, release, values))
    if values["controller"].get("enabled"):
        out.append(_controller(chart, release, values))
    if values["udev"]["discovery"].get("enabled"):
        out.append(_udev_discovery(chart, release, values))
    if values["webhookConfiguration"].get("enabled"):
        out += webhook_objects(chart, release, namespace, values)
    config = udev_configuration(chart, values)
    if config is not None:
        out.append(config)
    return out
