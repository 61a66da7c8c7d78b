"""kubectl's command line: global and per-command flags, `--flag=value`, `-oyaml`, `--`.

Flags may appear anywhere (before or after the command, as kubectl's cobra parser allows). An
unknown flag is an error with kubectl's wording. `-f` takes a file except in `logs`, where it
means --follow; `-p` means --previous in `logs`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

_VALUE = {
    "-n": "namespace",
    "--namespace": "namespace",
    "-o": "output",
    "--output": "output",
    "-l": "selector",
    "--selector": "selector",
    "--field-selector": "field_selector",
    "-c": "container",
    "--container": "container",
    "--tail": "tail",
    "--for": "for",
    "--timeout": "timeout",
    "--sort-by": "sort_by",
    "-f": "filename",
    "--filename": "filename",
    "--replicas": "replicas",
    "--dry-run": "dry_run",
    # accepted and ignored: connection and behaviour knobs that change nothing on the twin
    "--kubeconfig": "",
    "--context": "",
    "--cluster": "",
    "--user": "",
    "--request-timeout": "",
    "-v": "",
    "--v": "",
    "--since": "",
    "--grace-period": "",
    "--cascade": "",
    "--field-manager": "",
    "--pod-running-timeout": "",
    "--validate": "",
    "--since-time": "",
}
_BOOL = {
    "-A": "all_namespaces",
    "--all-namespaces": "all_namespaces",
    "--ignore-not-found": "ignore_not_found",
    "--all": "all",
    "--no-headers": "no_headers",
    "--show-labels": "show_labels",
    "--raw": "raw",
    "--client": "client",
    "-w": "watch",
    "--watch": "watch",
    "--all-containers": "all_containers",
    "-p": "previous",
    "--previous": "previous",
    "--follow": "follow",
    "-i": "",
    "-t": "",
    "-it": "",
    "-ti": "",
    "--stdin": "",
    "--tty": "",
    "--wait": "",
    "--now": "",
    "--force": "",
    "--server-side": "",
    "--overwrite": "",
    "--minify": "",
    "--timestamps": "",
    "-q": "",
    "--quiet": "",
    "--prefix": "",
    "--force-conflicts": "",
    "--recursive": "",
    "-R": "",
}
_OPTIONAL_VALUE = {"--dry-run": "client", "--validate": "true"}


class UsageError(ValueError):
    """The command line cannot be parsed; the message is kubectl's."""


@dataclass
class Args:
    """A parsed kubectl command line."""

    command: str = ""
    positional: list[str] = field(default_factory=list)
    after_dash: list[str] | None = None
    flags: dict[str, str | bool] = field(default_factory=dict)

    def get(self, name: str, default: str | None = None) -> str | None:
        """A value flag's value."""
        value = self.flags.get(name, default)
        return value if isinstance(value, str) or value is None else default

    def on(self, name: str) -> bool:
        """Whether a boolean flag was given (and not =false)."""
        return self.flags.get(name) is True


def parse(argv: list[str]) -> Args:
    """Parse kubectl's argv (without the leading "kubectl")."""
    args = Args()
    words: list[str] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        i += 1
        if word == "--":
            args.after_dash = argv[i:]
            break
        if not word.startswith("-") or word == "-":
            words.append(word)
            continue
        command = words[0] if words else ""
        if not word.startswith("--") and len(word) > 2 and word[:2] in _VALUE:
            name, eq, value = word[:2], "=", word[2:].removeprefix("=")
        else:
            name, eq, value = word.partition("=")
        if command == "logs" and name in ("-f", "--follow"):
            args.flags["follow"] = True
            continue
        if name in _BOOL:
            if _BOOL[name]:
                args.flags[_BOOL[name]] = value.lower() != "false" if eq else True
            continue
        if name not in _VALUE:
            raise UsageError(
                f"error: unknown flag: {name}\nSee 'kubectl {command} --help' for usage."
            )
        if not eq and name in _OPTIONAL_VALUE:
            value = _OPTIONAL_VALUE[name]
        elif not eq:
            if i >= len(argv):
                raise UsageError(f"error: flag needs an argument: '{name.lstrip('-')}' in {name}")
            value, i = argv[i], i + 1
        if _VALUE[name]:
            args.flags[_VALUE[name]] = value
    if words:
        args.command, args.positional = words[0], words[1:]
    return args
