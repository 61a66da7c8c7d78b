"""Helm's command line for the twin: cobra-style flags, their errors, Go durations.

Long and short flags, `--flag=value` and `-nvalue`, booleans with `=true|false`, repeatable value
flags, and the errors cobra prints for an unknown flag or a missing argument; `HelmError` is how
every failed helm command ends (`Error: <message>`, exit 1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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
