"""Self-tests of the twin's video streaming app over real HTTP on loopback."""

from __future__ import annotations

import http.client
import io
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from PIL import Image

from twin.feeders import DeviceFrames
from twin.streaming import BUFFER_ALIGN, PART_HEADER, StreamingApp, as_served

MAIN = "10.152.183.23:80"
SMALL = ["10.152.183.10:80", "10.152.183.11:80"]
PART = len(PART_HEADER) + BUFFER_ALIGN + 2  # small test JPEGs fill one padded buffer


def jpeg(label: str) -> bytes:
    """A small JPEG whose comment names it, so every frame is distinct and traceable."""
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, "JPEG", comment=label)
    return buf.getvalue()


@dataclass
class Env:
    """A running app, its devices and the camera set it sees."""

    devices: dict[str, DeviceFrames]
    main: str | None = MAIN
    small: list[str] = field(default_factory=lambda: list(SMALL))
    app: StreamingApp | None = None

    def cameras(self) -> tuple[str | None, list[str]]:
        return self.main, sorted(self.small)

    def source(self, url: str) -> list[DeviceFrames]:
        if url == MAIN:
            return [self.devices["/dev/video1"], self.devices["/dev/video2"]]
        by_url = dict(zip([*SMALL, "10.152.183.12:80"], self.devices.values(), strict=True))
        return [by_url[url]] if url in by_url else []

    def get(self, path: str, timeout: float = 5) -> http.client.HTTPResponse:
        assert self.app is not None
        conn = http.client.HTTPConnection("127.0.0.1", self.app.port, timeout=timeout)
        conn.request("GET", path)
        return conn.getresponse()


@pytest.fixture
def start_app() -> Iterator[Callable[..., Env]]:
    stop = threading.Event()
    devices = {d: DeviceFrames(d) for d in ("/dev/video1", "/dev/video2", "/dev/video3")}

    def publish() -> None:
        i = 0
        while not stop.wait(0.05):
            i += 1
            for name in ("/dev/video1", "/dev/video2"):
                devices[name].publish(jpeg(f"{name} {i}"))

    feeder = threading.Thread(target=publish)
    feeder.start()
    envs: list[Env] = []

    def start(faults: frozenset[str] = frozenset()) -> Env:
        env = Env(devices)
        env.app = StreamingApp(env.cameras, env.source, faults)
        env.app.start(0)
        envs.append(env)
        return env

    yield start
    stop.set()
    feeder.join()
    for env in envs:
        assert env.app is not None
        port = env.app.port
        env.app.stop()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        with socket.socket() as probe:  # released: a restart (SO_REUSEADDR) can take it again
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", port))
    assert not [t for t in threading.enumerate() if t.name.startswith("feed ")]


def read_parts(resp: http.client.HTTPResponse, n: int) -> list[bytes]:
    """Read n parts and return their padded bodies."""
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


def test_as_served_pads_to_buffer_size() -> None:
    assert len(as_served(b"\xff\xd8" + b"x" * 70000, frozenset())) == 2 * BUFFER_ALIGN
    assert len(as_served(b"y" * BUFFER_ALIGN, frozenset())) == BUFFER_ALIGN
    scrambled = as_served(b"\xff\xd8abc\xff\xd9", frozenset({"not-jpeg"}))
    assert not scrambled.startswith(b"\xff\xd8") and scrambled[7:] == bytes(BUFFER_ALIGN - 7)


def test_index_camera_list_and_errors(start_app: Callable[..., Env]) -> None:
    env = start_app()
    resp = env.get("/")
    page = resp.read().decode()
    assert (
        resp.status == 200 and "<title>Akri Demo</title>" in page and "<h1>Akri Demo</h1>" in page
    )
    assert re.findall(r'<img src="/camera_frame_feed/(\d+)"', page) == ["0", "1", "2"]
    assert "fetch('/camera_list')" in page
    assert env.get("/camera_list").read().decode() == f"{MAIN}+{SMALL[0]},{SMALL[1]}"
    for path in ("/camera_frame_feed/3", "/camera_frame_feed/x"):
        resp = env.get(path)
        assert (resp.status, resp.read()) == (500, b"")
    assert env.get("/nope").status == 404


def test_feed_serves_padded_live_jpegs(start_app: Callable[..., Env]) -> None:
    env = start_app()
    resp = env.get("/camera_frame_feed/1")
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "multipart/x-mixed-replace; boundary=frame"
    bodies = read_parts(resp, 3)
    labels = [label(b) for b in bodies]
    assert all(lbl.startswith("/dev/video1 ") for lbl in labels) and len(set(labels)) == 3
    for body in bodies:
        assert body.startswith(b"\xff\xd8") and body.rstrip(b"\0").endswith(b"\xff\xd9")
    main = [label(b).split()[0] for b in read_parts(env.get("/camera_frame_feed/0"), 2)]
    assert sorted(main) == ["/dev/video1", "/dev/video2"]  # round-robin over both brokers


def test_camera_change_restarts_feeds_and_ends_streams(start_app: Callable[..., Env]) -> None:
    env = start_app()
    resp = env.get("/camera_frame_feed/2")
    read_parts(resp, 1)
    env.main, env.small = None, SMALL[:1]
    assert resp.read(PART) == b""  # the open stream ends at the restart
    assert env.get("/camera_list").read().decode() == SMALL[0]
    resp = env.get("/camera_frame_feed/0")
    assert (resp.status, resp.read()) == (500, b"")


def test_frameless_device_sends_headers_then_nothing(start_app: Callable[..., Env]) -> None:
    env = start_app()
    env.small = [*SMALL, "10.152.183.12:80"]
    assert env.app is not None
    env.app.stop()  # restart so the new camera is read at once, as the app does at boot
    env.app.start(0)
    resp = env.get("/camera_frame_feed/3", timeout=0.5)
    assert resp.status == 200
    with pytest.raises(TimeoutError):
        resp.read1(1)


def test_fault_no_feeds(start_app: Callable[..., Env]) -> None:
    page = start_app(frozenset({"no-feeds"})).get("/").read().decode()
    assert "Akri Demo" in page and "camera_frame_feed" not in page


def test_fault_not_jpeg(start_app: Callable[..., Env]) -> None:
    (body,) = read_parts(start_app(frozenset({"not-jpeg"})).get("/camera_frame_feed/1"), 1)
    assert len(body) == BUFFER_ALIGN and not body.startswith(b"\xff\xd8")


def test_fault_frozen_frames(start_app: Callable[..., Env]) -> None:
    first, second = read_parts(
        start_app(frozenset({"frozen-frames"})).get("/camera_frame_feed/2"), 2
    )
    assert first == second and label(first).startswith("/dev/video2 ")
