"""What the twin's API server does to an object on its way in: defaulting, then validation.

Every create goes through `admit_create`, whoever writes (the HTTP API, kubectl, Helm, the twin's
controllers and Akri), as every write on a real cluster goes through kube-apiserver
(docs/facts.md#api-defaults-validation). Pods get the scheme defaults (`restartPolicy: Always`,
`dnsPolicy: ClusterFirst`, `terminationGracePeriodSeconds: 30`, ...), what the ServiceAccount,
DefaultTolerationSeconds and Priority admission plugins add (`serviceAccountName: default`, the
`kube-api-access-*` projected volume, the `not-ready`/`unreachable` tolerations for 300 s,
`priority`), requests defaulted from limits, and a fresh `status: {phase: Pending, qosClass}`.
Validation refuses what the real server refuses with 422 Invalid, worded as it words it: names that
are not DNS names, a pod without containers, a container without name or image, a privileged
container while the apiserver runs without `--allow-privileged=true`
(docs/facts.md#allow-privileged). Other kinds are stored as given: their defaults are not modelled
(a question for the facts where a check would depend on them).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

from twin.kubeapi.kinds import Resource
from twin.kubeapi.meta import suffix

TOKEN_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
TOLERATION_SECONDS = 300  # DefaultTolerationSeconds admission plugin
_PRIORITIES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
# apimachinery's validation texts, verbatim (the double space is theirs)
_SUBDOMAIN_TEXT = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    f"for validation is '{_SUBDOMAIN.pattern}')"
)
_LABEL_TEXT = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    f"used for validation is '{_LABEL.pattern}')"
)
_DNS1035_TEXT = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    f"'abc-123', regex used for validation is '{_DNS1035.pattern}')"
)
_RBAC_KINDS = ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")


class Invalid(ValueError):
    """The object is malformed: the API server's 422 with one cause per field."""

    def __init__(
        self, message: str, causes: list[dict] | None = None, kind: str = "", name: str = ""
    ) -> None:
        super().__init__(message)
        self.causes, self.kind, self.name = causes or [], kind, name


@dataclass
class Policy:
    """The apiserver flags admission depends on (read from its args file when it starts)."""

    allow_privileged: bool = True


def qos_class(pod: dict) -> str:
    """Guaranteed, Burstable or BestEffort from the containers' cpu/memory requests and limits."""
    guaranteed, any_set = True, False
    for container in pod["spec"].get("containers", []):
        resources = container.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        for res in ("cpu", "memory"):
            any_set = any_set or res in requests or res in limits
            if res not in limits or requests.get(res, limits[res]) != limits[res]:
                guaranteed = False
    if guaranteed and any_set:
        return "Guaranteed"
    return "Burstable" if any_set else "BestEffort"


def _cause(reason: str, field: str, message: str) -> dict:
    return {"reason": reason, "message": message, "field": field}


def _invalid_value(field: str, value: str, why: str) -> dict:
    return _cause("FieldValueInvalid", field, f'Invalid value: "{value}": {why}')


def _name_causes(kind: str, name: str) -> list[dict]:
    if kind in _RBAC_KINDS:  # path segment names: system:controller:... is fine
        bad = name in (".", "..") or "/" in name or "%" in name
        why = "may not contain '/' or '%'" if bad and name not in (".", "..") else "may not be '.'"
        return [_invalid_value("metadata.name", name, why)] if bad else []
    pattern, text, limit = _SUBDOMAIN, _SUBDOMAIN_TEXT, 253
    if kind == "Namespace":
        pattern, text, limit = _LABEL, _LABEL_TEXT, 63
    elif kind == "Service":
        pattern, text, limit = _DNS1035, _DNS1035_TEXT, 63
    causes = []
    if len(name) > limit:
        causes.append(
            _invalid_value("metadata.name", name, f"must be no more than {limit} characters")
        )
    if not pattern.fullmatch(name):
        causes.append(_invalid_value("metadata.name", name, text))
    return causes


