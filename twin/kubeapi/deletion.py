"""How the twin's API server deletes: graceful pods, finalizers, propagation.

Graceful pod deletion as docs/facts.md#graceful-deletion describes it.

kube-apiserver rarely removes an object at once. A pod bound to a node gets
`metadata.deletionTimestamp` (now + its grace period, `terminationGracePeriodSeconds` unless the
DeleteOptions say otherwise) and `deletionGracePeriodSeconds`, and stays, Terminating, until the
kubelet has stopped its containers and deletes it again with a grace period of 0; an unbound or
finished pod goes at once. Any object with finalizers keeps existing with a deletionTimestamp
until its last finalizer is removed. `propagationPolicy: Foreground` and `Orphan` add the
`foregroundDeletion` / `orphan` finalizers the garbage collector works off; `Background` (the
default) removes the owner first and lets the collector delete the dependents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from twin.kubeapi.meta import stamp

PROPAGATIONS = ("Background", "Foreground", "Orphan")
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


class PreconditionFailed(Exception):
    """The DeleteOptions preconditions (uid, resourceVersion) do not match: the server's 409."""


@dataclass(frozen=True)
class DeleteOptions:
    """The parts of metav1.DeleteOptions the twin honours."""

    grace_seconds: int | None = None
    propagation: str | None = None
    dry_run: bool = False
    preconditions: dict[str, str] = field(default_factory=dict)  # uid / resourceVersion


def grace_period(obj: dict, options: DeleteOptions) -> int:
    """The pod strategy's grace period (0 for every other kind, and for unbound or done pods)."""
    if obj.get("kind") != "Pod":
        return 0
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    period = options.grace_seconds
    if period is None:
        period = int(spec.get("terminationGracePeriodSeconds", 30))
    if not spec.get("nodeName") or status.get("phase") in ("Failed", "Succeeded"):
        return 0
    return max(0, period)


def check_preconditions(current: dict, options: DeleteOptions) -> None:
    """Raise PreconditionFailed when the object is not the one the caller meant."""
    meta = current["metadata"]
    for key, wanted in options.preconditions.items():
        if wanted and meta.get(key) != wanted:
            label = {"uid": "UID", "resourceVersion": "ResourceVersion"}.get(key, key)
            raise PreconditionFailed(
                f"Precondition failed: {label} in precondition: {wanted}, {label} in object "
                f"meta: {meta.get(key)}"
            )


def mark_deleted(current: dict, options: DeleteOptions, now: datetime | None = None) -> dict | None:
    """The object as a DELETE leaves it, or None when it is to be removed now.

    A second DELETE of an object already being deleted only ever shortens its grace period.
    """
    moment: datetime | None = now or datetime.now(UTC)
    new = {**current, "metadata": dict(current["metadata"])}
    meta = new["metadata"]
    finalizers = list(meta.get("finalizers") or [])
    if options.propagation == "Foreground" and FOREGROUND not in finalizers:
        finalizers.append(FOREGROUND)
    elif options.propagation == "Orphan" and ORPHAN not in finalizers:
        finalizers.append(ORPHAN)
    period = grace_period(current, options)
    if meta.get("deletionTimestamp") and period >= int(meta.get("deletionGracePeriodSeconds") or 0):
        period = int(meta.get("deletionGracePeriodSeconds") or 0)
        moment = None  # the deletion already under way keeps its deadline
    if period == 0 and not finalizers:
        return None
    if moment is not None:
        meta["deletionTimestamp"] = stamp(moment + timedelta(seconds=period))
        meta["deletionGracePeriodSeconds"] = period
    if finalizers:
        meta["finalizers"] = finalizers
    return new


def removable(obj: dict) -> bool:
    """True once an object being deleted has no finalizer left and no grace period to wait."""
    meta = obj.get("metadata") or {}
    return (
        bool(meta.get("deletionTimestamp"))
        and not meta.get("finalizers")
        and not int(meta.get("deletionGracePeriodSeconds") or 0)
    )


def keep_deletion_state(new: dict, current: dict) -> list[str]:
    """Carry the server-owned deletion fields over an update; return finalizers it may not add.

    Clients cannot set or move a deletionTimestamp, and cannot add finalizers to an object
    that is being deleted (the validation error names them).
    """
    meta, cur = new.setdefault("metadata", {}), current["metadata"]
    for key in ("deletionTimestamp", "deletionGracePeriodSeconds"):
        meta.pop(key, None)
        if key in cur:
            meta[key] = cur[key]
    if not cur.get("deletionTimestamp"):
        return []
    return [f for f in meta.get("finalizers") or [] if f not in (cur.get("finalizers") or [])]
