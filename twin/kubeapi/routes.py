"""URL routing, request bodies, options, Status bodies and patches of the twin's API server.

`parse_route` turns `/api/v1/namespaces/default/pods/x/log` or
`/apis/akri.sh/v0/watch/namespaces/default/instances` into a `Route` (resource, namespace, name,
subresource, watch), and answers 404 for resources the store does not serve (a custom resource whose
CRD is missing included). `decode_body` reads JSON or YAML and answers 415 for a body it cannot read
(kubectl >= 1.32 may send protobuf, docs/facts.md#api-defaults-validation); `dry_run` and
`delete_options` read the query and DeleteOptions the way kube-apiserver does; patches are JSON
merge patches (strategic merge served as one) or RFC 6902 JSON patches. Errors travel as `ApiError`
and leave as Status objects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml

from twin.kubeapi.deletion import PROPAGATIONS, DeleteOptions
from twin.kubeapi.kinds import Resource
from twin.kubeapi.store import ObjectStore

BODY_TYPES = ("application/json", "application/yaml")
PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)

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


def unsupported_media(accepted: tuple[str, ...]) -> ApiError:
    """The 415 kube-apiserver answers for a body it cannot decode, naming what it reads."""
    message = (
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted)
    )
    return ApiError(415, "UnsupportedMediaType", message)


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type header, without parameters."""
    return (content_type or "").split(";")[0].strip().lower()


def decode_body(raw: bytes, content_type: str | None, accepted: tuple[str, ...]) -> Any:
    """The request body as JSON data; 415 for a media type the server cannot read, 400 if bad.

    An absent Content-Type reads as JSON, the server's first serializer.
    """
    mtype = media_type(content_type) or "application/json"
    if mtype not in accepted:
        raise unsupported_media(accepted)
    try:
        text = raw.decode()
        return yaml.safe_load(text) if mtype == "application/yaml" else json.loads(text)
    except (UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise ApiError(400, "BadRequest", f"the request body is not valid: {exc}") from exc


def dry_run(query: dict[str, str], body: Any = None) -> bool:
    """Whether a write is a dry run (`?dryRun=All`, or DeleteOptions' dryRun); 400 otherwise."""
    values = [query["dryRun"]] if "dryRun" in query else []
    if isinstance(body, dict):
        values += list(body.get("dryRun") or [])
    for value in values:
        if value != "All":
            message = f'Invalid dry run value "{value}": supported values: "All"'
            raise ApiError(400, "BadRequest", message)
    return bool(values)


def delete_options(query: dict[str, str], body: Any) -> DeleteOptions:
    """DeleteOptions from the body (as the kubernetes client sends them) and the query."""
    opts = body if isinstance(body, dict) else {}
    grace = query.get("gracePeriodSeconds", opts.get("gracePeriodSeconds"))
    policy = query.get("propagationPolicy", opts.get("propagationPolicy"))
    if policy is None and "orphanDependents" in opts:  # the deprecated spelling
        policy = "Orphan" if opts["orphanDependents"] else "Background"
    if policy is not None and policy not in PROPAGATIONS:
        supported = ", ".join(f'"{p}"' for p in PROPAGATIONS)
        message = f'propagationPolicy: Unsupported value: "{policy}": supported values: {supported}'
        raise ApiError(400, "BadRequest", message)
    try:
        seconds = None if grace is None else int(grace)
    except ValueError as exc:
        raise ApiError(400, "BadRequest", f"gracePeriodSeconds: {exc}") from exc
    pre = opts.get("preconditions") or {}
    return DeleteOptions(
        grace_seconds=seconds,
        propagation=policy,
        dry_run=dry_run(query, opts),
        preconditions={k: str(v) for k, v in pre.items() if k in ("uid", "resourceVersion") and v},
    )


def _pointer(path: str) -> list[str]:
    if path and not path.startswith("/"):
        raise ApiError(422, "Invalid", f"the JSON patch path {path!r} is not a JSON pointer")
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def _walk(doc: Any, parts: list[str]) -> Any:
    for part in parts:
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def json_patch(target: Any, ops: Any) -> Any:
    """Apply an RFC 6902 JSON patch (add, remove, replace, move, copy, test)."""
    if not isinstance(ops, list):
        raise ApiError(400, "BadRequest", "a JSON patch must be a list of operations")
    doc = json.loads(json.dumps(target))
    for op in ops:
        kind, parts = op.get("op"), _pointer(op.get("path", ""))
        try:
            if kind in ("move", "copy"):
                value = _walk(doc, _pointer(op.get("from", "")))
                if kind == "move":
                    json_patch_remove(doc, _pointer(op["from"]))
                kind, op = "add", {**op, "value": json.loads(json.dumps(value))}
            if kind == "test":
                if _walk(doc, parts) != op.get("value"):
                    raise ApiError(422, "Invalid", f"testing value {op.get('path')} failed")
                continue
            if not parts:
                doc = op.get("value") if kind in ("add", "replace") else None
                continue
            parent, last = _walk(doc, parts[:-1]), parts[-1]
            if kind == "remove":
                json_patch_remove(doc, parts)
            elif kind in ("add", "replace") and isinstance(parent, list):
                index = len(parent) if last == "-" else int(last)
                if kind == "replace":
                    parent[index] = op["value"]
                else:
                    parent.insert(index, op["value"])
            elif kind in ("add", "replace"):
                if kind == "replace" and last not in parent:
                    raise KeyError(last)
                parent[last] = op["value"]
            else:
                raise ApiError(400, "BadRequest", f"unknown JSON patch operation {kind!r}")
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise ApiError(422, "Invalid", f"the JSON patch cannot be applied: {exc!r}") from exc
    return doc


def json_patch_remove(doc: Any, parts: list[str]) -> None:
    """Remove the value a JSON pointer names."""
    parent, last = _walk(doc, parts[:-1]), parts[-1]
    del parent[int(last) if isinstance(parent, list) else last]


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

    def object_for_write(self, body: Any) -> dict:
        """The request body checked against the URL, with kind, apiVersion, namespace filled."""
        res = self.resource
        if body is None:
            raise ApiError(400, "BadRequest", "the request body is empty")
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body must be a JSON object")
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
