"""Kubernetes label and field selectors, parsed once and matched against plain object dicts.

The twin's object store filters lists and watches with these, so their grammar follows the API
server's: label requirements `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`,
joined by commas; field requirements `path=value`, `path==value`, `path!=value` on any dotted
path (`metadata.name`, `status.phase`, `spec.nodeName`, ...), where a missing field reads as
the empty string. A malformed selector raises ValueError, which the server answers with 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_KEY = r"[A-Za-z0-9][A-Za-z0-9._/-]*"
_VALUE = r"[A-Za-z0-9._-]*"
_SET_RE = re.compile(rf"^({_KEY})\s+(in|notin)\s+\(\s*([^()]*)\)$")
_EQ_RE = re.compile(rf"^({_KEY})\s*(==|!=|=)\s*({_VALUE})$")
_EXISTS_RE = re.compile(rf"^(!?)\s*({_KEY})$")
_FIELD_RE = re.compile(r"^([A-Za-z0-9_.]+)\s*(==|!=|=)\s*([^,]*)$")


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside a parenthesised value set."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _label_requirement(text: str) -> Callable[[dict[str, str]], bool]:
    if m := _SET_RE.match(text):
        key, op = m[1], m[2]
        values = {v.strip() for v in m[3].split(",") if v.strip()}
        if not values:
            raise ValueError(f"label selector {text!r}: empty value set")
        if op == "in":
            return lambda labels: labels.get(key) in values
        # notin also matches objects that lack the label, as in Kubernetes
        return lambda labels: labels.get(key) not in values
    if m := _EQ_RE.match(text):
        key, op, value = m[1], m[2], m[3]
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if m := _EXISTS_RE.match(text):
        negate, key = m[1] == "!", m[2]
        return lambda labels: (key in labels) != negate
    raise ValueError(f"unable to parse requirement {text!r} of the label selector")


def field_value(obj: dict[str, Any], path: str) -> str:
    """The string form of a dotted field path, "" when absent (booleans lowercase)."""
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return ""
        node = node[part]
    if isinstance(node, bool):
        return "true" if node else "false"
    return "" if node is None else str(node)


def _field_requirement(text: str) -> Callable[[dict[str, Any]], bool]:
    m = _FIELD_RE.match(text)
    if not m:
        raise ValueError(f"invalid field selector requirement {text!r}")
    path, op, value = m[1], m[2], m[3].strip()
    if op == "!=":
        return lambda obj: field_value(obj, path) != value
    return lambda obj: field_value(obj, path) == value


@dataclass(frozen=True)
class Selector:
    """A parsed label selector plus field selector; empty means everything."""

    labels: tuple[Callable[[dict[str, str]], bool], ...] = ()
    fields: tuple[Callable[[dict[str, Any]], bool], ...] = ()

    @classmethod
    def parse(cls, label_selector: str | None, field_selector: str | None) -> Selector:
        """Parse both selector strings; raise ValueError on bad syntax."""
        labels = tuple(_label_requirement(p) for p in _split_top_level(label_selector or ""))
        fields = tuple(_field_requirement(p) for p in (field_selector or "").split(",") if p)
        return cls(labels, fields)

    def matches(self, obj: dict[str, Any]) -> bool:
        """True when the object satisfies every label and field requirement."""
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(req(labels) for req in self.labels) and all(req(obj) for req in self.fields)
