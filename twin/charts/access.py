"""The Akri chart's access control and admission: templates/rbac.yaml, webhook-configuration.yaml.

A ServiceAccount, ClusterRole and binding for the controller and the agent; the admission
webhook that validates Configurations (its Deployment, Service, RBAC and the
ValidatingWebhookConfiguration, all named `webhookConfiguration.name`,
docs/facts.md#akri-components).
"""

from __future__ import annotations

from typing import Any

from twin.charts.catalogue import ChartVersion
from twin.charts.objects import chart_labels, component_container, image_ref, meta, workload


def _rule(group: str, resources: str, verbs: str) -> dict[str, list[str]]:
    return {"apiGroups": [group], "resources": resources.split(), "verbs": verbs.split()}


def rbac_objects(chart: ChartVersion, release: str, namespace: str) -> list[dict]:
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
        labels = chart_labels(chart, release, f"akri-{comp}", comp)
        sa = {"kind": "ServiceAccount", "name": f"akri-{comp}-sa", "namespace": namespace}
        role = f"akri-{comp}-role"
        out.append(
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(sa["name"], labels)}
        )
        out.append(
            {
                "apiVersion": f"{rbac}/v1",
                "kind": "ClusterRole",
                "metadata": meta(role, labels),
                "rules": rules[comp],
            }
        )
        out.append(
            {
                "apiVersion": f"{rbac}/v1",
                "kind": "ClusterRoleBinding",
                "metadata": meta(f"akri-{comp}-binding", labels),
                # The chart writes apiGroup '' and the API server defaults it.
                "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": role},
                "subjects": [sa],
            }
        )
    return out


def webhook_objects(
    chart: ChartVersion, release: str, namespace: str, values: dict[str, Any]
) -> list:
    """templates/webhook-configuration.yaml: the admission webhook for Configurations."""
    wh = values["webhookConfiguration"]
    name, rbac = wh["name"], "rbac.authorization.k8s.io"
    labels = chart_labels(chart, release, name, "admission-webhook")
    image = image_ref(chart, values, wh["image"]["repository"], wh["image"].get("tag"))
    args = ["--tls-crt-file=/secrets/tls.crt", "--tls-key-file=/secrets/tls.key", "--port=8443"]
    container = component_container(
        "webhook", image, wh["image"].get("pullPolicy"), wh["resources"], command=["/server"],
        args=args, volumeMounts=[{"name": "secrets", "mountPath": "/secrets", "readOnly": True}],
    )  # fmt: skip
    pod = {
        "serviceAccountName": name,
        "containers": [container],
        "volumes": [{"name": "secrets", "secret": {"secretName": name}}],
        "tolerations": [{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}],
    }
    deployment = workload("Deployment", name, labels, pod)
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
        # Not set by the chart: the API default applies (docs/facts.md#akri-webhook).
        "failurePolicy": "Fail",
        "matchPolicy": "Equivalent",
        "timeoutSeconds": 10,
    }
    port = {"name": "http", "port": 443, "targetPort": 8443, "protocol": "TCP"}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(name, labels)},
        {"apiVersion": f"{rbac}/v1", "kind": "Role", "metadata": meta(name, labels),
         "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
        {"apiVersion": f"{rbac}/v1", "kind": "RoleBinding", "metadata": meta(name, labels),
         "roleRef": {"apiGroup": rbac, "kind": "Role", "name": name},
         "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]},
        deployment,
        {"apiVersion": "v1", "kind": "Service", "metadata": meta(name, labels),
         "spec": {"type": "ClusterIP", "selector": selector, "ports": [port]}},
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
         "metadata": meta(name, labels), "webhooks": [hook]},
    ]  # fmt: skip
