"""`kubectl get`, `describe` and `delete` by type and name: target resolution and output formats.

Targets are `TYPE [NAME...]`, `TYPE1,TYPE2`, `TYPE/NAME...` or `all`, narrowed by `-l` and
`--field-selector`, in `-n NS` (default "default") or `-A`. Output: tables (default, `wide`,
`--show-labels`, `--no-headers`), `json`, `yaml` (kubectl's sorted keys; one object when one was
named, else a `List`), `name`, `jsonpath=...` and `custom-columns=...`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import yaml

from twin.kubeapi.store import NotFound, ObjectStore
from twin.kubectl.args import Args
from twin.kubectl.cells import NONE, tabulate
from twin.kubectl.describe import describe
from twin.kubectl.jsonpath import JsonPathError, relaxed, render
from twin.kubectl.resources import KType, crd_for, known_types, not_found, resolve
from twin.kubectl.tables import COLUMNS, crd_columns, labels_text, table

FORMATS = (
    "custom-columns,custom-columns-file,go-template,go-template-file,json,jsonpath,"
    "jsonpath-as-json,jsonpath-file,name,template,templatefile,wide,yaml"
)


class Failure(Exception):
    """The command fails: print `message` on stderr and exit with `rc`."""

    def __init__(self, message: str, rc: int = 1) -> None:
        super().__init__(message)
        self.message, self.rc = message, rc


@dataclass
class Found:
    """The objects a command addressed, plus the errors for the names that do not exist."""

    groups: list[tuple[KType, list[dict]]]
    errors: list[str]
    single: bool

    @property
    def objects(self) -> list[dict]:
        """All objects found, in order."""
        return [obj for _, objs in self.groups for obj in objs]


def _expand(store: ObjectStore, word: str) -> list[KType]:
    if word.lower() != "all":
        return [resolve(store, word)]
    # the `all` category as discovery publishes it: built-in kinds, then CRDs that declare it
    return [t for t in known_types(store) if "all" in t.categories]


def find(store: ObjectStore, args: Args, words: list[str]) -> Found:
    """Resolve targets and fetch them (raises Failure for unusable arguments)."""
    if not words:
        raise Failure(
            'error: you must specify the type of resource to get. Use "kubectl '
            'api-resources" for a complete list of supported resources.'
        )
    wanted: list[tuple[KType, list[str]]] = []
    if "/" in words[0]:
        for word in words:
            kind, sep, name = word.partition("/")
            if not sep:
                raise Failure(
                    "error: there is no need to specify a resource type as a separate "
                    "argument when passing arguments in resource/name form"
                )
            wanted.append((resolve(store, kind), [name]))
    else:
        for word in words[0].split(","):
            wanted += [(t, words[1:]) for t in _expand(store, word)]
    everywhere = args.on("all_namespaces")
    namespace = args.get("namespace") or "default"
    if everywhere and any(names for _, names in wanted):
        raise Failure("error: a resource cannot be retrieved by name across all namespaces")
    groups, errors = [], []
    for ktype, names in wanted:
        ns = None if everywhere or not ktype.namespaced else namespace
        if names:
            objs = []
            for name in names:
                obj = store.get(ktype.kind, ns, name)
                if obj is None:
                    errors.append(not_found(ktype, name))
                else:
                    objs.append(obj)
        else:
            try:
                objs = store.list(ktype.kind, ns, args.get("selector"), args.get("field_selector"))[
                    0
                ]
            except ValueError as exc:
                raise Failure(f"Error from server (BadRequest): {exc}") from exc
        groups.append((ktype, objs))
    single = len(wanted) == 1 and len(wanted[0][1]) == 1
    return Found(groups, errors, single)


def nothing_found(args: Args, found: Found) -> str:
    """kubectl's "No resources found" line for an empty result."""
    namespaced = any(t.namespaced for t, _ in found.groups)
    if args.on("all_namespaces") or not namespaced:
        return "No resources found\n"
    return f"No resources found in {args.get('namespace') or 'default'} namespace.\n"


def _as_list(objs: list[dict]) -> dict:
    return {"apiVersion": "v1", "items": objs, "kind": "List", "metadata": {"resourceVersion": ""}}


