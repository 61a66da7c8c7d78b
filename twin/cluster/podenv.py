"""The environment of a process in a pod's container, as `kubectl exec ... printenv` shows it.

Built the way the kubelet and the runtime build it: image defaults (PATH, HOME), HOSTNAME,
Docker-link style variables for the Services of the pod's namespace (enableServiceLinks) and the
`kubernetes` master service, then the container's `envFrom` and `env` (with `valueFrom` field,
ConfigMap and Secret references resolved from the store), then what a device plugin injects through
CDI (Akri's UDEV_DEVNODE_<HASH>, docs/facts.md#broker-environment), which the runtime applies last.
"""

from __future__ import annotations

import base64

from twin.kubeapi.store import ObjectStore

IMAGE_DEFAULTS = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
}


def _service_links(service: dict) -> dict[str, str]:
    spec = service.get("spec") or {}
    ip = spec.get("clusterIP")
    ports = spec.get("ports") or []
    if not ip or ip == "None" or not ports:
        return {}
    prefix = service["metadata"]["name"].upper().replace("-", "_")
    first = ports[0]
    env = {
        f"{prefix}_SERVICE_HOST": ip,
        f"{prefix}_SERVICE_PORT": str(first["port"]),
        f"{prefix}_PORT": f"{first.get('protocol', 'TCP').lower()}://{ip}:{first['port']}",
    }
    for port in ports:
        proto = port.get("protocol", "TCP")
        if port.get("name"):
            name = port["name"].upper().replace("-", "_")
            env[f"{prefix}_SERVICE_PORT_{name}"] = str(port["port"])
        base = f"{prefix}_PORT_{port['port']}_{proto}"
        env[base] = f"{proto.lower()}://{ip}:{port['port']}"
        env[f"{base}_PROTO"] = proto.lower()
        env[f"{base}_PORT"] = str(port["port"])
        env[f"{base}_ADDR"] = ip
    return env


def _field(pod: dict, path: str) -> str:
    node: object = pod
    for part in path.replace("']", "").replace("['", ".").split("."):
        if not isinstance(node, dict):
            return ""
        node = node.get(part, "")
    return "" if node is None else str(node)


def _key_ref(store: ObjectStore, kind: str, namespace: str, ref: dict) -> str | None:
    obj = store.get(kind, namespace, ref.get("name", ""))
    if obj is None:
        return None
    if kind == "Secret":
        raw = (obj.get("data") or {}).get(ref.get("key", ""))
        if raw is not None:
            return base64.b64decode(raw).decode(errors="replace")
        return (obj.get("stringData") or {}).get(ref.get("key", ""))
    return (obj.get("data") or {}).get(ref.get("key", ""))


def _value(store: ObjectStore, pod: dict, var: dict) -> str | None:
    if "value" in var:
        return str(var["value"])
    source = var.get("valueFrom") or {}
    namespace = pod["metadata"].get("namespace", "default")
    if "fieldRef" in source:
        return _field(pod, source["fieldRef"].get("fieldPath", ""))
    if "configMapKeyRef" in source:
        return _key_ref(store, "ConfigMap", namespace, source["configMapKeyRef"])
    if "secretKeyRef" in source:
        return _key_ref(store, "Secret", namespace, source["secretKeyRef"])
    return "" if not source else None


def pod_environment(
    store: ObjectStore, pod: dict, container: str, services: list[dict], injected: dict[str, str]
) -> dict[str, str]:
    """The environment variables of `container` in `pod`."""
    spec = pod["spec"]
    env = dict(IMAGE_DEFAULTS)
    env["HOSTNAME"] = spec.get("hostname") or pod["metadata"]["name"]
    for service in services:
        is_master = service["metadata"]["name"] == "kubernetes"
        if is_master or spec.get("enableServiceLinks", True):
            env.update(_service_links(service))
    c = next(c for c in spec.get("containers", []) if c["name"] == container)
    namespace = pod["metadata"].get("namespace", "default")
    for source in c.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            if key in source:
                obj = store.get(kind, namespace, source[key].get("name", "")) or {}
                for name, value in (obj.get("data") or {}).items():
                    text = (
                        base64.b64decode(value).decode(errors="replace")
                        if kind == "Secret"
                        else value
                    )
                    env[prefix + name] = text
    for var in c.get("env") or []:
        value = _value(store, pod, var)
        if value is not None:
            env[var["name"]] = value
    env.update(injected)
    return env
