"""Benchmarks of the suite against the edge twin: what a run costs, how fast a verdict comes.

`python3 benchmarks/run.py [--repeat 3] [--out docs/benchmarks.md]` runs the suite in
subprocesses (as a user would), reads each run's JUnit (test times, install-step timings,
SSH counters) and prints one markdown table per question, writing them to --out. Medians of
--repeat runs; ratios are measured in the same invocation. Not a test: these machines are noisy.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fixtures.layers import LAYERS  # noqa: E402
from twin.faults import FAULTS  # noqa: E402
from twin.lifecycle import Twin  # noqa: E402

FAULT_TIMEOUT = "8"  # --ready-timeout of fault runs: the deadline of the single detecting wait


@dataclass
class Run:
    """One suite run: wall time and what its JUnit says."""

    wall: float
    code: int
    cases: list[dict] = field(default_factory=list)
    props: dict[str, str] = field(default_factory=dict)
    progress_lines: int = 0  # live progress lines on its console (none with -q)

    def layer_seconds(self) -> dict[str, float]:
        """Seconds spent in each layer's tests (fixtures, i.e. installs, included)."""
        out = dict.fromkeys(LAYERS, 0.0)
        for case in self.cases:
            for layer in LAYERS:
                if case["module"].endswith(layer):
                    out[layer] += case["time"]
        return out

    def install_seconds(self) -> float:
        """Seconds of all install steps."""
        return sum(
            float(v.split()[1].rstrip("s"))
            for k, v in self.props.items()
            if k.startswith("install.")
        )

    def first_failure(self) -> dict | None:
        """The first failed testcase."""
        return next((c for c in self.cases if c["outcome"] == "failed"), None)

    def seconds_until(self, name: str) -> float:
        """Wall seconds of the run up to and including the named test (JUnit order)."""
        total = 0.0
        for case in self.cases:
            total += case["time"]
            if case["name"] == name:
                return total
        return total


def suite(*args: str, env: dict[str, str] | None = None, quiet: bool = True) -> Run:
    """Run `pytest -k akri` with args (and -q unless told otherwise); parse its JUnit."""
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        began = time.monotonic()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-k",
                "akri",
                *(["-q"] if quiet else []),
                f"--junitxml={junit}",
                f"--reports-dir={tmp}/reports",
                *args,
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
            timeout=1800,
        )
        wall = time.monotonic() - began
        root = ET.parse(junit).getroot()
        lines = [x for x in proc.stdout.splitlines() if x.startswith(("install step", "waiting"))]
        run = Run(wall, proc.returncode, progress_lines=len(lines))
        for prop in root.iter("property"):
            run.props[prop.get("name")] = prop.get("value")
        for case in root.iter("testcase"):
            outcome = "passed"
            for child in case:
                if child.tag in ("failure", "error", "skipped"):
                    outcome = {"failure": "failed", "error": "error"}.get(child.tag, "skipped")
            run.cases.append(
                {
                    "name": case.get("name"),
                    "module": case.get("classname"),
                    "time": float(case.get("time") or 0),
                    "outcome": outcome,
                }
            )
        return run


def median(values: list[float]) -> float:
    """The median, rounded for a table."""
    return round(statistics.median(values), 1)


def healthy(repeat: int) -> tuple[list[str], float]:
    """Q1: the healthy twin run and where its time goes."""
    runs = [suite() for _ in range(repeat)]
    assert all(r.code == 0 for r in runs), "the healthy twin run is not green"
    rows = ["| part | median seconds | share |", "|---|---|---|"]
    wall = median([r.wall for r in runs])
    parts = {
        "whole run (wall, pytest start to exit)": wall,
        "twin start": median([float(r.props["twin_start_seconds"]) for r in runs]),
        "install plan (all steps)": median([r.install_seconds() for r in runs]),
    }
    for layer in LAYERS:
        parts[f"layer {layer} (tests + its install)"] = median(
            [r.layer_seconds()[layer] for r in runs]
        )
    for name, seconds in parts.items():
        rows.append(f"| {name} | {seconds} | {100 * seconds / wall:.0f}% |")
    return rows, wall


def prepared(repeat: int) -> list[str]:
    """Q2 and Q4: fresh install, second run, verify-only against one kept twin; SSH counts."""
    rows = [
        "| run against one twin | median seconds | SSH commands | SSH channels |",
        "|---|---|---|---|",
    ]
    with Twin() as node:
        ssh = [
            "--target=ssh",
            f"--host={node.user}@{node.host}:{node.port}",
            f"--ssh-key={node.key_path}",
            f"--ssh-host-key={node.host_key}",
        ]
        for label, extra in (
            ("fresh install", []),
            ("second run (idempotent)", []),
            ("--install never (verify only)", ["--install=never"]),
        ):
            runs = [
                suite(*ssh, *extra)
                for _ in (range(1) if label == "fresh install" else range(repeat))
            ]
            assert all(r.code == 0 for r in runs), f"{label} is not green"
            changed = sum(
                1
                for r in runs
                for k, v in r.props.items()
                if k.startswith("install.") and not v.startswith("ok")
            )
            note = "" if label == "fresh install" else f" ({changed} steps changed)"
            rows.append(
                f"| {label}{note} | {median([r.wall for r in runs])} | "
                f"{runs[0].props['ssh_commands']} | {runs[0].props['ssh_channels']} |"
            )
    return rows


