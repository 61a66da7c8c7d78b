"""Akri's udev discovery handler: which devices a Configuration's udev rules select, and their ids.

The udev discovery handler reports every device whose properties (`twin.machine.udev`) satisfy one
of a Configuration's `udevRules`; a local device's Instance id is blake2b-24 of its devpath and the
node name (docs/facts.md#instance-names). Rules are evaluated on the device's own keys (`KERNEL`,
`SUBSYSTEM`, `DEVPATH`, `DEVNAME`) and every property as `ENV{KEY}`
(docs/facts.md#udev-capabilities).
"""

from __future__ import annotations

import fnmatch
import hashlib
import re

import yaml

from twin.machine.udev import UdevDevice, udev_properties

_CLAUSE = re.compile(r'\s*([A-Za-z_]+(?:\{[^}]*\})?)\s*(==|!=)\s*"([^"]*)"\s*')


def instance_hash(devpath: str, node: str) -> str:
    """The 6-hex Instance id of a local device: blake2b-24 of devpath + node.

    See docs/facts.md#instance-names.
    """
    return hashlib.blake2b((devpath + node).encode(), digest_size=3).hexdigest()


def _match_keys(device: UdevDevice) -> dict[str, str]:
    """The keys a rule can test: the device's own, and every property as ENV{KEY}."""
    props = udev_properties(device)
    keys = {f"ENV{{{k}}}": v for k, v in props.items()}
    keys.update(
        KERNEL=device.devnode.rsplit("/", 1)[-1],
        SUBSYSTEM=props["SUBSYSTEM"],
        DEVPATH=props["DEVPATH"],
        DEVNAME=props["DEVNAME"],
    )
    return keys


def rule_matches(rule: str, device: UdevDevice) -> bool:
    """True when every `KEY=="glob"` / `KEY!="glob"` clause of a udev rule holds (`|` = or)."""
    props = _match_keys(device)
    clauses = [c for c in re.split(r',(?=(?:[^"]*"[^"]*")*[^"]*$)', rule) if c.strip()]
    if not clauses:
        return False
    for clause in clauses:
        found = _CLAUSE.fullmatch(clause)
        if found is None or found.group(1) not in props:
            return False  # a key the model cannot evaluate matches nothing
        key, op, pattern = found.groups()
        hit = any(fnmatch.fnmatchcase(props[key], alt) for alt in pattern.split("|"))
        if hit != (op == "=="):
            return False
    return True


def udev_rules(config: dict) -> list[str]:
    """The `udevRules` of a udev Configuration's discoveryDetails (YAML text)."""
    try:
        details = yaml.safe_load(config["spec"]["discoveryHandler"].get("discoveryDetails") or "")
    except yaml.YAMLError:
        return []
    rules = (details or {}).get("udevRules") if isinstance(details, dict) else None
    return [str(r) for r in rules or [] if r]
