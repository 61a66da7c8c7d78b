"""`kubectl apply|create|delete -f`: manifests from stdin or a file, one document at a time.

Apply is client-side apply as kubectl does it: the manifest is remembered in the
`kubectl.kubernetes.io/last-applied-configuration` annotation, and the next apply is a
three-way merge (fields dropped from the manifest since the last apply are removed, fields the
server or controllers own are kept). It prints `<kind>.<group>/<name> created|configured|
unchanged` per document and keeps going after an error, exiting 1 at the end, like kubectl.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from twin.kubeapi.store import Conflict, NotFound, ObjectStore
from twin.kubectl.resources import KType, known_types

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


@dataclass
class Outcome:
    """What one invocation printed and whether anything failed."""

    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)

    @property
    def rc(self) -> int:
        """kubectl's exit code: 1 if any document failed."""
        return 1 if self.err else 0


def read_documents(filename: str, stdin: bytes) -> tuple[str, list[dict]]:
    """(source name for messages, the non-empty documents); raises ValueError with kubectl text."""
    if filename == "-":
        source, text = "STDIN", stdin.decode()
    else:
        path = Path(filename)
        if not path.exists():
            raise ValueError(f'error: the path "{filename}" does not exist')
        source, text = filename, path.read_text()
    try:
        docs = [d for d in yaml.safe_load_all(text) if d]
    except yaml.YAMLError as exc:
        raise ValueError(f"error: error parsing {source}: {exc}") from exc
    flat: list[dict] = []
    for doc in docs:
        if not isinstance(doc, dict):
            raise ValueError(f"error: error parsing {source}: not a Kubernetes object")
        flat += doc.get("items") or [] if doc.get("kind", "").endswith("List") else [doc]
    return source, flat


def _type_of(store: ObjectStore, doc: dict) -> KType | None:
    group, _, version = str(doc.get("apiVersion", "")).rpartition("/")
    for ktype in known_types(store):
        if ktype.kind == doc.get("kind") and ktype.group == group:
            res = store.resource(ktype.kind)
            if res is not None and (version == res.version or _served(store, ktype, version)):
                return ktype
    return None


def _served(store: ObjectStore, ktype: KType, version: str) -> bool:
    return store.resource_for(ktype.group, version, ktype.plural) is not None


_MERGE_KEYS = ("containerPort", "port", "name", "mountPath", "devicePath")


def _merge_key(items: list) -> str | None:
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    return next((k for k in _MERGE_KEYS if all(k in i for i in items)), None)


def _merge(current: object, new: object, last: object) -> object:
    """Three-way merge: maps key by key, lists of named items (containers, env, ports) by key."""
    if isinstance(current, dict) and isinstance(new, dict):
        previous = last if isinstance(last, dict) else {}
        merged = dict(current)
        for key, value in new.items():
            merged[key] = _merge(current.get(key), value, previous.get(key))
        for key in previous:
            if key not in new:
                merged.pop(key, None)
        return merged
    if isinstance(current, list) and isinstance(new, list) and (key := _merge_key(new)):
        old = {i.get(key): i for i in current if isinstance(i, dict)}
        before = (
            {i.get(key): i for i in last if isinstance(i, dict)} if isinstance(last, list) else {}
        )
        return [_merge(old.get(i[key]), i, before.get(i[key])) for i in new]
    return copy.deepcopy(new)


