"""The agent's restarts: after one, this node's Instances are deleted and applied again.

A restarted agent (every Akri pod restarts after a reboot) cannot reconcile until the udev
discovery handler has registered again; then it deletes this node's Instances and re-applies
them: the same names, new UIDs, so their brokers and services are re-created too
(docs/facts.md#broker-replacement). The agent's incarnation is its containers' ids as the
kubelet reports them; a new one is a restart. The modelled re-registration takes
REREGISTER_SECONDS (on a real node: the handler retries every 10 s and the agent backs off 1, 2,
4, 8 s..., so tens of seconds).
"""

from __future__ import annotations

REREGISTER_SECONDS = 2.0


def _incarnation(pods: list[dict]) -> frozenset[str]:
    return frozenset(
        c.get("containerID", "")
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
        for c in (p.get("status") or {}).get("containerStatuses") or []
        if c.get("ready") and c.get("containerID")
    )


class AgentRestarts:
    """When the agent restarted, and whether its re-application of Instances is still due."""

    def __init__(self) -> None:
        self._seen: frozenset[str] = frozenset()
        self._due: float | None = None

    def check(self, agent_pods: list[dict], now: float) -> float | None:
        """None: reconcile as usual; a time: the handler re-registers then (wait until it)."""
        ids = _incarnation(agent_pods)
        if ids and self._seen and ids != self._seen and self._due is None:
            self._due = now + REREGISTER_SECONDS
        if ids:
            self._seen = ids
        return self._due

    def reapplied(self) -> None:
        """The Instances were deleted for re-application: back to reconciling as usual."""
        self._due = None
