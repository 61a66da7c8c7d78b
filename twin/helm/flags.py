"""Helm's command-line surface for the twin: flags, values, output formats and repositories.

Everything in `helm ...` that does not touch the cluster: cobra-style flag parsing (long, short,
`--flag=value`, unknown-flag errors), user values from `-f` files and `--set`/`--set-string`
(Helm's merge order), Go durations, release rows and status blocks in Helm's table/json/yaml
formats, and the chart repositories with `repo add/list/update/remove` and `search repo`.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from twin.charts import catalogue
from twin.helm.strvals import StrvalsError, parse_set

VALUE_FLAGS = {
    *("namespace", "version", "set", "set-string", "values", "timeout", "output", "repo"),
    *("kubeconfig", "kube-context", "description", "max-col-width", "username", "password"),
}
BOOL_FLAGS = {
    *("create-namespace", "wait", "wait-for-jobs", "atomic", "no-hooks", "debug", "install"),
    *("all-namespaces", "versions", "devel", "all", "force", "dry-run", "keep-history"),
    *("reuse-values", "reset-values", "cleanup-on-fail", "force-update", "skip-crds", "short"),
    *("deployed", "failed", "pending", "uninstalled", "superseded", "no-headers", "regexp"),
}
SHORT = {"n": "namespace", "f": "values", "o": "output", "A": "all-namespaces", "a": "all"}
SHORT |= {"i": "install", "q": "short", "l": "versions"}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")


class HelmError(Exception):
    """A failed helm command: printed as `Error: <message>`, exit 1."""

    stdout = ""


class FlagError(HelmError):
    """A command line cobra refuses before running anything."""


@dataclass
class Flags:
    """Parsed flags: values by long name (repeatable ones keep every value) and switches."""

    values_by_name: dict[str, list[str]] = field(default_factory=dict)
    switches: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, **values: str) -> Flags:
        """Flags built in code (e.g. the uninstall that --atomic runs)."""
        return cls({k: [v] for k, v in values.items()})

    def value(self, name: str) -> str | None:
        """The last value given for a flag, or None."""
        return (self.values_by_name.get(name) or [None])[-1]

    def values(self, name: str) -> list[str]:
        """Every value given for a repeatable flag, in order."""
        return self.values_by_name.get(name, [])

    def has(self, name: str) -> bool:
        """True when a boolean flag is set."""
        return name in self.switches

    @property
    def namespace(self) -> str:
        """-n/--namespace, default `default`."""
        return self.value("namespace") or "default"

    @property
    def output(self) -> str:
        """-o/--output: table, json or yaml."""
        return self.value("output") or "table"


def parse_flags(argv: list[str]) -> tuple[list[str], Flags]:
    """Split argv into positional arguments and Flags, with cobra's errors."""
    args: list[str] = []
    flags = Flags()
    items = iter(argv)
    for item in items:
        if item == "--":
            args.extend(items)
            break
        if not item.startswith("-") or item == "-":
            args.append(item)
            continue
        if item.startswith("--"):
            name, eq, inline = item[2:].partition("=")
        else:
            # -nkube-system, -n=kube-system and -n kube-system are all accepted.
            name, inline = item[1:2], item[2:].removeprefix("=")
            eq = "=" if item[2:] else ""
            if name not in SHORT:
                raise FlagError(f"unknown shorthand flag: '{name}' in {item}")
            name = SHORT[name]
        if name in BOOL_FLAGS:
            if not eq or inline.lower() == "true":
                flags.switches.add(name)
            elif inline.lower() != "false":
                raise FlagError(f'invalid argument "{inline}" for "--{name}" flag')
        elif name in VALUE_FLAGS:
            value = inline if eq else next(items, None)
            if value is None:
                raise FlagError(f"flag needs an argument: --{name}")
            flags.values_by_name.setdefault(name, []).append(value)
        else:
            raise FlagError(f"unknown flag: --{name}")
    if flags.output not in ("table", "json", "yaml"):
        raise FlagError(f'invalid argument "{flags.output}" for "-o, --output" flag')
    return args, flags


