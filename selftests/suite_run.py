"""The suite as a user runs it, in a subprocess: `python -m pytest -k akri` from the checkout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SUITE = (sys.executable, "-m", "pytest", "-k", "akri")


def run_suite(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the conformance suite (against the twin unless args say otherwise); output captured."""
    return subprocess.run(
        [*SUITE, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )
