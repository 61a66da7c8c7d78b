"""The Akri chart's templates, rendered into objects from coalesced values.

Follows deployment/helm/templates at the facts' snapshot (akri-facts 1.2, 2.3): every object
carries the common labels (`app.kubernetes.io/part-of: akri`, instance, version, managed-by,
`helm.sh/chart`) plus its component's name/component labels; images come from
`image_ref` (F8: `latest-dev` only with `useLatestContainers`). The udev Configuration exists only
when `udev.configuration.enabled` is true and then requires a udev rule, as the chart's
`required` does. Workloads carry the defaults the API server would add, so clients that
validate complete objects accept them.
"""

from __future__ import annotations

from typing import Any

import yaml

from twin.charts import ChartVersion

UDEV_RULE_REQUIRED = (
    "Please set at least one udev rule with `--set udev.configuration.discoveryDetails."
    'udevRules[0]=="<udev rule>"\' to specify what you want discovered. See the udev '
    "Configuration document at https://docs.akri.sh/discovery-handlers/udev for more information."
)


class RenderError(Exception):
    """A template failed (`required`), with Helm's `execution error at (...)` text."""


def udev_configuration(chart: ChartVersion, values: dict[str, Any]) -> dict[str, Any] | None:
    """templates/udev-configuration.yaml: the Configuration, or None when not enabled."""
    cfg = values["udev"]["configuration"]
    if not cfg.get("enabled"):
        return None
    details = cfg.get("discoveryDetails") or {}
    rules = details.get("udevRules")
    if rules is None or rules == "":
        line = 12 if chart.has_permissions else 11
        raise RenderError(
            f"execution error at ({chart.name}/templates/udev-configuration.yaml:{line}:10): "
            + UDEV_RULE_REQUIRED
        )
    text = f"groupRecursive: {_go_bool(details.get('groupRecursive'))}\n"
    text += yaml.safe_dump({"udevRules": rules}, default_flow_style=False, width=10000)
    if chart.has_permissions:
        text += f"permissions: {details.get('permissions')}\n"
    name = cfg.get("name")
    spec: dict[str, Any] = {"discoveryHandler": {"name": "udev", "discoveryDetails": text}}
    pod = cfg.get("brokerPod") or {}
    image = pod.get("image") or {}
    if image.get("repository"):
        res = pod.get("resources") or {}
        container: dict[str, Any] = {
            "name": f"{name}-broker",
            "image": f"{image['repository']}:{image.get('tag')}",
        }
        if image.get("pullPolicy"):
            container["imagePullPolicy"] = image["pullPolicy"]
        if pod.get("env"):
            container["env"] = [{"name": k, "value": str(v)} for k, v in sorted(pod["env"].items())]
        container["securityContext"] = pod.get("securityContext") or {"privileged": True}
        container["resources"] = {
            "requests": {
                "{{PLACEHOLDER}}": "1",
                "memory": res.get("memoryRequest"),
                "cpu": res.get("cpuRequest"),
            },
            "limits": {
                "{{PLACEHOLDER}}": "1",
                "memory": res.get("memoryLimit"),
                "cpu": res.get("cpuLimit"),
            },
        }
        spec["brokerSpec"] = {"brokerPodSpec": {"containers": [container]}}
        for flag, key, spec_key in (
            ("createInstanceServices", "instanceService", "instanceServiceSpec"),
            ("createConfigurationService", "configurationService", "configurationServiceSpec"),
        ):
            if cfg.get(flag):
                svc = cfg.get(key) or {}
                port = {k: svc.get(v) for k, v in (("name", "portName"), ("port", "port"))}
                port.update(protocol=svc.get("protocol"), targetPort=svc.get("targetPort"))
                spec[spec_key] = {"type": svc.get("type"), "ports": [port]}
    props = cfg.get("brokerProperties") or {}
    spec["brokerProperties"] = {str(k): str(v) for k, v in props.items()}
    spec["capacity"] = cfg.get("capacity")
    return {
        "apiVersion": "akri.sh/v0",
        "kind": "Configuration",
        "metadata": {"name": name},
        "spec": spec,
    }


