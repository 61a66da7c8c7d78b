"""The REST resources the twin's API server knows: built-in kinds and CRD-defined kinds.

A `Resource` says where a kind is served (group, version, plural) and whether it is
namespaced. Built-in kinds are a fixed table; custom kinds (Akri's Configuration and Instance)
are derived from a stored CustomResourceDefinition, so they exist exactly while their CRD does.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Resource:
    """One REST resource: where it is served and what kind it holds."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        """The apiVersion field of its objects: "v1", "apps/v1", "akri.sh/v0"."""
        return f"{self.group}/{self.version}" if self.group else self.version


def _table(group: str, version: str, namespaced: bool, *kinds: tuple[str, str]) -> dict:
    return {kind: Resource(group, version, plural, kind, namespaced) for kind, plural in kinds}


_RBAC = "rbac.authorization.k8s.io"
CRD = "CustomResourceDefinition"
RESOURCES: dict[str, Resource] = {
    **_table("", "v1", False, ("Namespace", "namespaces"), ("Node", "nodes")),
    **_table(
        "",
        "v1",
        True,
        ("Pod", "pods"),
        ("Service", "services"),
        ("Endpoints", "endpoints"),
        ("Event", "events"),
        ("ServiceAccount", "serviceaccounts"),
        ("ConfigMap", "configmaps"),
        ("Secret", "secrets"),
    ),
    **_table(
        "apps",
        "v1",
        True,
        ("Deployment", "deployments"),
        ("DaemonSet", "daemonsets"),
        ("ReplicaSet", "replicasets"),
    ),
    **_table("batch", "v1", True, ("Job", "jobs")),
    **_table(
        _RBAC,
        "v1",
        False,
        ("ClusterRole", "clusterroles"),
        ("ClusterRoleBinding", "clusterrolebindings"),
    ),
    **_table(_RBAC, "v1", True, ("Role", "roles"), ("RoleBinding", "rolebindings")),
    **_table(
        "admissionregistration.k8s.io",
        "v1",
        False,
        ("ValidatingWebhookConfiguration", "validatingwebhookconfigurations"),
    ),
    **_table("apiextensions.k8s.io", "v1", False, (CRD, "customresourcedefinitions")),
}


def crd_resource(crd: dict, version: str | None = None) -> Resource | None:
    """The Resource a CRD serves: its storage version, or `version` if that one is served."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    served = [v for v in spec.get("versions") or [] if v.get("served", True)]
    if version is not None:
        served = [v for v in served if v.get("name") == version]
    if not served or not names.get("kind") or not names.get("plural"):
        return None
    chosen = next((v for v in served if v.get("storage")), served[0])
    namespaced = spec.get("scope", "Namespaced") == "Namespaced"
    return Resource(
        spec.get("group", ""), chosen["name"], names["plural"], names["kind"], namespaced
    )


def crd_resources(crd: dict) -> list[Resource]:
    """Every Resource a CRD serves, one per served version."""
    versions = (crd.get("spec") or {}).get("versions") or []
    found = (crd_resource(crd, v.get("name")) for v in versions)
    return [res for res in found if res is not None]