def go_duration(text: str) -> float:
    """Seconds in a Go duration such as `5m0s`, `300s` or `1h`."""
    pos, total = 0, 0.0
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    while pos < len(text):
        match = _DURATION.match(text, pos)
        if match is None:
            break
        total += float(match.group(1)) * scale[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        raise HelmError(
            f'invalid argument "{text}" for "--timeout" flag: time: invalid duration "{text}"'
        )
    return total


def merge_maps(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Helm's mergeMaps: nested maps merge, anything else is replaced."""
    out = dict(base)
    for key, val in over.items():
        if isinstance(val, dict) and isinstance(out.get(key), dict):
            out[key] = merge_maps(out[key], val)
        else:
            out[key] = val
    return out


def user_values(flags: Flags, stdin: bytes) -> dict[str, Any]:
    """The user-supplied values: -f files (`-` = stdin), then --set, then --set-string."""
    values: dict[str, Any] = {}
    for name in flags.values("values"):
        try:
            text = stdin.decode() if name == "-" else Path(name).read_text()
        except OSError:
            raise HelmError(f"open {name}: no such file or directory") from None
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as err:
            raise HelmError(f"failed to parse {name}: {err}") from None
        if not isinstance(data, dict):
            raise HelmError(f"failed to parse {name}: error unmarshaling JSON: not an object")
        values = merge_maps(values, data)
    for option, as_string in (("set", False), ("set-string", True)):
        for text in flags.values(option):
            try:
                parse_set(text, values, as_string)
            except StrvalsError as err:
                raise HelmError(f"failed parsing --{option} data: {err}") from None
    return values


@dataclass
class Release:
    """One revision of a release, as Helm stores it."""

    name: str
    namespace: str
    revision: int
    chart: catalogue.ChartVersion
    user: dict[str, Any]
    computed: dict[str, Any]
    status: str = "deployed"
    description: str = "Install complete"
    updated: float = field(default_factory=time.time)
    keys: list[tuple[str, str | None, str]] = field(default_factory=list)
    manifest: str = ""

    def list_row(self) -> dict[str, str]:
        """One element of `helm list -o json` (revision is a string there)."""
        return {
            "name": self.name,
            "namespace": self.namespace,
            "revision": str(self.revision),
            "updated": _go_time(self.updated),
            "status": self.status,
            "chart": self.chart.label,
            "app_version": self.chart.app_version,
        }

    def as_dict(self) -> dict[str, Any]:
        """`helm status -o json`: the release object."""
        # Go marshals time.Time as RFC 3339 in JSON (`helm list` prints time.String instead).
        nanos = int((self.updated % 1) * 1e9)
        deployed = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.updated)) + f".{nanos:09d}Z"
        meta = {
            "name": self.chart.name,
            "version": self.chart.version,
            "appVersion": self.chart.app_version,
            "description": catalogue.DESCRIPTION,
            "apiVersion": "v2",
            "type": "application",
        }
        info = {
            "first_deployed": deployed,
            "last_deployed": deployed,
            "deleted": "",
            "description": self.description,
            "status": self.status,
        }
        return {
            "name": self.name,
            "info": info,
            "chart": {"metadata": meta},
            "config": self.user,
            "manifest": self.manifest,
            "version": self.revision,
            "namespace": self.namespace,
        }


def status_text(rel: Release, output: str) -> str:
    """The block `helm install`/`upgrade`/`status` print."""
    if output in ("json", "yaml"):
        return dump(rel.as_dict(), output)
    when = time.gmtime(rel.updated)
    stamp = (
        time.strftime("%a %b ", when) + f"{when.tm_mday:>2}" + time.strftime(" %H:%M:%S %Y", when)
    )
    return (
        f"NAME: {rel.name}\nLAST DEPLOYED: {stamp}\nNAMESPACE: {rel.namespace}\n"
        f"STATUS: {rel.status}\nREVISION: {rel.revision}\nTEST SUITE: None\n"
    )


def list_table(header: list[str], rows: list[list[str]]) -> str:
    """Helm's uitable output: padded columns separated by tabs."""
    table = [header, *rows]
    widths = [max(len(str(r[i])) for r in table) for i in range(len(header))]
    lines = ["\t".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in table]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def dump(data: Any, fmt: str) -> str:
    """JSON on one line (as Helm prints it) or YAML."""
    return json.dumps(data) + "\n" if fmt == "json" else yaml.safe_dump(data, sort_keys=False)


def _go_time(stamp: float) -> str:
    nanos = int((stamp % 1) * 1e9)
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(stamp)) + f".{nanos:09d} +0000 UTC"