def _go_bool(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def image_ref(chart: ChartVersion, values: dict[str, Any], repository: str, tag: Any) -> str:
    """The image reference every component template computes (F8: latest-dev when asked)."""
    if tag:
        return f"{repository}:{tag}"
    dev = values.get("useDevelopmentContainers")
    if values.get("useLatestContainers"):
        return f"{repository}:{'latest-dev' if dev else 'latest'}"
    return f"{repository}:v{chart.app_version}{'-dev' if dev else ''}"


def _labels(chart: ChartVersion, release: str, name: str, component: str) -> dict[str, str]:
    return {
        "helm.sh/chart": chart.label,
        "app.kubernetes.io/part-of": "akri",
        "app.kubernetes.io/instance": release,
        "app.kubernetes.io/version": chart.app_version,
        "app.kubernetes.io/managed-by": "Helm",
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": component,
    }


def _container(name: str, image: str, pull: str, res: dict[str, str], **extra: Any) -> dict:
    out: dict[str, Any] = {"name": name, "image": image}
    if pull:
        out["imagePullPolicy"] = pull
    out["resources"] = {
        "requests": {"memory": res["memoryRequest"], "cpu": res["cpuRequest"]},
        "limits": {"memory": res["memoryLimit"], "cpu": res["cpuLimit"]},
    }
    out.update(extra)
    return out


def _workload(kind: str, name: str, labels: dict[str, str], pod: dict[str, Any]) -> dict:
    """A DaemonSet or Deployment with the API server's defaults filled in."""
    selector = {k: labels[k] for k in ("app.kubernetes.io/part-of", "app.kubernetes.io/instance")}
    selector["app.kubernetes.io/name"] = labels["app.kubernetes.io/name"]
    pod = {
        "restartPolicy": "Always",
        "dnsPolicy": "ClusterFirst",
        "schedulerName": "default-scheduler",
        "terminationGracePeriodSeconds": 30,
        "nodeSelector": {"kubernetes.io/os": "linux"},
        **pod,
    }
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector},
        "template": {"metadata": {"labels": dict(labels)}, "spec": pod},
        "revisionHistoryLimit": 10,
    }
    if kind == "DaemonSet":
        rolling = {"maxUnavailable": 1, "maxSurge": 0}
        spec["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": rolling}
    else:
        rolling = {"maxUnavailable": "25%", "maxSurge": "25%"}
        spec.update(replicas=1, progressDeadlineSeconds=600)
        spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": rolling}
    api = "apps/v1"
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "labels": labels},
        "spec": spec,
    }


def _host_volumes(mounts: list[tuple[str, str, str]]) -> tuple[list[dict], list[dict]]:
    vols = [{"name": n, "hostPath": {"path": host}} for n, host, _ in mounts]
    return [{"name": n, "mountPath": path} for n, _, path in mounts], vols


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
    vmounts, vols = _host_volumes(mounts)
    image = image_ref(chart, values, repo, agent["image"].get("tag"))
    container = _container(
        "akri-agent",
        image,
        agent["image"].get("pullPolicy"),
        agent["resources"],
        securityContext=security,
        env=env,
        volumeMounts=vmounts,
    )
    pod = {"serviceAccountName": "akri-agent-sa", "containers": [container], "volumes": vols}
    labels = _labels(chart, release, "akri-agent", "agent")
    return _workload("DaemonSet", "akri-agent-daemonset", labels, pod)


def _controller(chart: ChartVersion, release: str, values: dict[str, Any]) -> dict:
    ctl = values["controller"]
    image = image_ref(chart, values, ctl["image"]["repository"], ctl["image"].get("tag"))
    container = _container(
        "akri-controller", image, ctl["image"].get("pullPolicy"), ctl["resources"]
    )
    pod = {
        "serviceAccountName": "akri-controller-sa",
        "containers": [container],
        "tolerations": [{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}],
    }
    labels = _labels(chart, release, "akri-controller", "controller")
    return _workload("Deployment", "akri-controller-deployment", labels, pod)


def _udev_discovery(chart: ChartVersion, release: str, values: dict[str, Any]) -> dict:
    dh = values["udev"]["discovery"]
    image = image_ref(chart, values, dh["image"]["repository"], dh["image"].get("tag"))
    mounts = [("discovery-handlers", values["agent"]["host"]["discoveryHandlers"], "/var/lib/akri")]
    if dh.get("host", {}).get("udev"):
        mounts.append(("devices", dh["host"]["udev"], "/run/udev"))
    vmounts, vols = _host_volumes(mounts)
    env = [{"name": "DISCOVERY_HANDLERS_DIRECTORY", "value": "/var/lib/akri"}]
    container = _container(
        "akri-udev-discovery",
        image,
        dh["image"].get("pullPolicy"),
        dh["resources"],
        env=env,
        volumeMounts=vmounts,
    )
    labels = _labels(chart, release, "akri-udev-discovery", "discovery-handler")
    pod = {"containers": [container], "volumes": vols}
    return _workload("DaemonSet", "akri-udev-discovery-daemonset", labels, pod)


def _rule(group: str, resources: str, verbs: str) -> dict[str, list[str]]:
    return {"apiGroups": [group], "resources": resources.split(), "verbs": verbs.split()}


