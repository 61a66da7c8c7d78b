"""The runner nightly's verdict on its environment, for the job summary.

Usage: python3 .github/scripts/runner-environment.py REPORTS_DIR KERNEL

When the suite's v4l2loopback layer failed on a GitHub-hosted runner (its install, or the module
not loading), every later layer is skipped by gating, which reads as a wall of skips. Whether
GitHub's kernels can load v4l2loopback is not confirmed (docs/facts.md#ubuntu-2604): this prints
that the runner's kernel could not load it, as an environment failure, quoting what the suite
saw, plus a GitHub error annotation on stderr. It prints nothing when the layer passed or when
the suite wrote no JUnit file (the job summary then says so already).
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

MODULE_TESTS = ("test_v4l2loopback_install", "test_v4l2loopback_loaded")


def module_failure(junit: Path) -> str | None:
    """The failure message of the first v4l2loopback install or load test that failed."""
    if not junit.is_file():
        return None
    for case in ET.parse(junit).getroot().iter("testcase"):
        if case.get("name", "").split("[")[0] not in MODULE_TESTS:
            continue
        for child in case:
            if child.tag in ("failure", "error"):
                return (child.get("message") or child.text or "").strip()
    return None


def summary(failure: str, kernel: str) -> str:
    """Markdown for the job summary: the environment failure, then what the suite saw."""
    lines = [line for line in failure.splitlines() if line.strip()][:12]
    return (
        f"## Environment failure: this runner's kernel ({kernel}) cannot load v4l2loopback\n\n"
        "The v4l2loopback layer failed, so the suite skipped every later layer: this is the "
        "GitHub-hosted runner's kernel, not the Akri demo (whether v4l2loopback loads on "
        "GitHub's runners is unconfirmed, docs/facts.md#ubuntu-2604). What the suite saw:\n\n"
        "```\n" + "\n".join(lines) + "\n```\n"
    )


def main(argv: list[str]) -> int:
    reports, kernel = Path(argv[1]), argv[2]
    failure = module_failure(reports / "junit.xml")
    if failure is None:
        return 0
    sys.stdout.write(summary(failure, kernel))
    first = failure.splitlines()[0] if failure else "the module did not load"
    sys.stderr.write(
        f"::error title=Environment failure::this runner's kernel ({kernel}) cannot load "
        f"v4l2loopback: {first}\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
