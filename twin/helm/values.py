"""The values a user gives helm: `-f` files (`-` is stdin), then `--set`, then `--set-string`.

Merged in Helm's order with Helm's mergeMaps (nested maps merge, anything else is replaced);
`--set` is parsed by `twin.helm.strvals`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from twin.helm.flags import Flags, HelmError
from twin.helm.strvals import StrvalsError, parse_set


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
