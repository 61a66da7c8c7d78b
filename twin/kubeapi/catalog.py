"""The read side of the twin's object store: served kinds, objects, lists and watches.

`Catalog` holds the objects (plain JSON dicts keyed by kind, namespace and name, under one RLock)
and the change log (`twin.kubeapi.changelog`), and answers what kube-apiserver answers without
writing: which resources are served (built-in kinds, and custom kinds exactly while their CRD is
stored), get, list with label and field selectors (a field the kind does not index is the server's
400), and watches that replay from a resourceVersion (too old: Gone, the 410). The writes live in
`twin.kubeapi.store.ObjectStore`, which extends it. Callers always get copies.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from twin.kubeapi.changelog import EventLog, as_seen
from twin.kubeapi.kinds import CRD, RESOURCES, Resource, crd_resource, crd_resources
from twin.kubeapi.selection import Selector


class NotFound(Exception):
    """No such object, or the kind is not served."""


def clone(obj: Any) -> Any:
    """A deep copy (objects are JSON by construction; a round trip beats deepcopy)."""
    return json.loads(json.dumps(obj))


class Catalog:
    """Objects, their kinds and their history; every read of the store."""

    def __init__(self, history: int = 1000) -> None:
        self._lock = threading.RLock()
        self._objects: dict[str, dict[tuple[str, str], dict]] = {}
        self._log = EventLog(self._lock, history, clone)

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

    def _current(self, kind: str, namespace: str | None, name: str) -> tuple[Resource, tuple, dict]:
        res = self._require(kind)
        key = self._key(res, namespace, name)
        current = self._objects.get(kind, {}).get(key)
        if current is None:
            raise NotFound(f'{res.plural} "{name}" not found')
        return res, key, current

    # --- reads -----------------------------------------------------------------------------

    def get(self, kind: str, namespace: str | None, name: str) -> dict | None:
        """A copy of one object, or None (also when the kind is not served)."""
        with self._lock:
            res = self.resource(kind)
            if res is None:
                return None
            obj = self._objects.get(kind, {}).get(self._key(res, namespace, name))
            return None if obj is None else clone(obj)

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[dict], str]:
        """Matching objects sorted by namespace/name, and the list resourceVersion.

        Raises NotFound for an unserved kind, ValueError for a malformed selector or a field
        the kind does not index (FieldLabelUnsupported, the server's 400).
        """
        selector = Selector.parse(label_selector, field_selector)
        with self._lock:
            self._require(kind).check_field_selector(field_selector)
            items = [
                clone(obj)
                for key, obj in sorted(self._objects.get(kind, {}).items())
                if (namespace is None or key[0] == namespace) and selector.matches(obj)
            ]
            return items, str(self._log.rv)

    def deleting_with(self, finalizers: set[str]) -> list[dict]:
        """Objects of any kind being deleted that still carry one of these finalizers."""
        with self._lock:
            return [
                clone(obj)
                for objects in self._objects.values()
                for obj in objects.values()
                if obj["metadata"].get("deletionTimestamp")
                and finalizers & set(obj["metadata"].get("finalizers") or ())
            ]

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
            self._require(kind).check_field_selector(field_selector)
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
                seen = as_seen(event, kind, namespace, selector.matches)
                if seen is not None:
                    yield seen[0], clone(seen[1])

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
