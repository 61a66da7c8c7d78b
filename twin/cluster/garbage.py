"""Namespaces and the garbage collector of the twin's kube-controller-manager.

Every namespace is Active and gets its `default` ServiceAccount; a deleted namespace is emptied.
The garbage collector deletes objects whose owners are all gone (ownerReferences matched by
uid, as the real collector does) with the API server's deletion semantics (`twin.kubeapi.deletion`:
pods terminate gracefully), and finishes the deletions that wait for it: an owner deleted with
`propagationPolicy: Foreground` keeps its `foregroundDeletion` finalizer until its dependents
are gone, one deleted with `Orphan` until its dependents no longer point at it.
"""

from __future__ import annotations

import contextlib

from twin.cluster.objects import default_service_account
from twin.kubeapi.deletion import FOREGROUND, ORPHAN
from twin.kubeapi.store import Conflict, DeleteOptions, NotFound, ObjectStore

GC_KINDS = ("Pod", "ReplicaSet", "Service", "Endpoints", "ConfigMap", "Secret", "Job", "Instance")


class GarbageCollector:
    """Namespaces, and dependents of deleted owners."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def _delete(
        self, kind: str, namespace: str | None, name: str, options: DeleteOptions | None = None
    ) -> None:
        with contextlib.suppress(NotFound):
            self.store.delete(kind, namespace, name, options)

    def sync_namespaces(self, purged: set[str]) -> None:
        """Active phase and a default ServiceAccount per namespace; empty deleted namespaces."""
        for ns in self.store.list("Namespace")[0]:
            name = ns["metadata"]["name"]
            purged.discard(name)
            if (ns.get("status") or {}).get("phase") != "Active":
                self.store.patch(
                    "Namespace", None, name, lambda o: o.update(status={"phase": "Active"})
                )
            if self.store.get("ServiceAccount", name, "default") is None:
                with contextlib.suppress(Conflict):
                    self.store.create(default_service_account(name))
        for name in list(purged):
            for res in self._namespaced_resources():
                for obj in self.store.list(res, name)[0]:
                    self._delete(res, name, obj["metadata"]["name"])
            purged.discard(name)

    def _namespaced_resources(self) -> list[str]:
        kinds = ["Pod", "Service", "Endpoints", "Event", "ServiceAccount", "ConfigMap", "Secret"]
        kinds += ["Deployment", "DaemonSet", "ReplicaSet", "Job", "Role", "RoleBinding"]
        kinds += [r.kind for r in self.store.custom_resources() if r.namespaced]
        return list(dict.fromkeys(kinds))

    def collect_garbage(self) -> None:
        """Delete dependents whose owners are all gone (background cascading deletion), and
        finish owners waiting on the foregroundDeletion or orphan finalizer."""
        dependents = {
            kind: self.store.list(kind)[0]
            for kind in GC_KINDS
            if self.store.resource(kind) is not None
        }
        for kind, items in dependents.items():
            for obj in items:
                refs = obj["metadata"].get("ownerReferences") or []
                if refs and not any(self._owner_alive(obj, ref) for ref in refs):
                    self._delete(kind, obj["metadata"].get("namespace"), obj["metadata"]["name"])
        for owner in self.store.deleting_with({FOREGROUND, ORPHAN}):
            self._finish_owner(owner, dependents)

    def _finish_owner(self, owner: dict, objects: dict[str, list[dict]]) -> None:
        meta = owner["metadata"]
        uid = meta["uid"]

        def points_here(ref: dict) -> bool:
            return ref.get("uid") == uid

        def orphan(obj: dict) -> None:
            refs = obj["metadata"].get("ownerReferences") or []
            obj["metadata"]["ownerReferences"] = [r for r in refs if not points_here(r)]

        orphaning = ORPHAN in (meta.get("finalizers") or [])
        found = [
            (kind, d)
            for kind, items in objects.items()
            for d in items
            if any(points_here(r) for r in d["metadata"].get("ownerReferences") or [])
        ]
        for kind, dep in found:
            namespace, name = dep["metadata"].get("namespace"), dep["metadata"]["name"]
            if orphaning:
                with contextlib.suppress(NotFound):
                    self.store.patch(kind, namespace, name, orphan)
            else:  # foreground all the way down: each dependent waits for its own
                self._delete(kind, namespace, name, DeleteOptions(propagation="Foreground"))
        if orphaning or not found:
            done = ORPHAN if orphaning else FOREGROUND

            def release(obj: dict) -> None:
                left = [f for f in obj["metadata"].get("finalizers") or [] if f != done]
                obj["metadata"]["finalizers"] = left

            with contextlib.suppress(NotFound):
                self.store.patch(owner["kind"], meta.get("namespace"), meta["name"], release)

    def _owner_alive(self, obj: dict, ref: dict) -> bool:
        res = self.store.resource(ref.get("kind", ""))
        if res is None:
            return True  # an owner kind that is not served cannot be checked: keep, as the GC does
        owner = self.store.get(res.kind, obj["metadata"].get("namespace"), ref.get("name", ""))
        return owner is not None and ref.get("uid") in (None, owner["metadata"]["uid"])