class Repositories:
    """`helm repo ...` and `helm search repo`: only the Akri repository serves an index."""

    def __init__(self) -> None:
        self.urls: dict[str, str] = {}

    def command(self, args: list[str], flags: Flags) -> str:
        """`helm repo add|list|update|remove`."""
        sub = args[0] if args else ""
        if sub == "add" and len(args) == 3:
            return self._add(args[1], args[2], flags.has("force-update"))
        if sub in ("list", "ls"):
            if not self.urls:
                raise HelmError("no repositories to show")
            rows = [{"name": n, "url": u} for n, u in self.urls.items()]
            if flags.output != "table":
                return dump(rows, flags.output)
            return list_table(["NAME", "URL"], [[r["name"], r["url"]] for r in rows])
        if sub in ("update", "up"):
            if not self.urls:
                raise HelmError("no repositories found. You must add one before updating")
            lines = ["Hang tight while we grab the latest from your chart repositories..."]
            lines += [
                f'...Successfully got an update from the "{n}" chart repository' for n in self.urls
            ]
            return "\n".join([*lines, "Update Complete. ⎈Happy Helming!⎈", ""])
        if sub in ("remove", "rm") and len(args) == 2:
            if self.urls.pop(args[1], None) is None:
                raise HelmError(f'no repo named "{args[1]}" found')
            return f'"{args[1]}" has been removed from your repositories\n'
        raise HelmError(f"unknown or incomplete command: helm repo {' '.join(args)}")

    def _add(self, name: str, url: str, force: bool) -> str:
        if self.urls.get(name) == url:
            return f'"{name}" already exists with the same configuration, skipping\n'
        if name in self.urls and not force:
            raise HelmError(
                f"repository name ({name}) already exists, please specify a different name"
            )
        if url.rstrip("/") + "/" != catalogue.REPO_URL:
            # e.g. the 2020 script's deislabs GitHub Pages site, which no longer has an index.
            raise HelmError(
                f'looks like "{url}" is not a valid chart repository or cannot be reached: '
                f"failed to fetch {url.rstrip('/')}/index.yaml : 404 Not Found"
            )
        self.urls[name] = url
        return f'"{name}" has been added to your repositories\n'

    def search(self, args: list[str], flags: Flags) -> str:
        """`helm search repo KEYWORD [--versions] [--version V] [-o json|yaml]`."""
        if not self.urls:
            raise HelmError("no repositories configured")
        keyword = (args[0] if args else "").lower()
        rows = []
        for repo in self.urls:
            for chart in catalogue.CATALOGUE:
                name = f"{repo}/{chart}"
                if keyword not in name.lower() and keyword not in catalogue.DESCRIPTION.lower():
                    continue
                found = catalogue.chart_versions(chart)
                if flags.value("version"):
                    found = [v for v in found if v.version == flags.value("version")]
                elif not flags.has("versions"):
                    found = found[:1]
                rows += [
                    {"name": name, "version": v.version, "app_version": v.app_version,
                     "description": catalogue.DESCRIPTION}
                    for v in found
                ]  # fmt: skip
        if flags.output != "table":
            return dump(rows, flags.output)
        if not rows:
            return "No results found\n"
        header = ["NAME", "CHART VERSION", "APP VERSION", "DESCRIPTION"]
        return list_table(header, [list(r.values()) for r in rows])

    def resolve(
        self, ref: str, version: str | None, repo_url: str | None
    ) -> catalogue.ChartVersion:
        """The chart version `install`/`upgrade` would pull, or Helm's error."""
        if repo_url:
            if repo_url.rstrip("/") + "/" != catalogue.REPO_URL:
                raise HelmError(f'looks like "{repo_url}" is not a valid chart repository')
            repo, name = "", ref
        elif "/" not in ref:
            raise HelmError(
                f"non-absolute URLs should be in form of repo_name/path_to_chart, got: {ref}"
            )
        else:
            repo, name = ref.split("/", 1)
            if repo not in self.urls:
                raise HelmError(f"repo {repo} not found")
        found = catalogue.chart_versions(name)
        why = "no chart name found"
        if found and version:
            found = [c for c in found if c.version == version.lstrip("v")]
            why = f"no chart version found for {name}-{version}"
        if not found:
            raise HelmError(
                f'chart "{name}" matching {version or ""} not found in {repo} index. '
                f"(try 'helm repo update'): {why}"
            )
        return found[0]
