"""The store's change log: resourceVersions, a bounded event history, watch waits, fan-out.

Every write to the object store is recorded here under the store's lock: the global
resourceVersion is bumped, the event is appended to a bounded history (watches replay from it;
asking for a version older than what is retained raises Gone), blocked watches are woken, and
the event is queued for subscribers, which are called later outside the lock, in order.
`as_seen` says what one filtered watcher sees of an event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import NamedTuple

log = logging.getLogger(__name__)


class Gone(Exception):
    """The requested resourceVersion is older than the retained event history."""


class Event(NamedTuple):
    """One recorded change; `prev` is the object before a MODIFIED."""

    rv: int
    type: str
    obj: dict
    prev: dict | None


class EventLog:
    """Resource versions, history and subscribers of one object store."""

    def __init__(self, lock: threading.RLock, history: int, clone: Callable[[dict], dict]) -> None:
        self._changed = threading.Condition(lock)
        self._clone = clone
        self.rv = 1
        self._history: deque[Event] = deque()
        self._size = history
        self._floor = 0  # events with rv <= floor were dropped from the history
        self._subscribers: list[Callable[[str, dict], None]] = []
        self._pending: deque[tuple[str, dict]] = deque()
        self._guard = threading.Lock()
        self._dispatching = False

    def record(self, etype: str, obj: dict, prev: dict | None) -> None:
        """Stamp obj with the next resourceVersion and log it (caller holds the store lock)."""
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        if len(self._history) >= self._size:
            self._floor = self._history.popleft().rv
        self._history.append(Event(self.rv, etype, obj, prev))
        with self._guard:
            self._pending.append((etype, obj))
        self._changed.notify_all()

    def wait_after(
        self, cursor: int, deadline: float, stop: threading.Event | None
    ) -> list[Event] | None:
        """Events newer than cursor, blocking until there are some; None at deadline or stop."""
        with self._changed:
            while self.rv <= cursor:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (stop is not None and stop.is_set()):
                    return None
                self._changed.wait(remaining)
            if cursor < self._floor:
                raise Gone(f"too old resource version: {cursor} ({self._floor + 1})")
            batch = []
            for event in reversed(self._history):
                if event.rv <= cursor:
                    break
                batch.append(event)
            batch.reverse()
            return batch

    def wake(self) -> None:
        """Make blocked waits re-check their deadline and stop event."""
        with self._changed:
            self._changed.notify_all()

    def subscribe(self, callback: Callable[[str, dict], None]) -> None:
        """Add a subscriber (see ObjectStore.subscribe)."""
        with self._guard:
            self._subscribers.append(callback)

    def dispatch(self) -> None:
        """Deliver queued events to subscribers; call without holding the store lock.

        Whichever thread finds the queue idle drains it, so delivery follows resourceVersion
        order even when several threads write and when callbacks write themselves.
        """
        with self._guard:
            if self._dispatching:
                return
            self._dispatching = True
        while True:
            with self._guard:
                if not self._pending:
                    self._dispatching = False
                    return
                etype, obj = self._pending.popleft()
                callbacks = list(self._subscribers)
            for callback in callbacks:
                try:
                    callback(etype, self._clone(obj))
                except Exception:
                    log.exception("store subscriber %r failed on %s", callback, etype)


def as_seen(
    event: Event, kind: str, namespace: str | None, matches: Callable[[dict], bool]
) -> tuple[str, dict] | None:
    """The event as a filtered watcher sees it: leaving the selection reads as DELETED.

    The returned object may be the logged one: callers copy before handing it out.
    """
    meta = event.obj.get("metadata", {})
    if event.obj.get("kind") != kind or namespace not in (None, meta.get("namespace")):
        return None
    now = matches(event.obj)
    if event.type != "MODIFIED" or event.prev is None:
        return (event.type, event.obj) if now else None
    before = matches(event.prev)
    if now:
        return ("MODIFIED" if before else "ADDED", event.obj)
    if before:
        # the last state the watcher could see, stamped with the version that hid it
        prev = {
            **event.prev,
            "metadata": {**event.prev["metadata"], "resourceVersion": str(event.rv)},
        }
        return ("DELETED", prev)
    return None
