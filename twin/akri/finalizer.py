"""The agent's finalizer on Configurations (docs/facts.md#configuration-finalizer).

The agent puts its node's name as a finalizer on every Configuration and takes it off one being
deleted (which is then no longer discovered for); the Configuration's Instances go once it is
gone. Fault `no-config-cleanup`: the deletion is never acted on, as when no agent runs at that
moment: the finalizer, the Configuration (Terminating) and its Instances stay.
"""

from __future__ import annotations

from typing import Any

from twin.akri.controller import key_of


def finalize(store: Any, node: str, stuck: bool, every: list[dict], udev: list[dict]) -> list[dict]:
    """Add or drop this node's finalizer; return the udev Configurations still discovered for."""
    for cfg in every:
        held = node in (cfg["metadata"].get("finalizers") or [])
        deleting = bool(cfg["metadata"].get("deletionTimestamp"))
        if deleting and held and not stuck:
            store.patch("Configuration", *key_of(cfg), lambda c: _drop(c, node))
        elif not deleting and not held:
            store.patch("Configuration", *key_of(cfg), lambda c: _add(c, node))
    return udev if stuck else [c for c in udev if not c["metadata"].get("deletionTimestamp")]


def _add(cfg: dict, node: str) -> None:
    cfg["metadata"]["finalizers"] = [*(cfg["metadata"].get("finalizers") or []), node]


def _drop(cfg: dict, node: str) -> None:
    cfg["metadata"]["finalizers"] = [
        f for f in cfg["metadata"].get("finalizers") or [] if f != node
    ]
