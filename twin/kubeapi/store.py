"""The twin's object store: the state behind its API server and controllers, and its writes.

`ObjectStore` extends the read side (`twin.kubeapi.catalog`: served kinds, get, list, watch) with
writes that behave as kube-apiserver's (docs/facts.md#api-defaults-validation,
docs/facts.md#graceful-deletion): creates go through admission (`twin.kubeapi.admission`: pod
defaults, 422 validation; then `twin.kubeapi.webhooks`), deletes through `twin.kubeapi.deletion`
(graceful pods, finalizers, a CRD waiting for its objects), an update that removes the last
finalizer of an object being deleted removes it, and every write can be a dry run. It fills
server-owned metadata (uid, resourceVersion, creationTimestamp, generation), Service cluster IPs and
node ports. Every change bumps the resourceVersion and is logged for watches and subscribers; stored
dicts are never mutated in place.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import NamedTuple

from twin.kubeapi.admission import Invalid, Policy, admit_create
from twin.kubeapi.catalog import Catalog, NotFound, clone
from twin.kubeapi.changelog import Gone
from twin.kubeapi.deletion import (
    DeleteOptions,
    PreconditionFailed,
    check_preconditions,
    keep_deletion_state,
    mark_deleted,
    removable,
)
from twin.kubeapi.kinds import CRD, RESOURCES, Resource, crd_resource
from twin.kubeapi.meta import now, suffix
from twin.kubeapi.serviceips import allocate_service_addresses
from twin.kubeapi.webhooks import Backend, review

__all__ = [
    "RESOURCES",
    "Conflict",
    "DeleteOptions",
    "Deletion",
    "Gone",
    "Invalid",
    "NotFound",
    "ObjectStore",
    "Resource",
]

CRD_CLEANUP = "customresourcecleanup.apiextensions.k8s.io"


class Conflict(Exception):
    """The object already exists, or the write's resourceVersion or preconditions are stale."""


class Deletion(NamedTuple):
    """What a DELETE did: the object (as removed, or as it now waits), and whether it is gone."""

    obj: dict
    removed: bool


def _without_rv(obj: dict) -> dict:
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k != "resourceVersion"}
    return {**obj, "metadata": meta}


