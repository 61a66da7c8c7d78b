"""The REST resources the twin's API server knows: built-in kinds and CRD-defined kinds.

A `Resource` says where a kind is served (group, version, plural), whether it is namespaced,
how discovery names it (shortNames, categories) and which fields a field selector may use.
Built-in kinds are a fixed table with kube-apiserver 1.34's discovery names and selectable
fields; custom kinds (Akri's Configuration and Instance) are derived from a stored
CustomResourceDefinition, with the names the CRD declares, so they exist exactly while their
CRD does.
"""

from __future__ import annotations

from dataclasses import dataclass


class FieldLabelUnsupported(ValueError):
    """A field selector names a field the resource does not index (the server's 400)."""


@dataclass(frozen=True)
class Resource:
    """One REST resource: where it is served, what kind it holds, how discovery names it."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    field_labels: tuple[str, ...] = ()  # selectable beyond metadata.name and .namespace
    custom: bool = False

    @property
    def api_version(self) -> str:
        """The apiVersion field of its objects: "v1", "apps/v1", "akri.sh/v0"."""
        return f"{self.group}/{self.version}" if self.group else self.version

    def check_field_selector(self, selector: str | None) -> None:
        """Raise FieldLabelUnsupported, worded as the real server does, for an unknown field."""
        allowed = ("metadata.name", "metadata.namespace", *self.field_labels)
        for requirement in (selector or "").split(","):
            label = requirement.split("!=")[0].split("=")[0].strip()
            if not label or label in allowed:
                continue
            if self.custom:  # apiextensions-apiserver words it differently
                only = ", ".join(f'"{f}"' for f in allowed)
                raise FieldLabelUnsupported(f'"{label}" is not a known field selector: only {only}')
            raise FieldLabelUnsupported(f"field label not supported: {label}")


_RBAC = "rbac.authorization.k8s.io"
CRD = "CustomResourceDefinition"
_POD_FIELDS = (
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
)
_PHASE = ("status.phase",)
_EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "type",
)


def _r(group: str, plural: str, kind: str, namespaced: bool = True, **extra) -> Resource:
    return Resource(group, "v1", plural, kind, namespaced, **extra)


#: in discovery order: groups as /apis lists them, resources alphabetically within a group
RESOURCES: dict[str, Resource] = {
    r.kind: r
    for r in (
        _r("", "configmaps", "ConfigMap", short_names=("cm",)),
        _r("", "endpoints", "Endpoints", short_names=("ep",)),
        _r("", "events", "Event", short_names=("ev",), field_labels=_EVENT_FIELDS),
        _r("", "namespaces", "Namespace", False, short_names=("ns",), field_labels=_PHASE),
        _r("", "nodes", "Node", False, short_names=("no",), field_labels=("spec.unschedulable",)),
        _r("", "pods", "Pod", short_names=("po",), categories=("all",), field_labels=_POD_FIELDS),
        _r("", "secrets", "Secret", field_labels=("type",)),
        _r("", "serviceaccounts", "ServiceAccount", short_names=("sa",)),
        _r(
            "",
            "services",
            "Service",
            short_names=("svc",),
            categories=("all",),
            field_labels=("spec.clusterIP", "spec.type"),
        ),
        _r("apps", "daemonsets", "DaemonSet", short_names=("ds",), categories=("all",)),
        _r("apps", "deployments", "Deployment", short_names=("deploy",), categories=("all",)),
        _r(
            "apps",
            "replicasets",
            "ReplicaSet",
            short_names=("rs",),
            categories=("all",),
            field_labels=("status.replicas",),
        ),
        _r("batch", "jobs", "Job", categories=("all",), field_labels=("status.successful",)),
        _r(_RBAC, "clusterrolebindings", "ClusterRoleBinding", False),
        _r(_RBAC, "clusterroles", "ClusterRole", False),
        _r(_RBAC, "rolebindings", "RoleBinding"),
        _r(_RBAC, "roles", "Role"),
        _r(
            "admissionregistration.k8s.io",
            "validatingwebhookconfigurations",
            "ValidatingWebhookConfiguration",
            False,
        ),
        _r(
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            CRD,
            False,
            short_names=("crd", "crds"),
            categories=("api-extensions",),
        ),
    )
}


def crd_resource(crd: dict, version: str | None = None) -> Resource | None:
    """The Resource a CRD serves: its storage version, or `version` if that one is served.

    Discovery names come from `status.acceptedNames` (what the API server accepted), else from
    `spec.names`, as apiextensions-apiserver publishes them.
    """
    spec = crd.get("spec") or {}
    names = (crd.get("status") or {}).get("acceptedNames") or spec.get("names") or {}
    served = [v for v in spec.get("versions") or [] if v.get("served", True)]
    if version is not None:
        served = [v for v in served if v.get("name") == version]
    if not served or not names.get("kind") or not names.get("plural"):
        return None
    chosen = next((v for v in served if v.get("storage")), served[0])
    return Resource(
        spec.get("group", ""),
        chosen["name"],
        names["plural"],
        names["kind"],
        spec.get("scope", "Namespaced") == "Namespaced",
        short_names=tuple(names.get("shortNames") or ()),
        categories=tuple(names.get("categories") or ()),
        custom=True,
    )


def crd_resources(crd: dict) -> list[Resource]:
    """Every Resource a CRD serves, one per served version."""
    versions = (crd.get("spec") or {}).get("versions") or []
    found = (crd_resource(crd, v.get("name")) for v in versions)
    return [res for res in found if res is not None]
