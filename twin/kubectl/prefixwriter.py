"""How `kubectl describe` lays out text: kubectl's prefix writer, and its value formats.

Key/value lines are aligned per run of same-level rows, as kubectl's PrefixWriter does; tables
inside the text are tabwriter tables (`twin.kubectl.cells`), indented under their key.
Timestamps, label and annotation maps and field names print as describe prints them.
"""

from __future__ import annotations

import re
from datetime import datetime

from twin.kubectl.cells import NONE, tabulate


def when(stamp: str | None) -> str:
    """An RFC 3339 timestamp as describe prints it (`Mon, 30 Nov 2026 09:15:00 +0000`)."""
    if not stamp:
        return NONE
    parsed = datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")
    return parsed.strftime("%a, %d %b %Y %H:%M:%S +0000")


class Lines:
    """Key/value lines aligned per run of same-level rows, like kubectl's prefix writer."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, str, list[str] | None]] = []

    def kv(self, level: int, key: str, value: object = None) -> None:
        """A `Key:` line at a level; a list value continues on the lines below."""
        if value is None:
            self.rows.append((level, key + ":", None))
        elif isinstance(value, list):
            self.rows.append((level, key + ":", [str(v) for v in value] or [NONE]))
        else:
            self.rows.append((level, key + ":", [str(value)]))

    def text(self, block: str) -> None:
        """Lines as they are, outside the alignment."""
        for line in block.rstrip("\n").split("\n"):
            self.rows.append((-1, line, None))

    def table(self, rows: list[list[str]]) -> None:
        """A tabwriter table, indented under the key above it."""
        self.text("\n".join("  " + line for line in tabulate(rows).rstrip("\n").split("\n")))

    def render(self) -> str:
        """The text, each run of same-level key/value rows aligned on its widest key."""
        lines, i = [], 0
        while i < len(self.rows):
            level, key, values = self.rows[i]
            if values is None:
                lines.append(key if level < 0 else "  " * level + key)
                i += 1
                continue
            j = i
            while j < len(self.rows) and self.rows[j][0] == level and self.rows[j][2] is not None:
                j += 1
            width = max(len(k) for _, k, _ in self.rows[i:j]) + 2
            for lvl, k, vals in self.rows[i:j]:
                pad = "  " * lvl
                lines.append(pad + k.ljust(width) + vals[0])
                lines += [pad + " " * width + v for v in vals[1:]]
            i = j
        return "\n".join(lines) + "\n"


def pairs(mapping: dict | None, sep: str = "=") -> list[str]:
    """A map as sorted `key=value` lines (annotations: `key: value`)."""
    # like kubectl, the client-side apply bookkeeping is not shown
    hidden = "kubectl.kubernetes.io/last-applied-configuration"
    return [f"{k}{sep}{v}" for k, v in sorted((mapping or {}).items()) if k != hidden]


def title(key: str) -> str:
    """A camelCase field name as describe titles it (`nodeInfo` is `Node Info`)."""
    if not re.fullmatch(r"[a-z][A-Za-z0-9]*", key):
        return key
    words = re.sub(r"([A-Z]+)", r" \1", key).split()
    return " ".join(w[:1].upper() + w[1:] for w in words)