def _columns(store: ObjectStore, ktype: KType, args: Args) -> list | None:
    columns = crd_columns(crd_for(store, ktype)) if crd_for(store, ktype) else None
    if args.on("show_labels"):
        base = columns if columns is not None else COLUMNS.get(ktype.kind, [])
        columns = [*base, ("LABELS", lambda o: labels_text(o["metadata"].get("labels")), False)]
    return columns


def render_found(store: ObjectStore, args: Args, found: Found) -> str:
    """The stdout of `kubectl get` for what was found."""
    output = args.get("output") or ""
    objs = found.objects
    data = objs[0] if found.single and objs else _as_list(objs)
    if output == "json":
        return json.dumps(data, indent=4, sort_keys=True, ensure_ascii=False) + "\n"
    if output == "yaml":
        return yaml.safe_dump(data, sort_keys=True, default_flow_style=False, allow_unicode=True)
    if output == "name":
        return "".join(f"{t.ref}/{o['metadata']['name']}\n" for t, os_ in found.groups for o in os_)
    if output.startswith("jsonpath="):
        try:
            return render(output[len("jsonpath=") :].strip("'"), data)
        except JsonPathError as exc:
            raise Failure(f"error: error parsing jsonpath {output[9:]}, {exc}") from exc
    if output.startswith("custom-columns="):
        specs = [c.split(":", 1) for c in output[len("custom-columns=") :].split(",")]
        rows = [[h for h, _ in specs]] if not args.on("no_headers") else []
        rows += [[render(relaxed(p), o) or NONE for _, p in specs] for o in objs]
        return tabulate(rows)
    if output not in ("", "wide"):
        raise Failure(
            f"error: unable to match a printer suitable for the output format "
            f'"{output}", allowed formats are: {FORMATS}'
        )
    blocks = []
    several = len(found.groups) > 1
    for ktype, items in found.groups:
        if items:
            blocks.append(
                table(
                    ktype.kind,
                    items,
                    wide=output == "wide",
                    namespaces=args.on("all_namespaces") and ktype.namespaced,
                    headers=not args.on("no_headers"),
                    columns=_columns(store, ktype, args),
                    prefix=f"{ktype.ref}/" if several else "",
                )
            )
    return "\n".join(blocks)


def get(store: ObjectStore, args: Args) -> tuple[int, str, str]:
    """kubectl get."""
    if args.on("watch"):
        raise Failure("error: watching (-w) is not supported by this kubectl")
    found = find(store, args, args.positional)
    if sort_by := args.get("sort_by"):
        for _, objs in found.groups:
            objs.sort(key=lambda o: render(relaxed(sort_by), o))
    # a named object that does not exist prints only the error, even for -o json
    out = render_found(store, args, found) if found.objects or not found.errors else ""
    err = "".join(e + "\n" for e in found.errors)
    if not found.objects and not found.errors and (args.get("output") or "") in ("", "wide"):
        err += nothing_found(args, found)
    return (1 if found.errors else 0), out, err


def describe_cmd(store: ObjectStore, args: Args) -> tuple[int, str, str]:
    """kubectl describe."""
    found = find(store, args, args.positional)
    texts = [describe(obj, store) for obj in found.objects]
    err = "".join(e + "\n" for e in found.errors)
    if not found.objects and not found.errors:
        err += nothing_found(args, found)
    return (1 if found.errors else 0), "\n".join(texts), err


def delete(store: ObjectStore, args: Args) -> tuple[int, str, str]:
    """kubectl delete TYPE NAME... | TYPE/NAME | TYPE -l SEL | TYPE --all."""
    words = args.positional
    named = len(words) > 1 or (words and "/" in words[0])
    if not named and not args.get("selector") and not args.on("all"):
        raise Failure("error: resource(s) were provided, but no name was specified")
    found = find(store, args, words)
    out, errors = [], [] if args.on("ignore_not_found") else list(found.errors)
    for ktype, objs in found.groups:
        for obj in objs:
            meta = obj["metadata"]
            try:
                store.delete(ktype.kind, meta.get("namespace"), meta["name"])
            except NotFound:
                if not args.on("ignore_not_found"):
                    errors.append(not_found(ktype, meta["name"]))
                continue
            out.append(f'{ktype.ref} "{meta["name"]}" deleted\n')
    err = "".join(e + "\n" for e in errors)
    if not named and not found.objects:
        err += nothing_found(args, found)
    return (1 if errors else 0), "".join(out), err
