"""A feeder's record: its unit, process, state, result and journal, as systemd keeps them.

A unit's output and the messages of its systemd life cycle are its journal, kept on its `Feeder`
record as bare messages (the journalctl model adds timestamp, host and identifier); a process
started from a shell has a record too, with no unit. `twin.feeders.manager` writes them.
"""

from __future__ import annotations

import signal
import time
from collections import deque
from dataclasses import dataclass, field

from twin.feeders.pipeline import missing_device_lines, sink_path

_LOG_LINES = 400


@dataclass
class Feeder:
    """One feeder: a systemd unit, or a process started from a shell (`unit` is then "")."""

    unit: str
    argv: list[str]
    devnode: str
    pid: int | None = None  # as the node's `ps` numbers it
    state: str = "activating"  # activating | active | failed | inactive
    result: str = "success"  # success | exit-code | signal
    exit_status: int | None = None
    started_at: float = field(default_factory=time.monotonic)
    log: deque[str] = field(default_factory=lambda: deque(maxlen=_LOG_LINES))

    def settle(self, state: str, result: str, status: int) -> None:
        """Set the unit's state, result and exit status together."""
        self.state, self.result, self.exit_status = state, result, status

    def record_exit(self, code: int, *, stopping: bool, gone: bool, how: str) -> None:
        """The unit's process exited with `code` (negative: killed by that signal)."""
        svc = service_name(self.unit)
        if gone:
            self.exited(1)
        elif stopping or code == 0:
            # systemd counts SIGTERM during a stop as a clean exit
            self.settle("inactive", "success", code)
            self.log.append(f"{svc}: Deactivated successfully.")
            if stopping:
                self.log.append(f"Stopped {svc} - {how}.")
        elif code < 0:
            name = signal.Signals(-code).name.removeprefix("SIG")
            self.settle("failed", "signal", -code)
            self.log.append(f"{svc}: Main process exited, code=killed, status={-code}/{name}")
            self.log.append(f"{svc}: Failed with result 'signal'.")
        else:
            self.exited(code)

    def exited(self, code: int) -> None:
        """The unit's process exited non-zero."""
        svc = service_name(self.unit)
        self.settle("failed", "exit-code", code)
        # systemd names the statuses seen here: status=1/FAILURE, status=255/EXCEPTION
        status = {1: "1/FAILURE", 255: "255/EXCEPTION"}.get(code, str(code))
        self.log.append(f"{svc}: Main process exited, code=exited, status={status}")
        self.log.append(f"{svc}: Failed with result 'exit-code'.")

    def fail_without_device(self, sink_name: str) -> None:
        """What gst-launch 1.22 prints and returns when the sink's device node is missing."""
        self.log.extend(missing_device_lines(sink_path(self.argv, sink_name), self.devnode))
        # measured: a pipeline that cannot pause makes gst-launch return -1, i.e. 255
        self.exited(255)


def service_name(unit: str) -> str:
    """The unit's full name, as systemd logs it (`cam1` is `cam1.service`)."""
    return unit if "." in unit else f"{unit}.service"
