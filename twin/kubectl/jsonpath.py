"""kubectl's JSONPath templates (`-o jsonpath=...`, `custom-columns`) over plain JSON data.

Supports what scripts use: text with `{...}` expressions, `{range ...}{end}`, string literals
(`{"\\n"}`), `$`/`@` roots, `.field` (with `\\.` escapes for dotted label keys), `['key']`,
`[N]`, `[*]`, `[a:b]`, `.*`, `..field` and filters `[?(@.path OP literal)]` / `[?(@.path)]`.
As with `kubectl get` (allow-missing-template-keys), a missing key prints nothing; several
results of one expression are joined by spaces; maps and lists print as compact JSON.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any


class JsonPathError(ValueError):
    """The template cannot be parsed."""


@dataclass
class _Node:
    kind: str  # text | expr | range
    value: str = ""
    body: list[_Node] = field(default_factory=list)


def _blocks(template: str) -> list[tuple[bool, str]]:
    out, i, text = [], 0, ""
    while i < len(template):
        ch = template[i]
        if ch != "{":
            text += ch
            i += 1
            continue
        if text:
            out.append((False, text))
            text = ""
        j, quote = i + 1, None
        while j < len(template) and (quote or template[j] != "}"):
            if template[j] in "\"'" and (quote is None or quote == template[j]):
                quote = None if quote else template[j]
            elif template[j] == "\\" and quote:
                j += 1
            j += 1
        if j >= len(template):
            raise JsonPathError(f"unclosed action in {template!r}")
        out.append((True, template[i + 1 : j].strip()))
        i = j + 1
    if text:
        out.append((False, text))
    return out


def parse(template: str) -> list[_Node]:
    """Parse a template into nodes (raises JsonPathError)."""
    root: list[_Node] = []
    stack = [root]
    for is_expr, text in _blocks(template):
        if not is_expr:
            stack[-1].append(_Node("text", text))
        elif text == "end":
            if len(stack) == 1:
                raise JsonPathError("not in range, nothing to end")
            stack.pop()
        elif text.startswith("range "):
            node = _Node("range", text[6:].strip())
            stack[-1].append(node)
            stack.append(node.body)
        elif text[:1] in "\"'":
            stack[-1].append(_Node("text", json.loads('"' + text[1:-1].replace('"', '\\"') + '"')))
        else:
            stack[-1].append(_Node("expr", text))
    if len(stack) != 1:
        raise JsonPathError("unclosed range")
    return root


_STEP = re.compile(r"\.\.|\.|\[")


def _name_token(path: str, i: int) -> tuple[str, int]:
    name = ""
    while i < len(path) and path[i] not in ".[":
        if path[i] == "\\" and i + 1 < len(path):
            i += 1
        name += path[i]
        i += 1
    return name, i


def _bracket(path: str, i: int) -> tuple[str, int]:
    depth, j, quote = 0, i, None
    while j < len(path):
        ch = path[j]
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return path[i + 1 : j], j + 1
        j += 1
    raise JsonPathError(f"unterminated [ in {path!r}")


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return list(value.values())
    return list(value) if isinstance(value, list) else []


def _descend(values: list[Any], name: str) -> list[Any]:
    found = []
    for value in values:
        if isinstance(value, dict) and name in value:
            found.append(value[name])
        found.extend(_descend(_children(value), name))
    return found


_FILTER = re.compile(r"^\?\((.+?)\s*(==|!=|<=|>=|<|>)\s*(.+)\)$|^\?\((.+)\)$")


def _literal(text: str) -> Any:
    text = text.strip()
    if text[:1] in "\"'":
        return text[1:-1]
    try:
        return json.loads(text)
    except ValueError:
        return text


def _compare(left: Any, op: str, right: Any) -> bool:
    if op in ("==", "!="):
        same = str(left) == str(right) if not isinstance(right, (int, float)) else left == right
        return same if op == "==" else not same
    try:
        return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op]
    except TypeError:
        return False


def _select(values: list[Any], inner: str, root: Any) -> list[Any]:
    inner = inner.strip()
    if inner == "*":
        return [c for v in values for c in _children(v)]
    if m := _FILTER.match(inner):
        items = [c for v in values for c in (v if isinstance(v, list) else [v])]
        if m[4] is not None:
            return [c for c in items if evaluate(m[4], c, root)]
        right = _literal(m[3])
        return [
            c for c in items for left in evaluate(m[1], c, root)[:1] if _compare(left, m[2], right)
        ]
    out = []
    for part in inner.split(","):
        part = part.strip()
        if part[:1] in "\"'":
            out += [v[part[1:-1]] for v in values if isinstance(v, dict) and part[1:-1] in v]
        elif ":" in part:
            bounds = [int(b) if b.strip() else None for b in part.split(":")]
            out += [c for v in values if isinstance(v, list) for c in v[slice(*bounds)]]
        else:
            index = int(part)
            out += [v[index] for v in values if isinstance(v, list) and -len(v) <= index < len(v)]
    return out


def evaluate(path: str, current: Any, root: Any) -> list[Any]:
    """All values a path selects, starting from `current` (`@`, `.`) or `root` (`$`)."""
    path = path.strip()
    values = [root] if path.startswith("$") else [current]
    i = 1 if path[:1] in "$@" else 0
    while i < len(path):
        m = _STEP.match(path, i)
        if not m:
            raise JsonPathError(f"unrecognized character in {path!r} at {i}")
        if m[0] == "[":
            inner, i = _bracket(path, i)
            values = _select(values, inner, root)
            continue
        name, i = _name_token(path, m.end())
        if m[0] == "..":
            values = _descend(values, name)
        elif name == "*":
            values = [c for v in values for c in _children(v)]
        elif name:
            values = [v[name] for v in values if isinstance(v, dict) and name in v]
    return values


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _render(nodes: list[_Node], current: Any, root: Any) -> str:
    out = []
    for node in nodes:
        if node.kind == "text":
            out.append(node.value)
        elif node.kind == "expr":
            out.append(" ".join(_text(v) for v in evaluate(node.value, current, root)))
        else:
            for item in evaluate(node.value, current, root):
                out.append(_render(node.body, item, root))
    return "".join(out)


def render(template: str, data: Any) -> str:
    """Execute a kubectl JSONPath template against data."""
    return _render(parse(template), data, data)


def relaxed(expression: str) -> str:
    """kubectl's relaxed form used by custom-columns: `.a.b` or `a.b` become `{.a.b}`."""
    expression = expression.strip()
    if expression.startswith("{") and expression.endswith("}"):
        return expression
    return "{" + (expression if expression.startswith((".", "$", "@")) else "." + expression) + "}"
