"""What the twin streaming app's self-tests share: a running app on a fake camera set.

The app is driven by a fake services list and fake devices (two that a feeder fills, one that
never gets a frame); the tests read what a client of the real app (Flask 2.2.5 on Werkzeug's
threaded server, docs/facts.md#streaming-app-routes and docs/facts.md#streaming-app-framing)
would see.
"""

from __future__ import annotations

import http.client
import io
import socket
from dataclasses import dataclass, field

from PIL import Image

from twin.machine.frames import DeviceFrames
from twin.streaming.app import StreamingApp
from twin.streaming.feeds import BUFFER_ALIGN, PART_HEADER
from twin.streaming.server import WerkzeugServer

MAIN = "10.152.183.23:80"
SMALL = ["10.152.183.10:80", "10.152.183.9:80"]  # string order: .10 before .9
SILENT = "10.152.183.12:80"  # a service whose broker never captures a frame
PART = len(PART_HEADER) + BUFFER_ALIGN + 2  # small test JPEGs fill one padded buffer


def jpeg(label: str) -> bytes:
    """A small JPEG whose comment names it, so every frame is distinct and traceable."""
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, "JPEG", comment=label)
    return buf.getvalue()


@dataclass
class Env:
    """A running app, its devices and the camera set its services list returns."""

    devices: dict[str, DeviceFrames]
    main: str | None = MAIN
    small: list[str] = field(default_factory=lambda: list(SMALL))
    fail_lists: bool = False
    app: StreamingApp | None = None
    http: WerkzeugServer | None = None

    def cameras(self) -> tuple[str | None, list[str]]:
        if self.fail_lists:
            raise ConnectionRefusedError("the API server is restarting")
        return self.main, sorted(self.small)

    def source(self, url: str) -> list[DeviceFrames]:
        if url == MAIN:
            return [self.devices["/dev/video1"], self.devices["/dev/video2"]]
        by_url = {SMALL[0]: "/dev/video1", SMALL[1]: "/dev/video2", SILENT: "/dev/video3"}
        return [self.devices[by_url[url]]] if url in by_url else []

    def connect(self, timeout: float = 5) -> http.client.HTTPConnection:
        assert self.http is not None
        return http.client.HTTPConnection("127.0.0.1", self.http.port, timeout=timeout)

    def get(self, path: str, timeout: float = 5) -> http.client.HTTPResponse:
        conn = self.connect(timeout)
        conn.request("GET", path)
        return conn.getresponse()

    def raw(self, path: str, size: int) -> bytes:
        """The first `size` bytes on the wire for GET path."""
        assert self.http is not None
        with socket.create_connection(("127.0.0.1", self.http.port), timeout=5) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: twin\r\n\r\n".encode())
            data = b""
            while len(data) < size:
                chunk = sock.recv(size - len(data))
                if not chunk:
                    break
                data += chunk
            return data


def read_parts(resp: http.client.HTTPResponse, n: int) -> list[bytes]:
    """Read n parts (de-chunked by http.client) and return their padded bodies."""
    parts = []
    for _ in range(n):
        part = resp.read(PART)
        assert part.startswith(PART_HEADER) and part.endswith(b"\r\n"), part[:60]
        parts.append(part[len(PART_HEADER) : -2])
    return parts


def label(body: bytes) -> str:
    """Decode a served frame (padding included) and return its comment."""
    img = Image.open(io.BytesIO(body))
    img.load()
    assert (img.format, img.size) == ("JPEG", (64, 48))
    return img.info["comment"].decode()


def camera_list(env: Env) -> str:
    return env.get("/camera_list").read().decode()


def hangs(env: Env, path: str) -> bool:
    """True when GET path gets no answer within half a second."""
    try:
        env.get(path, timeout=0.5).read()
    except TimeoutError:
        return True
    return False
