"""What a modelled tool is: a call, its answer, and `TOOLS`, the map from command name to handler.

A handler takes the daemon (all of the node's services) and the call, and returns what the
command prints and its exit code, or asks the shim to exec a real program. Handlers register
with `@tool(...)`; `twin.tools.registry` imports every family so that all of them do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Call:
    """One invocation of a modelled tool."""

    tool: str
    argv: list[str]
    stdin: bytes = b""
    env: dict[str, str] = field(default_factory=dict)
    cwd: str = "/"


@dataclass
class Answer:
    """What the tool printed and how it exited (or a real program to exec instead)."""

    rc: int = 0
    out: str = ""
    err: str = ""
    exec: list[str] | None = None
    #: with exec: the program writes frames to fd 3, a connection opened with this argv
    frames: list[str] | None = None


Handler = Callable[[Any, Call], Answer]
TOOLS: dict[str, Handler] = {}


def tool(*names: str) -> Callable[[Handler], Handler]:
    """Register a handler under one or more command names."""

    def register(fn: Handler) -> Handler:
        for name in names:
            TOOLS[name] = fn
        return fn

    return register


def not_found(name: str) -> Answer:
    """What bash prints for a command that is not installed."""
    return Answer(127, "", f"bash: line 1: {name}: command not found\n")
