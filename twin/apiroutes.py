"""URL routing, Status bodies and merge patches for the twin's Kubernetes API server.

`parse_route` turns `/api/v1/namespaces/default/pods/x/log` or
`/apis/akri.sh/v0/watch/namespaces/default/instances` into a `Route` (resource, namespace, name,
subresource, watch), and answers 404 for resources the store does not serve (a custom resource
whose CRD is missing included). Errors travel as `ApiError` and leave as Status objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twin.kinds import Resource
from twin.store import ObjectStore

_NAMESPACE_SUBRESOURCES = ("status", "finalize")
_NOT_FOUND = "the server could not find the requested resource"


class ApiError(Exception):
    """An API failure to be answered with a Status object."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details


def status_body(
    code: int, reason: str, message: str, details: dict | None = None, status: str = "Failure"
) -> dict:
    """A metav1.Status object as the API server returns it."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": status,
        "code": code,
    }
    if message:
        body["message"] = message
    if reason:
        body["reason"] = reason
    if details:
        body["details"] = {k: v for k, v in details.items() if v not in (None, "")}
    return body


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: null deletes, objects merge, everything else replaces."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


@dataclass(frozen=True)
class Route:
    """What a resource URL addresses."""

    resource: Resource
    namespace: str | None
    name: str | None
    sub: str | None
    watch: bool

    def details(self) -> dict:
        """Status details naming the addressed object."""
        return {"name": self.name, "group": self.resource.group, "kind": self.resource.plural}

    def object_for_write(self, body: dict | None) -> dict:
        """The request body checked against the URL, with kind, apiVersion, namespace filled."""
        res = self.resource
        if body is None:
            raise ApiError(400, "BadRequest", "the request body is empty")
        if body.get("kind", res.kind) != res.kind:
            message = f"the body is a {body.get('kind')}, the URL addresses {res.plural}"
            raise ApiError(400, "BadRequest", message)
        meta = body.setdefault("metadata", {})
        if self.name is not None and meta.setdefault("name", self.name) != self.name:
            message = "the name of the object does not match the name on the URL"
            raise ApiError(400, "BadRequest", message, self.details())
        if res.namespaced:
            if self.namespace is None:
                raise ApiError(405, "MethodNotAllowed", f"{res.plural} are written per namespace")
            if meta.setdefault("namespace", self.namespace) != self.namespace:
                message = (
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
                raise ApiError(400, "BadRequest", message, self.details())
        body.setdefault("kind", res.kind)
        body.setdefault("apiVersion", res.api_version)
        return body


def parse_route(path: str, query: dict[str, str], store: ObjectStore) -> Route | None:
    """The resource a path addresses; None for discovery and health paths; 404 if unserved."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    watch = query.get("watch") in ("true", "1")
    if rest[0] == "watch":
        watch, rest = True, rest[1:]
    namespace = None
    if (
        len(rest) >= 3
        and rest[0] == "namespaces"
        and not (len(rest) == 3 and rest[2] in _NAMESPACE_SUBRESOURCES)
    ):
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        raise ApiError(404, "NotFound", _NOT_FOUND)
    res = store.resource_for(group, version, rest[0])
    if res is None or (namespace is not None and not res.namespaced):
        raise ApiError(404, "NotFound", _NOT_FOUND)
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if sub not in (None, "status", "log"):
        raise ApiError(404, "NotFound", _NOT_FOUND)
    if res.namespaced and name is not None and namespace is None:
        raise ApiError(404, "NotFound", _NOT_FOUND)
    return Route(res, namespace, name, sub, watch)