def faults(ungated: tuple[str, ...]) -> list[str]:
    """Q3: time to a verdict per fault, gated, and without gating for a few faults."""
    rows = [
        "| fault | failing test | verdict after (s) | whole run (s) | without gating (s) | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for fault in FAULTS.values():
        if fault.layer not in LAYERS:
            continue
        args = ("--twin-fault", fault.name, "--ready-timeout", FAULT_TIMEOUT, "--ssh-timeout", "5")
        run = suite(*args)
        first = run.first_failure()
        verdict = run.seconds_until(first["name"]) if first else float("nan")
        slow = ""
        ratio = ""
        if fault.name in ungated:
            without = suite(*args, "-p", "no:fixtures.plugin.gating")
            slow = f"{without.wall:.1f}"
            ratio = f"{without.wall / run.wall:.1f}x"
        rows.append(
            f"| {fault.name} | {first['name'] if first else 'NONE'} | {verdict:.1f} | "
            f"{run.wall:.1f} | {slow} | {ratio} |"
        )
    return rows


def scaling(repeat: int) -> tuple[list[str], dict[int, float]]:
    """Q5: wall time and SSH round trips for 1, 2, 4 and 8 cameras."""
    rows = ["| cameras | median seconds | SSH commands | tests |", "|---|---|---|---|"]
    walls = {}
    for n in (1, 2, 4, 8):
        runs = [suite(f"--cameras={n}") for _ in range(repeat)]
        walls[n] = median([r.wall for r in runs])
        green = "" if all(r.code == 0 for r in runs) else " (NOT GREEN)"
        rows.append(
            f"| {n}{green} | {walls[n]} | {runs[0].props.get('ssh_commands')} | "
            f"{len(runs[0].cases)} |"
        )
    return rows, walls


def progress_cost(repeat: int) -> list[str]:
    """Q6: what live progress costs: healthy runs with its lines (the default) and with -q."""
    rows = ["| healthy twin run | median seconds | progress lines | runs |", "|---|---|---|---|"]
    pairs = [(suite(quiet=False), suite()) for _ in range(repeat)]  # interleaved: same load
    for i, label in enumerate(("progress on (default)", "-q (progress off)")):
        runs = [pair[i] for pair in pairs]
        assert all(r.code == 0 for r in runs), f"a healthy run ({label}) is not green"
        lines = statistics.median([r.progress_lines for r in runs])
        walls = ", ".join(f"{r.wall:.1f}" for r in runs)
        rows.append(f"| {label} | {median([r.wall for r in runs])} | {lines:g} | {walls} |")
    return rows


def main() -> None:
    """Run every benchmark and print/write the tables."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument(
        "--ungated",
        default="one-device,broker-crashloop,frozen-frames",
        help="faults also run without gating, to show what gating saves",
    )
    parser.add_argument("--only-progress", action="store_true", help="print section 6 only")
    args = parser.parse_args()
    began = time.monotonic()
    if args.only_progress:
        print("\n".join(progress_cost(args.repeat)))
        return
    q1, healthy_wall = healthy(args.repeat)
    q2 = prepared(args.repeat)
    q3 = faults(tuple(args.ungated.split(",")) if args.ungated else ())
    q5, walls = scaling(args.repeat)
    q6 = progress_cost(args.repeat)
    text = "\n".join(
        [
            "# Benchmarks",
            "",
            f"Machine: {platform.node()}, {os.cpu_count()} cores, {platform.platform()}, Python "
            f"{platform.python_version()}. Command: `python3 benchmarks/run.py --repeat "
            f"{args.repeat}` ({time.monotonic() - began:.0f} s). Medians of {args.repeat} runs "
            "unless a row says otherwise. All against the edge twin.",
            "",
            "## 1. Healthy twin run (target: under 60 s)",
            "",
            *q1,
            "",
            "## 2 and 4. Second run, verify-only, SSH round trips (verify-only: <= 30 commands)",
            "",
            *q2,
            "",
            f"## 3. Time to a verdict per fault (--ready-timeout {FAULT_TIMEOUT})",
            "",
            "'verdict after' sums the JUnit times of the tests up to the first failure (twin start "
            "and collection excluded); 'without gating' reruns with "
            "`-p no:fixtures.plugin.gating`, so every dependent test waits out its own deadline.",
            "",
            *q3,
            "",
            "## 5. Scaling with --cameras (target: 8 cameras within 1.5x of 2)",
            "",
            *q5,
            "",
            f"8 cameras / 2 cameras = {walls[8] / walls[2]:.2f}; healthy run {healthy_wall} s.",
            "",
            "## 6. What live progress costs (the other sections run with -q)",
            "",
            *q6,
            "",
        ]
    )
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
