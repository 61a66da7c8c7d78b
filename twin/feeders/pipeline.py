"""A feeder's pipeline: the v4l2sink swapped for a multipart writer, and its stream parsed.

A feeder is a real `gst-launch-1.0 ... ! v4l2sink device=/dev/videoN` process, started as a
transient systemd unit (the install plan) or from a shell (`sudo gst-launch-1.0 ... &`, as the Akri
documentation does, docs/facts.md#feeder-pipeline). The twin has no v4l2loopback, so the sink is
swapped for `multipartmux boundary=frame ! fdsink fd=3` and the multipart stream is parsed into the
device's frame buffer (`twin.machine.frames`), which is what a broker would capture; `ps` still
shows the pipeline as it was run (`twin.machine.pidns.show_argv`). Also what gst-launch prints when
the sink's device node is missing. `twin.feeders.units` keeps the feeders' records,
`twin.feeders.manager` runs them.
"""

from __future__ import annotations

import os
from typing import NamedTuple

# v4l2sink's own default for its `device` property
_DEFAULT_DEVICE = "/dev/video1"
# sync=true keeps the source at its caps' frame rate, as v4l2sink (a synced sink) would
_SINK = ["multipartmux", "boundary=frame", "!", "fdsink", "fd=3", "sync=true"]


class FeederError(Exception):
    """A feeder unit cannot be started (not a gst-launch v4l2sink pipeline, unit busy)."""


class SinkRedirect(NamedTuple):
    """A gst-launch command with its v4l2sink replaced by a multipart writer on fd 3."""

    argv: list[str]
    devnode: str
    sink_name: str


def redirect_sink(argv: list[str]) -> SinkRedirect:
    """Rewrite `... ! v4l2sink device=X [prop=value ...]` to write multipart JPEG to fd 3.

    The result is never shorter than argv (the sink gets a padded `name`), so that the
    process's argument area can show argv again once gst has parsed it.
    """
    if not argv or os.path.basename(argv[0]) != "gst-launch-1.0":
        raise FeederError(f"not a gst-launch-1.0 command: {argv!r}")
    sinks = [i for i, tok in enumerate(argv) if i and tok.split()[:1] == ["v4l2sink"]]
    if not sinks:
        raise FeederError(f"no v4l2sink in the pipeline: {' '.join(argv)}")
    at = sinks[-1]
    words, end = argv[at].split()[1:], at + 1
    while end < len(argv) and not argv[end].startswith("!"):
        words.extend(argv[end].split())
        end += 1
    props = dict(w.split("=", 1) for w in words if "=" in w)
    devnode = props.get("device", _DEFAULT_DEVICE).strip("\"'")
    name = props.get("name", "v4l2sink0").strip("\"'")
    redirected = [*argv[:at], *_SINK, *argv[end:]]
    short = _argv_size(argv) - _argv_size(redirected)
    if short > 0:
        redirected.insert(at + len(_SINK), "name=twinsink" + "_" * max(short - 14, 0))
    return SinkRedirect(redirected, devnode, name)


def _argv_size(argv: list[str]) -> int:
    return sum(len(a.encode()) + 1 for a in argv)


class _PartParser:
    """Splits multipartmux output (`--frame` parts with Content-Length) into payloads."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        parts = []
        while (i := self._buf.find(b"--frame")) >= 0 and (h := self._buf.find(b"\r\n\r\n", i)) >= 0:
            headers = bytes(self._buf[i:h]).decode("latin-1").split("\r\n")[1:]
            fields = dict(line.split(": ", 1) for line in headers if ": " in line)
            start = h + 4
            if "Content-Length" in fields:
                end = start + int(fields["Content-Length"])
            elif (end := self._buf.find(b"\r\n--frame", start)) < 0:
                break
            if len(self._buf) < end:
                break
            parts.append(bytes(self._buf[start:end]))
            del self._buf[:end]
        return parts


def missing_device_lines(element: str, devnode: str) -> list[str]:
    """gst-launch 1.22's output when its v4l2sink's device node does not exist."""
    return [
        "Setting pipeline to PAUSED ...",
        f"ERROR: from element {element}: Cannot identify device '{devnode}'.",
        "Additional debug info:",
        f"../sys/v4l2/v4l2_calls.c(608): gst_v4l2_open (): {element}:",
        "system error: No such file or directory",
        "ERROR: pipeline doesn't want to preroll.",
        "Failed to set pipeline to PAUSED.",
        "Setting pipeline to NULL ...",
        "Freeing pipeline ...",
    ]


def sink_path(argv: list[str], name: str | None = None) -> str:
    """The sink element's path in gst's messages (`/GstPipeline:pipeline0/GstV4l2Sink:<name>`)."""
    sink = name or redirect_sink(argv).sink_name
    return f"/GstPipeline:pipeline0/GstV4l2Sink:{sink}"
