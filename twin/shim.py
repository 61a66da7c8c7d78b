"""A modelled tool on the twin (apt-get, modprobe, microk8s, ...): forwards to the node daemon.

Every tool the twin models is a small script in the twin's bin directory that calls main().
It sends its name, arguments, environment and standard input to the node daemon over a Unix
socket and replays the answer: standard output, standard error and exit code, or an
instruction to exec a real program (gst-inspect-1.0 once GStreamer is "installed"), possibly
with a second connection as its fd 3 (a feeder's frames, `twin.host.rpc`).
Standard library only.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import sys

PASSED_ENV = ("DEBIAN_FRONTEND", "USER", "SUDO_USER", "HOME", "PATH")


def main(tool: str) -> None:
    """Ask the daemon to run this tool and reproduce its result."""
    state = os.environ["TWIN_STATE"]
    # Read stdin only when the tool is told to (`-f -`): an SSH channel's stdin may never close.
    stdin = sys.stdin.buffer.read() if "-" in sys.argv[1:] else b""
    request = {
        "tool": tool,
        "argv": sys.argv[1:],
        "env": {k: os.environ[k] for k in PASSED_ENV if k in os.environ},
        "cwd": os.getcwd(),
        "stdin": base64.b64encode(stdin).decode(),
    }
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(os.path.join(state, "node.sock"))
    except OSError as exc:
        sys.stderr.write(f"{tool}: the node is not responding ({exc})\n")
        sys.exit(255)
    with sock, sock.makefile("rwb") as stream:
        stream.write(json.dumps(request).encode() + b"\n")
        stream.flush()
        answer = json.loads(stream.readline() or b'{"rc": 255, "stderr": ""}')
    if "frames" in answer:
        _frames_to_fd3(os.path.join(state, "node.sock"), answer["frames"])
    if "exec" in answer:
        os.execv(answer["exec"][0], answer["exec"])
    sys.stdout.buffer.write(base64.b64decode(answer.get("stdout", "")))
    sys.stderr.buffer.write(base64.b64decode(answer.get("stderr", "")))
    sys.stdout.flush()
    sys.exit(answer["rc"])


def _frames_to_fd3(path: str, argv: list[str]) -> None:
    """Open the connection the exec'd program writes its frames to, as its fd 3."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    sock.sendall(json.dumps({"frames": argv}).encode() + b"\n")
    sock.recv(1)  # the daemon has taken the connection over: frames may flow
    fd = sock.detach()
    if fd != 3:
        os.dup2(fd, 3)
        os.close(fd)
    os.set_inheritable(3, True)


if __name__ == "__main__":
    main(os.path.basename(sys.argv[0]))
