"""Unit files under the node's /etc/systemd/system: persistent feeder units, enabled or not.

A unit file is on disk and survives a reboot; `systemctl enable` links it into
`multi-user.target.wants`, and at boot systemd starts every unit wanted there. A transient unit
(`systemd-run`) lives under /run and is gone after a reboot (docs/facts.md#persisted-across-reboot).
The manager (`twin.feeders.manager`) runs what these files say.
"""

from __future__ import annotations

import shlex

UNIT_DIR = "systemd/system"
WANTS = f"{UNIT_DIR}/multi-user.target.wants"


def text_of(node, unit: str) -> str | None:
    """The unit file's text, or None when /etc/systemd/system has no such file."""
    return node.etc(f"{UNIT_DIR}/{unit}")


def exec_start(text: str) -> list[str] | None:
    """The [Service] section's ExecStart= command line, split as systemd splits it."""
    section = ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and line.startswith("ExecStart="):
            argv = shlex.split(line.split("=", 1)[1])
            return [argv[0].lstrip("-@:+!"), *argv[1:]] if argv else None
    return None


def enable(node, unit: str) -> str:
    """Link the unit into multi-user.target.wants; what systemctl prints (stderr)."""
    wants = node.root / "etc-upper" / WANTS
    wants.mkdir(parents=True, exist_ok=True)
    link = wants / unit
    if link.is_symlink():
        return ""
    link.symlink_to(f"/etc/{UNIT_DIR}/{unit}")
    return f"Created symlink /etc/{WANTS}/{unit} \u2192 /etc/{UNIT_DIR}/{unit}.\n"


def enabled(node, unit: str) -> bool:
    """True when the unit is linked into multi-user.target.wants."""
    return (node.root / "etc-upper" / WANTS / unit).is_symlink()


def enabled_units(node) -> list[str]:
    """The units wanted by multi-user.target whose file exists: what a boot starts."""
    wants = node.root / "etc-upper" / WANTS
    if not wants.is_dir():
        return []
    return sorted(p.name for p in wants.iterdir() if text_of(node, p.name) is not None)


def forget(node) -> list[str]:
    """Remove every unit file and link of multi-user.target.wants (a node that loses them)."""
    gone = enabled_units(node)
    for unit in gone:
        (node.root / "etc-upper" / WANTS / unit).unlink()
        (node.root / "etc-upper" / UNIT_DIR / unit).unlink(missing_ok=True)
    return gone
