"""Self-test helpers: pytester runs of the suite as a user would run it, from any directory."""

import os
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _suite_importable(monkeypatch):
    """pytester's subprocesses import the suite from the checkout; no user settings leak in."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    for key in list(os.environ):
        if key.startswith("AKRI_E2E_"):
            monkeypatch.delenv(key)
