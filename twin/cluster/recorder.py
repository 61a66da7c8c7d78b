"""Kubernetes Events (core/v1) as the kubelet, scheduler and controllers record them.

A repeated event (same object, reason and message) is folded into the existing Event object by
bumping `count` and `lastTimestamp`, as the client-go event correlator does, so a crash-looping
pod shows one `BackOff` event with a growing count rather than a flood of objects.
"""

from __future__ import annotations

import logging
import secrets
import threading

from twin.kubeapi.meta import now
from twin.kubeapi.store import Conflict, NotFound, ObjectStore

log = logging.getLogger(__name__)


class EventRecorder:
    """Writes v1 Events about objects into the store."""

    def __init__(self, store: ObjectStore, host: str) -> None:
        self._store = store
        self._host = host
        self._lock = threading.Lock()
        self._names: dict[tuple, tuple[str, str]] = {}

    def record(
        self,
        obj: dict,
        reason: str,
        message: str,
        component: str,
        *,
        warning: bool = False,
        field_path: str | None = None,
    ) -> None:
        """Record (or count again) one event about `obj`."""
        meta = obj["metadata"]
        namespace = meta.get("namespace") or "default"
        key = (obj["kind"], namespace, meta["name"], meta.get("uid"), reason, message)
        stamp = now()
        with self._lock:
            known = self._names.get(key)
        if known is not None and self._bump(known, stamp):
            return
        involved = {
            "apiVersion": obj.get("apiVersion"),
            "kind": obj["kind"],
            "name": meta["name"],
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        }
        if field_path:
            involved["fieldPath"] = field_path
        source = {"component": component}
        if component == "kubelet":
            source["host"] = self._host
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{secrets.token_hex(8)}", "namespace": namespace},
            "involvedObject": {k: v for k, v in involved.items() if v is not None},
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "type": "Warning" if warning else "Normal",
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": self._host if component == "kubelet" else "",
        }
        try:
            created = self._store.create(event)
        except (Conflict, NotFound) as exc:
            log.debug("event %s for %s not recorded: %s", reason, meta["name"], exc)
            return
        with self._lock:
            self._names[key] = (namespace, created["metadata"]["name"])

    def _bump(self, known: tuple[str, str], stamp: str) -> bool:
        def bump(event: dict) -> None:
            event["count"] = int(event.get("count") or 1) + 1
            event["lastTimestamp"] = stamp

        try:
            self._store.patch("Event", known[0], known[1], bump)
        except NotFound:
            return False
        return True