class ObjectStore(Catalog):
    """Thread-safe Kubernetes objects written with kube-apiserver's semantics."""

    def __init__(self, history: int = 1000) -> None:
        super().__init__(history)
        #: returns a free NodePort; None means the lowest free port in 30000-32767
        self.nodeport_allocator: Callable[[], int] | None = None
        #: the apiserver flags admission follows (set from its args file by the node model)
        self.policy = Policy()
        #: validating webhooks' services, by (namespace, name) (twin.kubeapi.webhooks)
        self.webhook_backends: dict[tuple[str, str], Backend] = {}

    # --- writes ----------------------------------------------------------------------------

    def create(self, obj: dict, dry_run: bool = False) -> dict:
        """Admit and store a new object (generateName honoured); Conflict if it exists. ADDED."""
        try:
            with self._lock:
                return self._create(clone(obj), dry_run)
        finally:
            self._log.dispatch()

    def update(self, obj: dict, dry_run: bool = False) -> dict:
        """Replace an object; a stale metadata.resourceVersion raises Conflict. MODIFIED.

        uid and creationTimestamp are kept; so are status, cluster IP and node ports when the
        new object omits them (main-resource writes leave status alone on a real cluster).
        A write that changes nothing is no event and keeps the resourceVersion.
        """
        try:
            with self._lock:
                return self._update(clone(obj), dry_run)
        finally:
            self._log.dispatch()

    def apply(self, obj: dict) -> dict:
        """Create or replace, ignoring any resourceVersion (what `kubectl apply` amounts to)."""
        new = clone(obj)
        meta = new.setdefault("metadata", {})
        meta.pop("resourceVersion", None)
        try:
            with self._lock:
                res = self._resource_of(new)
                key = self._key(res, meta.get("namespace"), str(meta.get("name")))
                exists = key in self._objects.get(res.kind, {})
                return self._update(new, False) if exists else self._create(new, False)
        finally:
            self._log.dispatch()

    def patch(
        self,
        kind: str,
        namespace: str | None,
        name: str,
        fn: Callable[[dict], None],
        dry_run: bool = False,
    ) -> dict:
        """Read-modify-write under the lock: fn mutates a copy. MODIFIED only if it changed."""
        try:
            with self._lock:
                res, key, current = self._current(kind, namespace, name)
                new = clone(current)
                fn(new)
                # identity is not the patch's to change
                new["kind"], new["apiVersion"] = current["kind"], current["apiVersion"]
                meta = new.setdefault("metadata", {})
                for field in ("name", "namespace", "uid", "creationTimestamp", "resourceVersion"):
                    if field in current["metadata"]:
                        meta[field] = current["metadata"][field]
                return self._modify(res, key, current, new, dry_run)
        finally:
            self._log.dispatch()

    def delete(
        self, kind: str, namespace: str | None, name: str, options: DeleteOptions | None = None
    ) -> Deletion:
        """Delete as kube-apiserver does: at once, or mark and wait. NotFound.

        See twin.kubeapi.deletion. Removing is DELETED; marking (a graceful pod, finalizers) is
        MODIFIED.
        """
        options = options or DeleteOptions()
        try:
            with self._lock:
                res, key, current = self._current(kind, namespace, name)
                try:
                    check_preconditions(current, options)
                except PreconditionFailed as exc:
                    message = f'Operation cannot be fulfilled on {res.plural} "{name}": {exc}'
                    raise Conflict(message) from exc
                marked = mark_deleted(current, options)
                cascade = marked is None and kind == CRD and not options.dry_run
                if cascade and not self._delete_custom_objects(current):
                    # its objects wait on their finalizers: so does the CRD, still serving them
                    waiting = {**current, "metadata": dict(current["metadata"])}
                    waiting["metadata"]["finalizers"] = [CRD_CLEANUP]
                    marked = mark_deleted(waiting, options)
                if marked is not None:
                    changed = self._modify(res, key, current, marked, options.dry_run, False)
                    return Deletion(changed, False)
                if options.dry_run:
                    return Deletion(clone(current), True)
                return Deletion(self._remove(kind, key), True)
        finally:
            self._log.dispatch()

    def _delete_custom_objects(self, crd: dict) -> bool:
        """Delete a CRD's objects; False while some wait on their own finalizers."""
        served = crd_resource(crd)
        if served is None:
            return True
        for key, obj in list(self._objects.get(served.kind, {}).items()):
            marked = mark_deleted(obj, DeleteOptions())
            if marked is None:
                self._remove(served.kind, key)
            else:
                self._modify(served, key, obj, marked, False, False)
        return not self._objects.get(served.kind)

    def _resource_of(self, obj: dict) -> Resource:
        kind = obj.get("kind")
        if not isinstance(kind, str) or not kind:
            raise Invalid("Object 'Kind' is missing")
        return self._require(kind)

    def _create(self, new: dict, dry_run: bool) -> dict:
        res = self._resource_of(new)
        kind = res.kind
        meta = new.setdefault("metadata", {})
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise Invalid(f"{res.plural}: metadata.name: Required value")
            meta["name"] = meta["generateName"] + suffix()
        if res.namespaced:
            meta["namespace"] = meta.get("namespace") or "default"
        else:
            meta.pop("namespace", None)
        for field in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion"):
            meta.pop(field, None)  # server-owned: only a DELETE sets them
        new = admit_create(new, res, self.policy)
        meta = new["metadata"]
        new["apiVersion"], new["kind"] = new.get("apiVersion") or res.api_version, kind
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=now(), generation=1)
        self._webhooks(new, res, "CREATE")  # after validation, before storage (AlreadyExists)
        key = self._key(res, meta.get("namespace"), meta["name"])
        if key in self._objects.get(kind, {}):
            raise Conflict(f'{res.plural} "{meta["name"]}" already exists')
        if kind == "Service":
            allocate_service_addresses(new, None, self._services(), self.nodeport_allocator)
        if dry_run:
            return clone(new)
        self._objects.setdefault(kind, {})[key] = new
        self._log.record("ADDED", new, None)
        return clone(new)

    def _update(self, new: dict, dry_run: bool) -> dict:
        res = self._resource_of(new)
        meta = new.setdefault("metadata", {})
        res, key, current = self._current(res.kind, meta.get("namespace"), str(meta.get("name")))
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
            new["status"] = clone(current["status"])
        self._webhooks(new, res, "UPDATE")
        return self._modify(res, key, current, new, dry_run)

    def _webhooks(self, obj: dict, res: Resource, operation: str) -> None:
        """Validating admission webhooks (twin.kubeapi.webhooks); Denied if one refuses."""
        hooks = self._objects.get("ValidatingWebhookConfiguration", {}).values()
        if hooks and self.webhook_backends:
            review(list(hooks), dict(self.webhook_backends), clone(obj), res, operation)

    def _modify(
        self,
        res: Resource,
        key: tuple[str, str],
        current: dict,
        new: dict,
        dry_run: bool,
        client_write: bool = True,
    ) -> dict:
        added = keep_deletion_state(new, current) if client_write else []
        if added:
            found = ", ".join(f'"{f}"' for f in added)
            message = (
                "metadata.finalizers: Forbidden: no new finalizers can be added if the object "
                f"is being deleted, found new finalizers []string{{{found}}}"
            )
            name = current["metadata"]["name"]
            raise Invalid(f'{res.kind} "{name}" is invalid: {message}', kind=res.kind, name=name)
        if res.kind == "Service":
            others = [s for s in self._services() if s is not current]
            allocate_service_addresses(new, current, others, self.nodeport_allocator)
        if _without_rv(new) == _without_rv(current):
            return clone(current)
        if new.get("spec") != current.get("spec"):
            new["metadata"]["generation"] = int(current["metadata"].get("generation", 1)) + 1
        if dry_run:
            return clone(new)
        if removable(new):  # the last finalizer went, nothing left to wait for
            return self._remove(res.kind, key, new)
        self._objects[res.kind][key] = new
        self._log.record("MODIFIED", new, current)
        return clone(new)

    def _remove(self, kind: str, key: tuple[str, str], last: dict | None = None) -> dict:
        # a copy, because the stored dict is shared with earlier events in the history
        gone = clone(last if last is not None else self._objects[kind][key])
        del self._objects[kind][key]
        self._log.record("DELETED", gone, None)
        self._finish_crd_deletion(kind)
        return clone(gone)

    def _finish_crd_deletion(self, kind: str) -> None:
        """A terminating CRD goes once the last of its objects went."""
        if self._objects.get(kind):
            return
        for crd_key, crd in list(self._objects.get(CRD, {}).items()):
            served = crd_resource(crd)
            if served and served.kind == kind and crd["metadata"].get("deletionTimestamp"):
                self._remove(CRD, crd_key)

    def _services(self) -> list[dict]:
        return list(self._objects.get("Service", {}).values())
