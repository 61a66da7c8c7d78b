"""Self-test helpers: pytester runs of the suite as a user would run it, from any directory."""

import os
from pathlib import Path

import pytest

from fixtures.record.interrupt import GUARD

pytest_plugins = ["pytester"]
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _suite_importable(monkeypatch):
    """pytester's subprocesses import the suite from the checkout; no user settings leak in."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    for key in list(os.environ):
        if key.startswith("AKRI_E2E_"):
            monkeypatch.delenv(key)


@pytest.fixture(autouse=True)
def _no_signal_noted_in_this_session():
    """A self-test that notes a signal in the session-wide guard must undo it.

    Otherwise this self-test session itself ends as interrupted (exit status 2) after every
    test passed, with no word about which test did it.
    """
    yield
    noted, GUARD.received, GUARD.at = GUARD.received, None, None
    assert noted is None, f"this test left {noted} noted in fixtures.record.interrupt.GUARD"


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """The self-tests' own failures are listed at the end (the suite's `-rN` turns that off)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and config.option.reportchars == "N":
        reporter.reportchars += "fE"
