"""kubectl's printing primitives: `<none>`, human-readable ages, tabwriter-style columns.

Ages are k8s.io/apimachinery's HumanDuration; cells are laid out like Go's tabwriter as kubectl
configures it (padding 3, min width 6). `twin.kubectl.tables` builds `get` tables with them and
`twin.kubectl.describe` its text.
"""

from __future__ import annotations

from datetime import UTC, datetime

NONE = "<none>"


def _parse_time(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    return datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery HumanDuration: 42s, 5m3s, 17m, 3h4m, 20h, 3d5h, 40d, 3y20d."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes, hours = s // 60, s // 3600
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def age(stamp: str | None) -> str:
    """Time since an RFC 3339 timestamp, as kubectl prints it ("<unknown>" if absent)."""
    when = _parse_time(stamp)
    if when is None:
        return "<unknown>"
    return human_duration((datetime.now(UTC) - when).total_seconds())


def tabulate(rows: list[list[str]]) -> str:
    """Lay out rows like kubectl's tabwriter (padding 3, minimum cell width 6)."""
    if not rows:
        return ""
    widths = [max(len(r[i]) for r in rows if i < len(r)) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [c.ljust(max(widths[i] + 3, 6)) for i, c in enumerate(row[:-1])]
        lines.append("".join(cells) + row[-1])
    return "\n".join(lines) + "\n"
