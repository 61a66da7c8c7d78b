"""Helm's `--set` parser (pkg/strvals), so the twin reads values exactly as Helm would.

`a.b=c` nests maps, `a[0]=x` and `a[1].b=y` index lists (padding with nulls), commas separate
assignments unless escaped as `\\,`, a backslash escapes any character, and `{x,y}` is a list.
Values are typed like Helm's: `true`/`false`, `null`, integers without a leading zero; the rest
(floats included) stay strings, and `--set-string` keeps every value a string.
"""

from __future__ import annotations

import re
from typing import Any

_INT = re.compile(r"[+-]?[0-9]+")
MAX_INDEX = 65536


class StrvalsError(ValueError):
    """A `--set` argument Helm would refuse, with Helm's message."""


def typed_value(text: str, as_string: bool = False) -> Any:
    """strvals.typedVal: bools, null and int64 become typed unless --set-string."""
    if as_string:
        return text
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if text == "0":
        return 0
    # Like strconv.ParseInt: an optional sign and digits, within int64, no leading zero.
    if not text or text[0] == "0" or not _INT.fullmatch(text):
        return text
    number = int(text)
    return number if -(2**63) <= number < 2**63 else text


def parse_set(text: str, into: dict[str, Any], as_string: bool = False) -> dict[str, Any]:
    """Apply one `--set` (or `--set-string`) argument to `into` and return it."""
    parser = _Parser(text, as_string)
    while not parser.eof():
        parser.key(into)
    return into


class _Parser:
    def __init__(self, text: str, as_string: bool) -> None:
        self.text, self.pos, self.as_string = text, 0, as_string

    def eof(self) -> bool:
        return self.pos >= len(self.text)

    def until(self, stops: str) -> tuple[str, str | None]:
        """Read up to one of `stops` (consumed and returned); backslash escapes a character."""
        out = []
        while not self.eof():
            char = self.text[self.pos]
            self.pos += 1
            if char == "\\" and not self.eof():
                out.append(self.text[self.pos])
                self.pos += 1
            elif char in stops:
                return "".join(out), char
            else:
                out.append(char)
        return "".join(out), None

    def key(self, data: dict[str, Any]) -> None:
        name, stop = self.until("=[,.")
        if stop is None:
            if name:
                raise StrvalsError(f'key "{name}" has no value')
            return
        if stop == ",":
            raise StrvalsError(f'key "{name}" has no value (cannot end with ,)')
        if stop == "=":
            data[name] = self.value()
        elif stop == ".":
            inner = data.get(name)
            if not isinstance(inner, dict):
                inner = {}
            data[name] = inner
            self.key(inner)
        else:
            current = data.get(name)
            data[name] = self.index(current if isinstance(current, list) else [])

    def value(self) -> Any:
        if self.text.startswith("{", self.pos):
            self.pos += 1
            items = []
            while True:
                item, stop = self.until(",}")
                items.append(typed_value(item, self.as_string))
                if stop != ",":
                    break
            self.until(",")
            return items
        text, _ = self.until(",")
        return typed_value(text, self.as_string)

    def index(self, items: list[Any]) -> list[Any]:
        raw, stop = self.until("]")
        if stop is None:
            raise StrvalsError(f"error parsing index: missing ]: {raw}")
        try:
            idx = int(raw)
        except ValueError:
            raise StrvalsError(f'failed to parse index "{raw}"') from None
        if idx < 0:
            raise StrvalsError(f"negative {idx} index not allowed")
        if idx > MAX_INDEX:
            raise StrvalsError(
                f"index of {idx} is greater than maximum supported index {MAX_INDEX}"
            )
        items.extend([None] * (idx + 1 - len(items)))
        if self.eof():
            raise StrvalsError(f"key map {raw!r} has no value")
        char = self.text[self.pos]
        self.pos += 1
        if char == "=":
            items[idx] = self.value()
        elif char == ".":
            inner = items[idx] if isinstance(items[idx], dict) else {}
            items[idx] = inner
            self.key(inner)
        elif char == "[":
            inner_list = items[idx] if isinstance(items[idx], list) else []
            items[idx] = self.index(inner_list)
        else:
            raise StrvalsError(f"parse error: unexpected {char!r} after index")
        return items
