"""A Helm release revision as Helm stores it, and how `helm list` and `helm status` print it.

Release rows and status blocks in Helm's table, json and yaml formats: `list -o json` carries the
revision as a string and Go's `time.String` stamps, `status -o json` the release object with
RFC 3339 stamps, the table is Helm's uitable layout.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import yaml

from twin.charts import catalogue


@dataclass
class Release:
    """One revision of a release, as Helm stores it."""

    name: str
    namespace: str
    revision: int
    chart: catalogue.ChartVersion
    user: dict[str, Any]
    computed: dict[str, Any]
    status: str = "deployed"
    description: str = "Install complete"
    updated: float = field(default_factory=time.time)
    keys: list[tuple[str, str | None, str]] = field(default_factory=list)
    manifest: str = ""

    def list_row(self) -> dict[str, str]:
        """One element of `helm list -o json` (revision is a string there)."""
        return {
            "name": self.name,
            "namespace": self.namespace,
            "revision": str(self.revision),
            "updated": _go_time(self.updated),
            "status": self.status,
            "chart": self.chart.label,
            "app_version": self.chart.app_version,
        }

    def as_dict(self) -> dict[str, Any]:
        """`helm status -o json`: the release object."""
        # Go marshals time.Time as RFC 3339 in JSON (`helm list` prints time.String instead).
        nanos = int((self.updated % 1) * 1e9)
        deployed = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.updated)) + f".{nanos:09d}Z"
        meta = {
            "name": self.chart.name,
            "version": self.chart.version,
            "appVersion": self.chart.app_version,
            "description": catalogue.DESCRIPTION,
            "apiVersion": "v2",
            "type": "application",
        }
        info = {
            "first_deployed": deployed,
            "last_deployed": deployed,
            "deleted": "",
            "description": self.description,
            "status": self.status,
        }
        return {
            "name": self.name,
            "info": info,
            "chart": {"metadata": meta},
            "config": self.user,
            "manifest": self.manifest,
            "version": self.revision,
            "namespace": self.namespace,
        }


def status_text(rel: Release, output: str) -> str:
    """The block `helm install`/`upgrade`/`status` print."""
    if output in ("json", "yaml"):
        return dump(rel.as_dict(), output)
    when = time.gmtime(rel.updated)
    stamp = (
        time.strftime("%a %b ", when) + f"{when.tm_mday:>2}" + time.strftime(" %H:%M:%S %Y", when)
    )
    return (
        f"NAME: {rel.name}\nLAST DEPLOYED: {stamp}\nNAMESPACE: {rel.namespace}\n"
        f"STATUS: {rel.status}\nREVISION: {rel.revision}\nTEST SUITE: None\n"
    )


def list_table(header: list[str], rows: list[list[str]]) -> str:
    """Helm's uitable output: padded columns separated by tabs."""
    table = [header, *rows]
    widths = [max(len(str(r[i])) for r in table) for i in range(len(header))]
    lines = ["\t".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in table]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def dump(data: Any, fmt: str) -> str:
    """JSON on one line (as Helm prints it) or YAML."""
    return json.dumps(data) + "\n" if fmt == "json" else yaml.safe_dump(data, sort_keys=False)


def _go_time(stamp: float) -> str:
    nanos = int((stamp % 1) * 1e9)
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(stamp)) + f".{nanos:09d} +0000 UTC"
