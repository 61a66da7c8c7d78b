"""The twin's `microk8s helm3`: repositories, search, install/upgrade, list, status, uninstall.

A model of Helm 3.18 driving the twin's object store, with Helm's output formats and error texts.
Charts come from `twin.charts` (catalogue, values, CRDs, templates); flags, values, release
records and repositories are `twin.helm.flags`, `.values`, `.releases` and `.repos`; the objects
reach the store through `twin.helm.apply` (CRDs on install only, kept by uninstall,
docs/facts.md#helm-cleanup-hook; never created under the `no-akri-crds` fault, which makes the
install fail the way Helm does when a manifest's kind has no mapping). `--wait` waits on the store
with a deadline (`twin.helm.ready`, Helm's readiness rules for Deployments and DaemonSets);
nothing sleeps.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import yaml

from twin.charts import catalogue
from twin.charts.templates import RenderError, render
from twin.helm.apply import ReleaseObjects, install_order
from twin.helm.flags import Flags, HelmError, go_duration, parse_flags
from twin.helm.ready import ready
from twin.helm.releases import Release, dump, list_table, status_text
from twin.helm.repos import Repositories
from twin.helm.values import merge_maps, user_values

VERSION = (
    'version.BuildInfo{Version:"v3.18.6", GitCommit:"b76a950f6835474e0906b96c9ec68a2eff3a6430",'
    ' GitTreeState:"clean", GoVersion:"go1.24.6"}'
)
UNREACHABLE = (
    'Kubernetes cluster unreachable: Get "https://127.0.0.1:16443/version": '
    "dial tcp 127.0.0.1:16443: connect: connection refused"
)


class Helm:
    """`helm` as the twin runs it: state is the store plus the releases remembered here."""

    def __init__(
        self,
        store: Any,
        faults: frozenset[str] = frozenset(),
        reachable: Callable[[], bool] | None = None,
    ) -> None:
        self._store = store
        self._faults = faults
        self._reachable = reachable or (lambda: True)
        self._repos = Repositories()
        self._objects = ReleaseObjects(store, faults)
        self._releases: dict[tuple[str, str], list[Release]] = {}
        # Held while a command reads or changes releases; never across a --wait.
        self._lock = threading.RLock()
        self._changed = threading.Condition()
        self._generation = 0
        store.subscribe(self._on_change)

    def run(self, argv: list[str], stdin: bytes = b"") -> tuple[int, str, str]:
        """Run one helm command line (without the leading `helm`): (exit code, stdout, stderr)."""
        try:
            args, flags = parse_flags(argv)
            return 0, self._dispatch(args, flags, stdin), ""
        except HelmError as err:
            return 1, err.stdout, f"Error: {err}\n"

    def _dispatch(self, args: list[str], flags: Flags, stdin: bytes) -> str:
        cmd, rest = (args[0], args[1:]) if args else ("", [])
        if cmd == "version":
            return ("v3.18.6+gb76a950" if flags.has("short") else VERSION) + "\n"
        if cmd == "repo":
            return self._repos.command(rest, flags)
        if cmd == "search" and rest[:1] == ["repo"]:
            return self._repos.search(rest[1:], flags)
        if cmd in ("install", "upgrade"):
            return self._install_cmd(cmd, rest, flags, stdin)
        if cmd in ("list", "ls"):
            with self._lock:
                return self._list(flags)
        if cmd == "status" and rest:
            with self._lock:
                return status_text(self._last(rest[0], flags), flags.output)
        if cmd == "get" and rest[:1] == ["values"] and len(rest) > 1:
            with self._lock:
                rel = self._last(rest[1], flags)
            vals = rel.computed if flags.has("all") else rel.user
            if flags.output == "json":
                return json.dumps(vals or None) + "\n"
            head = "COMPUTED VALUES:" if flags.has("all") else "USER-SUPPLIED VALUES:"
            return head + "\n" + (yaml.safe_dump(vals) if vals else "null\n")
        if cmd in ("uninstall", "delete", "del", "un") and rest:
            with self._lock:
                return self._uninstall(rest[0], flags)
        raise HelmError(f'unknown command "{cmd}" for "helm"\nRun \'helm --help\' for usage.')

    # -- releases ------------------------------------------------------------------------------

    def _history(self, name: str, namespace: str) -> list[Release]:
        return self._releases.get((namespace, name), [])

    def _last(self, name: str, flags: Flags) -> Release:
        history = self._history(name, flags.namespace)
        if not history:
            raise HelmError("release: not found")
        return history[-1]

    def _list(self, flags: Flags) -> str:
        if not self._reachable():
            raise HelmError(UNREACHABLE)
        rels = [
            h[-1]
            for (ns, _), h in sorted(self._releases.items())
            if h and (flags.has("all-namespaces") or ns == flags.namespace)
        ]
        rels = [r for r in rels if flags.has("all") or r.status in ("deployed", "failed")]
        rows = [r.list_row() for r in rels]
        if flags.output in ("json", "yaml"):
            return dump(rows, flags.output)
        header = ["NAME", "NAMESPACE", "REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION"]
        return list_table(header, [list(r.values()) for r in rows])

    def _install_cmd(self, cmd: str, args: list[str], flags: Flags, stdin: bytes) -> str:
        upgrade = cmd == "upgrade"
        prefix = "UPGRADE FAILED" if upgrade else "INSTALLATION FAILED"
        if len(args) != 2:
            raise HelmError(f'"helm {cmd}" requires 2 arguments')
        name, ref = args
        waiting = flags.has("wait") or flags.has("atomic")
        try:
            timeout = go_duration(flags.value("timeout") or "5m0s")
            chart = self._repos.resolve(ref, flags.value("version"), flags.value("repo"))
            user = user_values(flags, stdin)
            if not self._reachable():
                raise HelmError(UNREACHABLE)
            with self._lock:
                history = list(self._history(name, flags.namespace))
                live = bool(history) and history[-1].status != "uninstalled"
                note = ""
                if upgrade and not live:
                    if not flags.has("install"):
                        raise HelmError(f'"{name}" has no deployed releases')
                    note, upgrade = f'Release "{name}" does not exist. Installing it now.\n', False
                if not upgrade and live:
                    raise HelmError("cannot re-use a name that is still in use")
                prev = history[-1] if upgrade else None
                # Helm 3 reuses the last values when an upgrade gives none.
                reuse = flags.has("reuse-values") or not user
                if prev is not None and reuse and not flags.has("reset-values"):
                    user = merge_maps(prev.user, user)
                self._ensure_namespace(flags.namespace, flags.has("create-namespace"))
                values = catalogue.coalesce(catalogue.default_values(chart), user)
                objects = sorted(render(chart, name, flags.namespace, values), key=install_order)
                rel = Release(name, flags.namespace, len(history) + 1, chart, user, values)
                rel.status = (
                    ("pending-upgrade" if upgrade else "pending-install") if waiting else rel.status
                )
                rel.description = "Upgrade complete" if upgrade else "Install complete"
                self._deploy(rel, objects, prev, flags)
        except (HelmError, RenderError) as err:
            raise HelmError(f"{prefix}: {err}") from None
        if waiting:
            self._wait(rel, objects, timeout, flags, prefix)
        head = f'Release "{name}" has been upgraded. Happy Helming!\n' if upgrade else note
        return head + status_text(rel, flags.output)

    def _ensure_namespace(self, namespace: str, create: bool) -> None:
        if self._store.get("Namespace", None, namespace) is not None:
            return
        if not create:
            raise HelmError(f'create: failed to create: namespaces "{namespace}" not found')
        self._store.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        )

    def _deploy(
        self, rel: Release, objects: list[dict], prev: Release | None, flags: Flags
    ) -> None:
        """Apply the release's objects and record it; failed if some kind had no mapping."""
        errors = self._objects.apply(rel, objects, prev, flags)
        self._releases.setdefault((rel.namespace, rel.name), []).append(rel)
        if errors:
            what = "new release manifest" if prev else "release manifest"
            rel.status = "failed"
            rel.description = f"Release {rel.name!r} failed: {errors[0]}"
            raise HelmError(f"unable to build kubernetes objects from {what}: {errors[0]}")

    def _uninstall(self, name: str, flags: Flags) -> str:
        history = self._history(name, flags.namespace)
        if not history:
            raise HelmError(f"uninstall: Release not loaded: {name}: release: not found")
        rel = history[-1]
        cleanup = rel.computed.get("cleanupHook", {}).get("enabled")
        if cleanup and not flags.has("no-hooks") and self._store.resource("Configuration"):
            # The pre-delete Job runs `kubectl delete configurations.akri.sh --all -A`.
            for cfg in self._store.list("Configuration")[0]:
                meta = cfg["metadata"]
                self._store.delete("Configuration", meta.get("namespace"), meta["name"])
        # CRDs (crds/) and the certgen Secret are not part of the release: they stay.
        self._objects.delete(rel.keys)
        if flags.has("keep-history"):
            rel.status, rel.description = "uninstalled", "Deletion in progress (or silently failed)"
        else:
            del self._releases[(rel.namespace, name)]
        return f'release "{name}" uninstalled\n'

    # -- --wait --------------------------------------------------------------------------------

    def _on_change(self, _type: str, _obj: dict) -> None:
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def _wait(
        self, rel: Release, objects: list[dict], timeout: float, flags: Flags, prefix: str
    ) -> None:
        """Helm's --wait: until every workload is ready or the deadline passes."""
        deadline = time.monotonic() + timeout
        while True:
            with self._changed:
                seen = self._generation
            if all(ready(self._store, o) for o in objects):
                with self._lock:
                    rel.status = "deployed"
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            with self._changed:
                if self._generation == seen:
                    self._changed.wait(remaining)
        with self._lock:
            rel.status = "failed"
            rel.description = f"Release {rel.name!r} failed: context deadline exceeded"
            if flags.has("atomic"):
                self._uninstall(rel.name, Flags.of(namespace=rel.namespace))
                raise HelmError(
                    f"{prefix}: release {rel.name} failed, and has been uninstalled due to atomic "
                    "being set: context deadline exceeded"
                )
        raise HelmError(f"{prefix}: context deadline exceeded")