@dataclass
class ManifestRunner:
    """Runs apply/create/delete for the documents of one `-f`."""

    store: ObjectStore
    namespace: str | None
    dry_run: str | None = None

    def _prepare(self, doc: dict, source: str, result: Outcome) -> tuple[KType, str | None] | None:
        missing = [f"{f} not set" for f in ("apiVersion", "kind") if not doc.get(f)]
        if missing:
            result.err.append(
                f'error: error validating "{source}": error validating data: '
                f"[{', '.join(missing)}]; if you choose to ignore these errors, "
                "turn validation off with --validate=false"
            )
            return None
        ktype = _type_of(self.store, doc)
        name = (doc.get("metadata") or {}).get("name")
        if ktype is None:
            result.err.append(
                f'error: resource mapping not found for name: "{name}" namespace: '
                f'"" from "{source}": no matches for kind "{doc["kind"]}" in version '
                f'"{doc["apiVersion"]}"\nensure CRDs are installed first'
            )
            return None
        if not name:
            result.err.append(
                f'error: error when retrieving current configuration from "{source}"'
                ": resource name may not be empty"
            )
            return None
        if not ktype.namespaced:
            doc["metadata"].pop("namespace", None)
            return ktype, None
        ns = doc["metadata"].get("namespace")
        if self.namespace and ns and ns != self.namespace:
            result.err.append(
                f'error: the namespace from the provided object "{ns}" does not '
                f'match the namespace "{self.namespace}". You must pass '
                f"'--namespace={ns}' to perform this operation."
            )
            return None
        ns = ns or self.namespace or "default"
        doc["metadata"]["namespace"] = ns
        if self.store.get("Namespace", None, ns) is None:
            result.err.append(
                f'Error from server (NotFound): error when creating "{source}": '
                f'namespaces "{ns}" not found'
            )
            return None
        return ktype, ns

    def _documents(
        self, docs: list[dict], source: str, result: Outcome
    ) -> Iterator[tuple[dict, KType, str | None, str]]:
        """Each usable document as a copy, with its type, namespace and name (refusals: result)."""
        for doc in docs:
            doc = copy.deepcopy(doc)
            doc.setdefault("metadata", {})
            prepared = self._prepare(doc, source, result)
            if prepared is not None:
                yield doc, *prepared, doc["metadata"]["name"]

    def _suffix(self) -> str:
        return {"client": " (dry run)", "server": " (server dry run)"}.get(self.dry_run or "", "")

    def apply(self, docs: list[dict], source: str, create_only: bool = False) -> Outcome:
        """kubectl apply -f (or create -f with create_only)."""
        result = Outcome()
        for doc, ktype, ns, name in self._documents(docs, source, result):
            doc.pop("status", None)
            ref = f"{ktype.ref}/{name}"
            current = self.store.get(ktype.kind, ns, name)
            if create_only and current is not None:
                result.err.append(
                    f"Error from server (AlreadyExists): error when creating "
                    f'"{source}": {ktype.qualified} "{name}" already exists'
                )
                continue
            if not create_only:
                applied = copy.deepcopy(doc)
                applied["metadata"].get("annotations", {}).pop(LAST_APPLIED, None)
                annotations = doc["metadata"].setdefault("annotations", {})
                annotations[LAST_APPLIED] = json.dumps(applied, separators=(",", ":")) + "\n"
            try:
                verb = self._patch(ktype, ns, name, current, doc)
            except (Conflict, NotFound, ValueError) as exc:
                result.err.append(f'Error from server: error when applying "{source}": {exc}')
                continue
            result.out.append(f"{ref} {verb}{self._suffix()}")
        return result

    def _patch(self, ktype: KType, ns: str, name: str, current: dict | None, doc: dict) -> str:
        """kubectl apply PATCHes: the server merges into the object as it is now, so a controller
        writing the status meanwhile is no conflict; the twin merges into a fresh read instead."""
        for _ in range(3):
            try:
                return self._write(ktype, current, doc)
            except Conflict:
                current = self.store.get(ktype.kind, ns, name)
        return self._write(ktype, current, doc)

    def _write(self, ktype: KType, current: dict | None, doc: dict) -> str:
        if current is None:
            if not self.dry_run:
                self.store.create(doc)
            return "created"
        last_text = (current["metadata"].get("annotations") or {}).get(LAST_APPLIED)
        last = json.loads(last_text) if last_text else {}
        merged = _merge(current, doc, last)
        if merged == current:
            return "unchanged"
        if not self.dry_run:
            self.store.update(merged)
        return "configured"

    def delete(self, docs: list[dict], source: str, ignore_not_found: bool) -> Outcome:
        """kubectl delete -f."""
        result = Outcome()
        for _doc, ktype, ns, name in self._documents(docs, source, result):
            try:
                if not self.dry_run:
                    self.store.delete(ktype.kind, ns, name)
                elif self.store.get(ktype.kind, ns, name) is None:
                    raise NotFound(name)
            except NotFound:
                if not ignore_not_found:
                    result.err.append(
                        f"Error from server (NotFound): error when deleting "
                        f'"{source}": {ktype.qualified} "{name}" not found'
                    )
                continue
            result.out.append(f'{ktype.ref} "{name}" deleted{self._suffix()}')
        return result
