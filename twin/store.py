"""In-memory Kubernetes object store: the state behind the twin's API server and controllers.

Objects are plain JSON dicts keyed by kind, namespace and name, guarded by one RLock. Every
change bumps a global resourceVersion and lands in a bounded event history that watches replay
from (an older version raises Gone, which the API server answers with 410). Custom resources
are served only while their CustomResourceDefinition is stored, as on a real cluster. The store
fills server-owned metadata (uid, resourceVersion, creationTimestamp, generation), Service
type, cluster IPs and node ports, and nothing else: callers must supply what the kubernetes
client's pydantic models require, e.g. Pod `spec.containers[].name`, Deployment/DaemonSet
`spec.selector` and `spec.template`, CRD `spec.group/names/scope/versions` (and a status with
`acceptedNames`/`storedVersions` for ApiextensionsV1Api), container statuses with `name`,
`ready`, `restartCount`, `image`, `imageID`. Stored dicts are never mutated in place, so events
share them; callers always get deep copies.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from twin.changelog import Event, EventLog, Gone
from twin.kinds import CRD, RESOURCES, Resource, crd_resource, crd_resources
from twin.selection import Selector
from twin.serviceips import allocate_service_addresses

__all__ = ["RESOURCES", "Conflict", "Gone", "Invalid", "NotFound", "ObjectStore", "Resource"]

_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what generateName suffixes are drawn from


class Conflict(Exception):
    """The object already exists, or the update carried a stale resourceVersion."""


class NotFound(Exception):
    """No such object, or the kind is not served."""


class Invalid(ValueError):
    """The object is malformed (no kind, no name, ...)."""


def _clone(obj: Any) -> Any:
    # objects are JSON by construction, and a JSON round trip is faster than deepcopy
    return json.loads(json.dumps(obj))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _without_rv(obj: dict) -> dict:
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k != "resourceVersion"}
    return {**obj, "metadata": meta}


class ObjectStore:
    """Thread-safe Kubernetes objects with resourceVersions, selectors and watches."""

    def __init__(self, history: int = 1000) -> None:
        self._lock = threading.RLock()
        self._objects: dict[str, dict[tuple[str, str], dict]] = {}
        self._log = EventLog(self._lock, history, _clone)
        #: returns a free NodePort; None means the lowest free port in 30000-32767
        self.nodeport_allocator: Callable[[], int] | None = None

    # --- resources -------------------------------------------------------------------------

    def resource(self, kind: str) -> Resource | None:
        """The served resource for a kind (custom kinds only while their CRD exists)."""
        if kind in RESOURCES:
            return RESOURCES[kind]
        with self._lock:
            for crd in self._objects.get(CRD, {}).values():
                res = crd_resource(crd)
                if res and res.kind == kind:
                    return res
        return None

    def resource_for(self, group: str, version: str, plural: str) -> Resource | None:
        """The served resource at /apis/<group>/<version>/<plural> (group "" for /api/v1)."""
        for res in RESOURCES.values():
            if (res.group, res.version, res.plural) == (group, version, plural):
                return res
        with self._lock:
            for crd in self._objects.get(CRD, {}).values():
                res = crd_resource(crd, version)
                if res and (res.group, res.plural) == (group, plural):
                    return res
        return None

    def custom_resources(self) -> list[Resource]:
        """Every resource served through a stored CRD, one per served version."""
        with self._lock:
            return [
                res for crd in self._objects.get(CRD, {}).values() for res in crd_resources(crd)
            ]

    def _require(self, kind: str) -> Resource:
        res = self.resource(kind)
        if res is None:
            raise NotFound(f'the server could not find the requested resource (kind "{kind}")')
        return res

    @staticmethod
    def _key(res: Resource, namespace: str | None, name: str) -> tuple[str, str]:
        return ((namespace or "default") if res.namespaced else "", name)

    # --- writes ----------------------------------------------------------------------------

    def create(self, obj: dict) -> dict:
        """Store a new object (generateName honoured); raise Conflict if it exists. ADDED."""
        try:
            with self._lock:
                return self._create(_clone(obj))
        finally:
            self._log.dispatch()

    def update(self, obj: dict) -> dict:
        """Replace an object; a stale metadata.resourceVersion raises Conflict. MODIFIED.

        uid and creationTimestamp are kept; so are status, cluster IP and node ports when the
        new object omits them (main-resource writes leave status alone on a real cluster).
        A write that changes nothing is no event and keeps the resourceVersion.
        """
        try:
            with self._lock:
                return self._update(_clone(obj))
        finally:
            self._log.dispatch()

    def apply(self, obj: dict) -> dict:
        """Create or replace, ignoring any resourceVersion (what `kubectl apply` amounts to)."""
        new = _clone(obj)
        meta = new.setdefault("metadata", {})
        meta.pop("resourceVersion", None)
        try:
            with self._lock:
                res = self._resource_of(new)
                key = self._key(res, meta.get("namespace"), str(meta.get("name")))
                exists = key in self._objects.get(res.kind, {})
                return self._update(new) if exists else self._create(new)
        finally:
            self._log.dispatch()

    def patch(
        self, kind: str, namespace: str | None, name: str, fn: Callable[[dict], None]
    ) -> dict:
        """Read-modify-write under the lock: fn mutates a copy. MODIFIED only if it changed."""
        try:
            with self._lock:
                res = self._require(kind)
                key = self._key(res, namespace, name)
                current = self._objects.get(kind, {}).get(key)
                if current is None:
                    raise NotFound(f'{res.plural} "{name}" not found')
                new = _clone(current)
                fn(new)
                # identity is not the patch's to change
                new["kind"], new["apiVersion"] = current["kind"], current["apiVersion"]
                meta = new.setdefault("metadata", {})
                for field in ("name", "namespace", "uid", "creationTimestamp", "resourceVersion"):
                    if field in current["metadata"]:
                        meta[field] = current["metadata"][field]
                return self._modify(res, key, current, new)
        finally:
            self._log.dispatch()

    def delete(self, kind: str, namespace: str | None, name: str) -> dict:
        """Remove an object (a CRD takes its custom objects along). DELETED; NotFound."""
        try:
            with self._lock:
                res = self._require(kind)
                key = self._key(res, namespace, name)
                current = self._objects.get(kind, {}).get(key)
                if current is None:
                    raise NotFound(f'{res.plural} "{name}" not found')
                served = crd_resource(current) if kind == CRD else None
                if served is not None:
                    for obj_key in list(self._objects.get(served.kind, {})):
                        self._remove(served.kind, obj_key)
                return self._remove(kind, key)
        finally:
            self._log.dispatch()

    def _resource_of(self, obj: dict) -> Resource:
        kind = obj.get("kind")
        if not isinstance(kind, str) or not kind:
            raise Invalid("Object 'Kind' is missing")
        return self._require(kind)

    def _create(self, new: dict) -> dict:
        res = self._resource_of(new)
        kind = res.kind
        meta = new.setdefault("metadata", {})
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise Invalid(f"{res.plural}: metadata.name: Required value")
            suffix = "".join(secrets.choice(_NAME_ALPHABET) for _ in range(5))
            meta["name"] = meta["generateName"] + suffix
        if res.namespaced:
            meta["namespace"] = meta.get("namespace") or "default"
        else:
            meta.pop("namespace", None)
        key = self._key(res, meta.get("namespace"), meta["name"])
        if key in self._objects.get(kind, {}):
            raise Conflict(f'{res.plural} "{meta["name"]}" already exists')
        new["apiVersion"], new["kind"] = new.get("apiVersion") or res.api_version, kind
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=_now(), generation=1)
        if kind == "Service":
            allocate_service_addresses(new, None, self._services(), self.nodeport_allocator)
        self._objects.setdefault(kind, {})[key] = new
        self._log.record("ADDED", new, None)
        return _clone(new)

    def _update(self, new: dict) -> dict:
        res = self._resource_of(new)
        meta = new.setdefault("metadata", {})
        key = self._key(res, meta.get("namespace"), str(meta.get("name")))
        current = self._objects.get(res.kind, {}).get(key)
        if current is None:
            raise NotFound(f'{res.plural} "{meta.get("name")}" not found')
        cur_meta = current["metadata"]
        if meta.get("resourceVersion") not in (None, "", cur_meta["resourceVersion"]):
            raise Conflict(
                f'Operation cannot be fulfilled on {res.plural} "{meta["name"]}": the object '
                "has been modified; please apply your changes to the latest version"
            )
        new["apiVersion"] = new.get("apiVersion") or current["apiVersion"]
        meta.pop("namespace", None)
        for field in ("uid", "creationTimestamp", "generation", "namespace", "resourceVersion"):
            if field in cur_meta:
                meta[field] = cur_meta[field]
        if "status" not in new and "status" in current:
            new["status"] = _clone(current["status"])
        return self._modify(res, key, current, new)

    def _modify(self, res: Resource, key: tuple[str, str], current: dict, new: dict) -> dict:
        if res.kind == "Service":
            others = [s for s in self._services() if s is not current]
            allocate_service_addresses(new, current, others, self.nodeport_allocator)
        if _without_rv(new) == _without_rv(current):
            return _clone(current)
        if new.get("spec") != current.get("spec"):
            new["metadata"]["generation"] = int(current["metadata"].get("generation", 1)) + 1
        self._objects[res.kind][key] = new
        self._log.record("MODIFIED", new, current)
        return _clone(new)

    def _remove(self, kind: str, key: tuple[str, str]) -> dict:
        # a copy, because the stored dict is shared with earlier events in the history
        gone = _clone(self._objects[kind].pop(key))
        self._log.record("DELETED", gone, None)
        return _clone(gone)

    def _services(self) -> list[dict]:
        return list(self._objects.get("Service", {}).values())

    # --- reads -----------------------------------------------------------------------------

    def get(self, kind: str, namespace: str | None, name: str) -> dict | None:
        """A copy of one object, or None (also when the kind is not served)."""
        with self._lock:
            res = self.resource(kind)
            if res is None:
                return None
            obj = self._objects.get(kind, {}).get(self._key(res, namespace, name))
            return None if obj is None else _clone(obj)

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[dict], str]:
        """Matching objects sorted by namespace/name, and the list resourceVersion.

        Raises NotFound for an unserved kind, ValueError for a malformed selector.
        """
        selector = Selector.parse(label_selector, field_selector)
        with self._lock:
            self._require(kind)
            items = [
                _clone(obj)
                for key, obj in sorted(self._objects.get(kind, {}).items())
                if (namespace is None or key[0] == namespace) and selector.matches(obj)
            ]
            return items, str(self._log.rv)

    def watch(
        self,
        kind: str,
        namespace: str | None,
        label_selector: str | None,
        field_selector: str | None,
        resource_version: str | None,
        timeout: float,
        stop: threading.Event | None = None,
    ) -> Iterator[tuple[str, dict]]:
        """(type, object) events after resource_version; "" or "0" first lists as ADDED.

        Ends at the timeout, or once `stop` is set and `wake_watchers` is called. Raises Gone
        when the version is older than the retained history (also mid-stream, for a watcher
        that fell that far behind), NotFound for an unserved kind.
        """
        selector = Selector.parse(label_selector, field_selector)
        deadline = time.monotonic() + timeout
        with self._lock:
            self._require(kind)
            if resource_version in ("", "0", None):
                cursor = self._log.rv
                initial, _ = self.list(kind, namespace, label_selector, field_selector)
            else:
                cursor, initial = int(resource_version), []
        for obj in initial:
            yield "ADDED", obj
        while (batch := self._log.wait_after(cursor, deadline, stop)) is not None:
            for event in batch:
                cursor = event.rv
                seen = _as_seen(event, kind, namespace, selector)
                if seen is not None:
                    yield seen[0], _clone(seen[1])

    def wake_watchers(self) -> None:
        """Make blocked watches re-check their deadline and stop event."""
        self._log.wake()

    def subscribe(self, callback: Callable[[str, dict], None]) -> None:
        """Call back (type, object copy) after every change, in resourceVersion order.

        Callbacks run outside the store lock, in whichever writing thread drains the queue, so
        a callback may write to the store (those events are delivered after it returns).
        An exception in a callback is logged and does not fail the write.
        """
        self._log.subscribe(callback)


def _as_seen(
    event: Event, kind: str, namespace: str | None, selector: Selector
) -> tuple[str, dict] | None:
    """The event as a filtered watcher sees it: leaving the selection reads as DELETED."""
    meta = event.obj.get("metadata", {})
    if event.obj.get("kind") != kind or namespace not in (None, meta.get("namespace")):
        return None
    now = selector.matches(event.obj)
    if event.type != "MODIFIED" or event.prev is None:
        return (event.type, event.obj) if now else None
    before = selector.matches(event.prev)
    if now:
        return ("MODIFIED" if before else "ADDED", event.obj)
    if before:
        # the last state the watcher could see, stamped with the version that hid it
        prev = _clone(event.prev)
        prev["metadata"]["resourceVersion"] = str(event.rv)
        return ("DELETED", prev)
    return None
