"""Object metadata as the API server and controllers write it: timestamps, names, owners.

Timestamps are RFC 3339 in UTC to the second (`2026-11-30T09:15:00Z`), as kube-apiserver writes
creationTimestamp; generated name suffixes are drawn from the alphabet Kubernetes uses for
`generateName` and controllers' pod names (no vowels, no look-alike digits); a controller's
ownerReference names its owner by kind, name and uid.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def stamp(moment: datetime) -> str:
    """A moment as the API server writes timestamps (RFC 3339, seconds, Z)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def now() -> str:
    """The current time as the API server writes timestamps."""
    return stamp(datetime.now(UTC))


def suffix(length: int = 5) -> str:
    """A random name suffix like the ones generateName and controllers append."""
    return "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(length))


def owner_ref(owner: dict) -> dict:
    """A controller ownerReference pointing at `owner` (a stored object)."""
    meta = owner["metadata"]
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
