"""Helm's chart repositories: `repo add/list/update/remove`, `search repo`, and resolving a chart.

Only the Akri repository serves an index (docs/facts.md#akri-charts); any other URL fails as an
unreachable repository does.
"""

from __future__ import annotations

from twin.charts import catalogue
from twin.helm.flags import Flags, HelmError
from twin.helm.releases import dump, list_table


class Repositories:
    """`helm repo ...` and `helm search repo`: only the Akri repository serves an index."""

    def __init__(self) -> None:
        self.urls: dict[str, str] = {}

    def command(self, args: list[str], flags: Flags) -> str:
        """`helm repo add|list|update|remove`."""
        sub = args[0] if args else ""
        if sub == "add" and len(args) == 3:
            return self._add(args[1], args[2], flags.has("force-update"))
        if sub in ("list", "ls"):
            if not self.urls:
                raise HelmError("no repositories to show")
            rows = [{"name": n, "url": u} for n, u in self.urls.items()]
            if flags.output != "table":
                return dump(rows, flags.output)
            return list_table(["NAME", "URL"], [[r["name"], r["url"]] for r in rows])
        if sub in ("update", "up"):
            if not self.urls:
                raise HelmError("no repositories found. You must add one before updating")
            lines = ["Hang tight while we grab the latest from your chart repositories..."]
            lines += [
                f'...Successfully got an update from the "{n}" chart repository' for n in self.urls
            ]
            return "\n".join([*lines, "Update Complete. ⎈Happy Helming!⎈", ""])
        if sub in ("remove", "rm") and len(args) == 2:
            if self.urls.pop(args[1], None) is None:
                raise HelmError(f'no repo named "{args[1]}" found')
            return f'"{args[1]}" has been removed from your repositories\n'
        raise HelmError(f"unknown or incomplete command: helm repo {' '.join(args)}")

    def _add(self, name: str, url: str, force: bool) -> str:
        if self.urls.get(name) == url:
            return f'"{name}" already exists with the same configuration, skipping\n'
        if name in self.urls and not force:
            raise HelmError(
                f"repository name ({name}) already exists, please specify a different name"
            )
        if url.rstrip("/") + "/" != catalogue.REPO_URL:
            # e.g. the 2020 script's deislabs GitHub Pages site, which no longer has an index.
            raise HelmError(
                f'looks like "{url}" is not a valid chart repository or cannot be reached: '
                f"failed to fetch {url.rstrip('/')}/index.yaml : 404 Not Found"
            )
        self.urls[name] = url
        return f'"{name}" has been added to your repositories\n'

    def search(self, args: list[str], flags: Flags) -> str:
        """`helm search repo KEYWORD [--versions] [--version V] [-o json|yaml]`."""
        if not self.urls:
            raise HelmError("no repositories configured")
        keyword = (args[0] if args else "").lower()
        rows = []
        for repo in self.urls:
            for chart in catalogue.CATALOGUE:
                name = f"{repo}/{chart}"
                if keyword not in name.lower() and keyword not in catalogue.DESCRIPTION.lower():
                    continue
                found = catalogue.chart_versions(chart)
                if flags.value("version"):
                    found = [v for v in found if v.version == flags.value("version")]
                elif not flags.has("versions"):
                    found = found[:1]
                rows += [
                    {"name": name, "version": v.version, "app_version": v.app_version,
                     "description": catalogue.DESCRIPTION}
                    for v in found
                ]  # fmt: skip
        if flags.output != "table":
            return dump(rows, flags.output)
        if not rows:
            return "No results found\n"
        header = ["NAME", "CHART VERSION", "APP VERSION", "DESCRIPTION"]
        return list_table(header, [list(r.values()) for r in rows])

    def resolve(
        self, ref: str, version: str | None, repo_url: str | None
    ) -> catalogue.ChartVersion:
        """The chart version `install`/`upgrade` would pull, or Helm's error."""
        if repo_url:
            if repo_url.rstrip("/") + "/" != catalogue.REPO_URL:
                raise HelmError(f'looks like "{repo_url}" is not a valid chart repository')
            repo, name = "", ref
        elif "/" not in ref:
            raise HelmError(
                f"non-absolute URLs should be in form of repo_name/path_to_chart, got: {ref}"
            )
        else:
            repo, name = ref.split("/", 1)
            if repo not in self.urls:
                raise HelmError(f"repo {repo} not found")
        found = catalogue.chart_versions(name)
        why = "no chart name found"
        if found and version:
            found = [c for c in found if c.version == version.lstrip("v")]
            why = f"no chart version found for {name}-{version}"
        if not found:
            raise HelmError(
                f'chart "{name}" matching {version or ""} not found in {repo} index. '
                f"(try 'helm repo update'): {why}"
            )
        return found[0]
