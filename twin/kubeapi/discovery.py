"""Discovery documents of the twin's API server: /version, /api, /apis and resource lists.

Built from the store's resource table and the CRDs it currently holds, so a custom resource
appears in discovery exactly while it is served. The shapes follow the real API server's
(APIVersions, APIGroupList, APIGroup, APIResourceList), with each resource's singularName,
shortNames and categories as kube-apiserver 1.34 publishes them (`po`, `svc`, `deploy`, `ds`,
the `all` category) and, for custom resources, the names their CRD declares (Akri's `akric`,
`akrii`, and `all` from akri-dev 0.13.24, docs/facts.md#akri-crds and
docs/facts.md#api-discovery): what `kubectl get akrii` and
`kubectl get all` resolve through. `document` answers a discovery or health path.
"""

from __future__ import annotations

from typing import Any

from twin.kubeapi.kinds import RESOURCES, Resource

_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
_SUBRESOURCES = {"Pod": ("log", "status"), "Deployment": ("status",), "DaemonSet": ("status",)}


def version_info(git_version: str) -> dict:
    """The /version document for a Kubernetes release like v1.34.2."""
    major, minor = git_version.lstrip("v").split(".")[:2]
    return {
        "major": major,
        "minor": minor,
        "gitVersion": git_version,
        "gitCommit": "0" * 40,
        "gitTreeState": "clean",
        "buildDate": "2025-11-12T00:00:00Z",
        "goVersion": "go1.24.9",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions(server_address: str) -> dict:
    """The /api document (the legacy core group)."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _served(custom: list[Resource]) -> list[Resource]:
    return [*RESOURCES.values(), *custom]


def _group(name: str, versions: list[str]) -> dict:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(custom: list[Resource]) -> dict:
    """The /apis document: every named group with its served versions."""
    groups: dict[str, list[str]] = {}
    for res in _served(custom):
        if res.group and res.version not in groups.setdefault(res.group, []):
            groups[res.group].append(res.version)
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group(name, versions) for name, versions in groups.items()],
    }


def api_group(name: str, custom: list[Resource]) -> dict | None:
    """The /apis/<group> document, or None for an unknown group."""
    versions = sorted({r.version for r in _served(custom) if r.group == name})
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def api_resource_list(group: str, version: str, custom: list[Resource]) -> dict | None:
    """The /api/v1 or /apis/<group>/<version> document, or None if nothing is served there."""
    found = [r for r in _served(custom) if (r.group, r.version) == (group, version)]
    if not found:
        return None
    resources = []
    for res in found:
        entry: dict[str, Any] = {
            "name": res.plural,
            "singularName": res.kind.lower(),
            "namespaced": res.namespaced,
            "kind": res.kind,
            "verbs": _VERBS,
        }
        if res.short_names:
            entry["shortNames"] = list(res.short_names)
        if res.categories:
            entry["categories"] = list(res.categories)
        resources.append(entry)
        for sub in _SUBRESOURCES.get(res.kind, ()):
            verbs = ["get"] if sub == "log" else ["get", "patch", "update"]
            sub_entry = {k: v for k, v in entry.items() if k not in ("shortNames", "categories")}
            resources.append(
                {**sub_entry, "name": f"{res.plural}/{sub}", "singularName": "", "verbs": verbs}
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


def document(
    path: str, custom: list[Resource], address: str, git_version: str
) -> dict | str | None:
    """The answer to GET of a discovery or health path, or None when there is none."""
    path = path.rstrip("/") or "/"
    if path in ("/healthz", "/readyz", "/livez"):
        return "ok"
    if path == "/version":
        return version_info(git_version)
    if path == "/api":
        return api_versions(address)
    if path == "/apis":
        return api_group_list(custom)
    parts = path.strip("/").split("/")
    if parts == ["api", "v1"]:
        return api_resource_list("", "v1", custom)
    if parts[0] == "apis" and len(parts) == 2:
        return api_group(parts[1], custom)
    if parts[0] == "apis" and len(parts) == 3:
        return api_resource_list(parts[1], parts[2], custom)
    return None