def _rbac(chart: ChartVersion, release: str, namespace: str) -> list[dict]:
    """templates/rbac.yaml: a ServiceAccount, ClusterRole and binding per component."""
    read, write = "get list watch", " create update patch delete"
    rules = {
        "controller": [
            _rule("", "pods services", read + write),
            _rule("", "nodes", read),
            _rule("akri.sh", "instances", read + " update patch"),
            _rule("akri.sh", "configurations", read),
        ],
        "agent": [
            _rule("", "pods", read),
            _rule("akri.sh", "instances", read + write),
            _rule("akri.sh", "configurations", read),
        ],
    }
    out: list[dict] = []
    rbac = "rbac.authorization.k8s.io"
    for comp in ("controller", "agent"):
        labels = _labels(chart, release, f"akri-{comp}", comp)
        sa = {"kind": "ServiceAccount", "name": f"akri-{comp}-sa", "namespace": namespace}
        role = f"akri-{comp}-role"
        out.append(
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(sa["name"], labels)}
        )
        out.append(
            {
                "apiVersion": f"{rbac}/v1",
                "kind": "ClusterRole",
                "metadata": _meta(role, labels),
                "rules": rules[comp],
            }
        )
        out.append(
            {
                "apiVersion": f"{rbac}/v1",
                "kind": "ClusterRoleBinding",
                "metadata": _meta(f"akri-{comp}-binding", labels),
                # The chart writes apiGroup '' and the API server defaults it.
                "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": role},
                "subjects": [sa],
            }
        )
    return out


def _meta(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"name": name, "labels": dict(labels)}


def _webhook(chart: ChartVersion, release: str, namespace: str, values: dict[str, Any]) -> list:
    """templates/webhook-configuration.yaml: the admission webhook for Configurations."""
    wh = values["webhookConfiguration"]
    name, rbac = wh["name"], "rbac.authorization.k8s.io"
    labels = _labels(chart, release, name, "admission-webhook")
    image = image_ref(chart, values, wh["image"]["repository"], wh["image"].get("tag"))
    args = ["--tls-crt-file=/secrets/tls.crt", "--tls-key-file=/secrets/tls.key", "--port=8443"]
    container = _container(
        "webhook", image, wh["image"].get("pullPolicy"), wh["resources"], command=["/server"],
        args=args, volumeMounts=[{"name": "secrets", "mountPath": "/secrets", "readOnly": True}],
    )  # fmt: skip
    pod = {
        "serviceAccountName": name,
        "containers": [container],
        "volumes": [{"name": "secrets", "secret": {"secretName": name}}],
        "tolerations": [{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}],
    }
    deployment = _workload("Deployment", name, labels, pod)
    selector = deployment["spec"]["selector"]["matchLabels"]
    client: dict[str, Any] = {
        "service": {"name": name, "namespace": namespace, "port": 443, "path": "/validate"}
    }
    if wh.get("caBundle"):
        client["caBundle"] = wh["caBundle"]
    rule = {"operations": ["CREATE", "UPDATE"], "apiGroups": ["akri.sh"], "apiVersions": ["v0"],
            "resources": ["configurations"], "scope": "*"}  # fmt: skip
    hook = {
        "name": f"{name}.{namespace}.svc",
        "clientConfig": client,
        "rules": [rule],
        "admissionReviewVersions": ["v1", "v1beta1"],
        "sideEffects": "None",
        # Not set by the chart: the API default applies (akri-facts 2.3).
        "failurePolicy": "Fail",
        "matchPolicy": "Equivalent",
        "timeoutSeconds": 10,
    }
    port = {"name": "http", "port": 443, "targetPort": 8443, "protocol": "TCP"}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(name, labels)},
        {"apiVersion": f"{rbac}/v1", "kind": "Role", "metadata": _meta(name, labels),
         "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
        {"apiVersion": f"{rbac}/v1", "kind": "RoleBinding", "metadata": _meta(name, labels),
         "roleRef": {"apiGroup": rbac, "kind": "Role", "name": name},
         "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]},
        deployment,
        {"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, labels),
         "spec": {"type": "ClusterIP", "selector": selector, "ports": [port]}},
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
         "metadata": _meta(name, labels), "webhooks": [hook]},
    ]  # fmt: skip


def render(
    chart: ChartVersion, release: str, namespace: str, values: dict[str, Any]
) -> list[dict[str, Any]]:
    """All templated objects of a release (CRDs excluded); raises RenderError."""
    out: list[dict[str, Any]] = []
    if values["rbac"].get("enabled"):
        out += _rbac(chart, release, namespace)
    if values["agent"].get("enabled"):
        out.append(_agent(chart, release, values))
    if values["controller"].get("enabled"):
        out.append(_controller(chart, release, values))
    if values["udev"]["discovery"].get("enabled"):
        out.append(_udev_discovery(chart, release, values))
    if values["webhookConfiguration"].get("enabled"):
        out += _webhook(chart, release, namespace, values)
    config = udev_configuration(chart, values)
    if config is not None:
        out.append(config)
    return out
