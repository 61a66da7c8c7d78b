"""The node daemon's Unix socket: the tool shims' calls, and the frames of shell-started feeders.

A shim sends one JSON line, a tool call, and gets one back: what the tool printed and its exit
code, or a real program to exec (`twin.shim`). A gst-launch pipeline with a v4l2sink comes back
as an exec with its sink redirected; the shim then opens a second connection, says
`{"frames": argv}`, and hands that socket to gst as fd 3: the daemon reads the frames from it
and knows the process by the socket's peer credentials.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import socketserver
import struct
from typing import Any

from twin.tools.base import Answer, Call

log = logging.getLogger("twin")


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        line = self.rfile.readline()
        if not line:
            return
        request = json.loads(line)
        node = self.server.daemon_ref  # type: ignore[attr-defined]
        if "frames" in request:
            creds = self.connection.getsockopt(
                socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")
            )
            pid, _uid, _gid = struct.unpack("3i", creds)
            node.feeders.attach(os.dup(self.connection.fileno()), pid, request["frames"])
            node.devices_changed()
            self.wfile.write(b"\n")
            return
        call = Call(
            tool=request["tool"],
            argv=request["argv"],
            env=request.get("env", {}),
            cwd=request.get("cwd", "/"),
            stdin=base64.b64decode(request.get("stdin", "")),
        )
        try:
            answer = node.dispatch(call)
        except Exception as exc:  # a model bug must show up as a failed command, not a hang
            log.exception("tool %s failed", call.tool)
            answer = Answer(70, "", f"{call.tool}: twin model error: {exc!r}\n")
        reply: dict[str, Any] = {
            "rc": answer.rc,
            "stdout": base64.b64encode(answer.out.encode()).decode(),
            "stderr": base64.b64encode(answer.err.encode()).decode(),
        }
        if answer.exec:
            reply["exec"] = answer.exec
        if answer.frames:
            reply["frames"] = answer.frames
        try:
            self.wfile.write(json.dumps(reply).encode() + b"\n")
        except OSError:
            log.debug("client of %s went away", call.tool)


class RpcServer(socketserver.ThreadingUnixStreamServer):
    """The daemon's socket server (one thread per connection)."""

    daemon_threads = True

    def __init__(self, path: str, daemon_ref: Any) -> None:
        self.daemon_ref = daemon_ref
        super().__init__(path, _Handler)
