"""One injectable fault of the twin: what it breaks and which layer's test must catch it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    """One injectable fault: what breaks and which layer's test must catch it."""

    name: str
    breaks: str
    layer: str | None  # None: a perturbation, the suite must pass
    test: str | None = None  # the test expected to fail first
    observed: str = ""  # what that test's failure message must show (the state it saw)
    args: tuple[str, ...] = ()  # extra suite options the fault is run with (self-tests)