def _container_causes(spec: dict, policy: Policy) -> list[dict]:
    causes: list[dict] = []
    if not spec.get("containers"):
        causes.append(_cause("FieldValueRequired", "spec.containers", "Required value"))
    for key in ("initContainers", "containers"):
        seen: set[str] = set()
        for i, container in enumerate(spec.get(key) or []):
            path = f"spec.{key}[{i}]"
            name = container.get("name") or ""
            if not name:
                causes.append(_cause("FieldValueRequired", f"{path}.name", "Required value"))
            elif not _LABEL.fullmatch(name):
                causes.append(_invalid_value(f"{path}.name", name, _LABEL_TEXT))
            elif name in seen:
                causes.append(
                    _cause("FieldValueDuplicate", f"{path}.name", f'Duplicate value: "{name}"')
                )
            seen.add(name)
            if not container.get("image"):
                causes.append(_cause("FieldValueRequired", f"{path}.image", "Required value"))
            privileged = (container.get("securityContext") or {}).get("privileged")
            if privileged and not policy.allow_privileged:
                causes.append(
                    _cause(
                        "FieldValueForbidden",
                        f"{path}.securityContext.privileged",
                        "Forbidden: disallowed by cluster policy",
                    )
                )
    return causes


def _raise_if(causes: list[dict], kind: str, name: str) -> None:
    if not causes:
        return
    texts = [f"{c['field']}: {c['message']}" for c in causes]
    detail = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    raise Invalid(f'{kind} "{name}" is invalid: {detail}', causes, kind, name)


def validate_name(kind: str, name: str) -> None:
    """Refuse a metadata.name the kind does not accept (422)."""
    _raise_if(_name_causes(kind, name), kind, name)


def _default_tolerations(spec: dict) -> None:
    tolerations = spec.setdefault("tolerations", [])
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if any(t.get("key") == key and t.get("effect") in (None, "NoExecute") for t in tolerations):
            continue
        tolerations.append(
            {
                "key": key,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": TOLERATION_SECONDS,
            }
        )


def _token_volume() -> dict:
    """The projected service-account token volume the ServiceAccount admission plugin adds."""
    sources = [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {
            "downwardAPI": {
                "items": [
                    {
                        "path": "namespace",
                        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                    }
                ]
            }
        },
    ]
    projected = {"sources": sources, "defaultMode": 420}
    return {"name": f"kube-api-access-{suffix()}", "projected": projected}


def _default_container(container: dict, mount: dict | None) -> None:
    image = container.get("image", "")
    tagged = ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest")
    container.setdefault("imagePullPolicy", "IfNotPresent" if tagged or "@" in image else "Always")
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    resources = container.setdefault("resources", {})
    limits = resources.get("limits") or {}
    if limits:
        resources["requests"] = {**limits, **(resources.get("requests") or {})}
    for port in container.get("ports") or []:
        port.setdefault("protocol", "TCP")
    if mount is not None:
        mounts = container.setdefault("volumeMounts", [])
        if not any(m.get("mountPath") == TOKEN_MOUNT for m in mounts):
            mounts.append(dict(mount))


def default_pod(pod: dict) -> dict:
    """The pod as the API server stores it at creation: defaults, admission, Pending."""
    pod = copy.deepcopy(pod)
    spec = pod.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
    spec["serviceAccount"] = spec["serviceAccountName"]
    spec.setdefault("priority", _PRIORITIES.get(spec.get("priorityClassName", ""), 0))
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    _default_tolerations(spec)
    mount = None
    if spec.get("automountServiceAccountToken") is not False:
        volumes = spec.setdefault("volumes", [])
        if not any(v.get("name", "").startswith("kube-api-access-") for v in volumes):
            volume = _token_volume()
            volumes.append(volume)
            mount = {"name": volume["name"], "readOnly": True, "mountPath": TOKEN_MOUNT}
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or []:
            _default_container(container, mount)
    pod["status"] = {"phase": "Pending", "qosClass": qos_class(pod)}
    return pod


def admit_create(obj: dict, res: Resource, policy: Policy) -> dict:
    """Default and validate a new object; raise Invalid (422) as the real server would."""
    name = obj["metadata"]["name"]
    causes = _name_causes(res.kind, name)
    if res.kind == "Pod":
        obj = default_pod(obj)
        causes += _container_causes(obj["spec"], policy)
    _raise_if(causes, res.kind, name)
    return obj
