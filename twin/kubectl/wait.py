"""`kubectl wait` and `kubectl rollout status`: block until objects reach a state, or time out.

Waits are event-driven: a Condition is notified on every store change and the check runs again,
bounded by the command's deadline (`--timeout`, kubectl's default 30 s for wait; "forever" for
rollout status, cut short when the twin shuts down). Supported: `--for=condition=X[=value]`,
`--for=delete`, `--for=jsonpath={...}=value`.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

from twin.kubeapi.store import ObjectStore
from twin.kubectl.args import Args
from twin.kubectl.get import Failure, find
from twin.kubectl.jsonpath import JsonPathError, render
from twin.kubectl.resources import KType

FOREVER = 3600.0
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def parse_duration(text: str) -> float:
    """A Go duration ("30s", "5m", "1h30m", "0") in seconds; raises ValueError."""
    if text.strip().isdigit():
        return float(text)
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise ValueError(
            f'invalid argument "{text}" for "--timeout" flag: time: invalid duration "{text}"'
        )
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * scale[u] for n, u in parts)


def condition_check(spec: str) -> Callable[[dict | None], bool]:
    """The predicate of a --for value; raises ValueError with kubectl's text."""
    if spec == "delete":
        return lambda obj: obj is None
    if spec.startswith("condition="):
        ctype, _, want = spec[len("condition=") :].partition("=")
        want = want or "True"

        def has_condition(obj: dict | None) -> bool:
            conditions = ((obj or {}).get("status") or {}).get("conditions") or []
            return any(
                c.get("type", "").lower() == ctype.lower()
                and str(c.get("status", "")).lower() == want.lower()
                for c in conditions
            )

        return has_condition
    if spec.startswith("jsonpath="):
        body = spec[len("jsonpath=") :]
        end = body.rfind("}")
        template, want = body[: end + 1].strip("'\""), body[end + 1 :].lstrip("'\"=")
        try:
            render(template, {})
        except JsonPathError as exc:
            raise ValueError(f"error: {exc}") from exc
        return lambda obj: obj is not None and render(template, obj).strip() == want
    raise ValueError(f"error: unrecognized condition: {spec!r}")


class Waiter:
    """Blocks on store changes until a check passes, the deadline passes or close() is called."""

    def __init__(self, store: ObjectStore) -> None:
        self._changed = threading.Condition()
        self._closed = False
        store.subscribe(self._notify)

    def _notify(self, _type: str, _obj: dict) -> None:
        with self._changed:
            self._changed.notify_all()

    def close(self) -> None:
        """Release every blocked wait."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def until(self, check: Callable[[], bool], timeout: float) -> bool:
        """True once check() holds; False at the deadline or after close()."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not check():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    return False
                self._changed.wait(remaining)
        return True


def rollout_state(ktype: KType, obj: dict | None) -> tuple[bool, str]:
    """(done, message) for `kubectl rollout status` of a Deployment or DaemonSet."""
    if obj is None:
        return False, ""
    name, spec, status = obj["metadata"]["name"], obj["spec"], obj.get("status") or {}
    if status.get("observedGeneration", 0) < obj["metadata"].get("generation", 1):
        return False, f"Waiting for {ktype.singular} spec update to be observed..."
    if ktype.kind == "DaemonSet":
        want = status.get("desiredNumberScheduled", 0)
        have = status.get("numberAvailable", 0)
        if status.get("updatedNumberScheduled", 0) >= want and have >= want:
            return True, f'daemon set "{name}" successfully rolled out'
        return False, (
            f'Waiting for daemon set "{name}" rollout to finish: {have} of {want} '
            "updated pods are available..."
        )
    want = spec.get("replicas", 1)
    updated, have = status.get("updatedReplicas", 0), status.get("availableReplicas", 0)
    if updated < want:
        return False, (
            f'Waiting for deployment "{name}" rollout to finish: {updated} out of '
            f"{want} new replicas have been updated..."
        )
    if have < want:
        return False, (
            f'Waiting for deployment "{name}" rollout to finish: {have} of {want} '
            "updated replicas are available..."
        )
    return True, f'deployment "{name}" successfully rolled out'


def _timeout(args: Args, default: float) -> float:
    text = args.get("timeout")
    if text is None:
        return default
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise Failure(f"error: {exc}") from exc
    return value if value > 0 else FOREVER


def wait_command(store: ObjectStore, waiter: Waiter, args: Args) -> tuple[int, str, str]:
    """kubectl wait --for=... TARGETS [--timeout=30s]."""
    spec = args.get("for")
    if not spec:
        raise Failure("error: --for must be specified")
    try:
        check = condition_check(spec)
    except ValueError as exc:
        raise Failure(str(exc)) from exc
    found = find(store, args, args.positional)
    if found.errors and spec != "delete":
        raise Failure(found.errors[0])
    targets = [(t, o["metadata"]) for t, objs in found.groups for o in objs]
    if not targets and spec == "delete" and found.errors:
        return 0, "", ""  # named objects that are already gone count as deleted
    if not targets:
        raise Failure("error: no matching resources found")
    timeout, out = _timeout(args, 30.0), []
    for ktype, meta in targets:

        def met(t: KType = ktype, m: dict = meta) -> bool:
            return check(store.get(t.kind, m.get("namespace"), m["name"]))

        if not waiter.until(met, timeout):
            message = f"error: timed out waiting for the condition on {ktype.plural}/{meta['name']}"
            return 1, "".join(out), message + "\n"
        out.append(f"{ktype.ref}/{meta['name']} condition met\n")
    return 0, "".join(out), ""


def rollout_command(store: ObjectStore, waiter: Waiter, args: Args) -> tuple[int, str, str]:
    """kubectl rollout status TYPE/NAME [--timeout=...] (Deployments and DaemonSets)."""
    if args.positional[:1] != ["status"] or len(args.positional) < 2:
        raise Failure("error: only `rollout status TYPE/NAME` is supported")
    found = find(store, args, args.positional[1:])
    if found.errors or not found.objects:
        raise Failure(found.errors[0] if found.errors else "error: no resources found")
    ktype, meta = found.groups[0][0], found.objects[0]["metadata"]

    def state() -> tuple[bool, str]:
        return rollout_state(ktype, store.get(ktype.kind, meta["namespace"], meta["name"]))

    done, message = state()
    out = "" if done else message + "\n"
    if not waiter.until(lambda: state()[0], _timeout(args, FOREVER)):
        return 1, out, "error: timed out waiting for the condition\n"
    return 0, out + state()[1] + "\n", ""
