"""Self-tests of the twin's video streaming app over real HTTP on loopback.

The app is driven by a fake camera set and fake devices; each test reads what a client of the
real app (Flask 2.2.5 on Werkzeug's threaded server, akri-facts 3.2, 3.3, 12) would see.
"""

from __future__ import annotations

import http.client
import io
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from PIL import Image

from fixtures.waits import HostWaitTimeout, wait_until
from twin.feeders import DeviceFrames
from twin.streaming import StreamingApp
from twin.streaming_feeds import BUFFER_ALIGN, PART_HEADER, as_served
from twin.streaming_http import WerkzeugServer

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

    def start(faults: frozenset[str] = frozenset(), small: list[str] = SMALL) -> Env:
        env = Env(devices, small=list(small))
        env.app = StreamingApp(env.cameras, env.source, faults)
        env.http = WerkzeugServer(env.app, 0)
        env.app.boot()
        env.http.start()
        envs.append(env)
        return env

    yield start
    stop.set()
    feeder.join()
    for env in envs:
        assert env.http is not None
        port = env.http.port
        env.http.close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert not [t for t in threading.enumerate() if t.name.startswith("feed ")]


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


def test_as_served_pads_to_buffer_size() -> None:
    assert len(as_served(b"\xff\xd8" + b"x" * 70000, frozenset())) == 2 * BUFFER_ALIGN
    assert len(as_served(b"y" * BUFFER_ALIGN, frozenset())) == BUFFER_ALIGN
    scrambled = as_served(b"\xff\xd8abc\xff\xd9", frozenset({"not-jpeg"}))
    assert not scrambled.startswith(b"\xff\xd8") and scrambled[7:] == bytes(BUFFER_ALIGN - 7)


def test_pages_answer_as_werkzeug_does(start_app: Callable[..., Env]) -> None:
    env = start_app()
    head, _, body = env.raw("/camera_list", 4096).partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 200 OK"
    assert [ln.split(":")[0] for ln in lines[1:]] == [
        "Server",
        "Date",
        "Content-Type",
        "Content-Length",
        "Connection",
    ]
    assert re.fullmatch(r"Server: Werkzeug/\d+\.\d+\.\d+ Python/3\.11\.\d+", lines[1])
    assert lines[3:] == [
        "Content-Type: text/html; charset=utf-8",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    assert body.decode() == f"{MAIN}+{SMALL[0]},{SMALL[1]}"  # sorted as strings
    page = env.get("/").read().decode()
    assert "<title>Akri Demo</title>" in page and "<h1>Akri Demo</h1>" in page
    assert re.findall(r'<img src="/camera_frame_feed/(\d+)"', page) == ["0", "1", "2"]
    assert f'var last_camera_list = "{MAIN}+{SMALL[0]},{SMALL[1]}"' in page
    missing = env.raw("/nope", 4096)
    assert missing.startswith(b"HTTP/1.1 404 NOT FOUND\r\n") and b"<h1>Not Found</h1>" in missing


def test_unknown_feed_ids_answer_500(start_app: Callable[..., Env]) -> None:
    env = start_app()
    resp = env.get("/camera_frame_feed/3")
    assert (resp.status, resp.reason, resp.read()) == (500, "INTERNAL SERVER ERROR", b"")
    assert resp.getheader("Content-Length") == "0"  # Response(None, 500)
    resp = env.get("/camera_frame_feed/x")
    page = resp.read().decode()
    assert resp.status == 500 and resp.getheader("Content-Type") == "text/html; charset=utf-8"
    assert "<title>500 Internal Server Error</title>" in page and "<h1>Internal Server" in page
    assert env.app is not None
    assert any("Exception on /camera_frame_feed/x [GET]" in line for line in env.app.log)
    assert env.get("/camera_list").status == 200  # a ValueError leaves the app working


def test_feed_is_chunked_multipart_of_padded_live_jpegs(start_app: Callable[..., Env]) -> None:
    env = start_app()
    wire = env.raw("/camera_frame_feed/1", 1024)
    head, _, body = wire.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 200 OK" and "Content-Length" not in head.decode()
    assert lines[3:] == [
        "Content-Type: multipart/x-mixed-replace; boundary=frame",
        "Transfer-Encoding: chunked",
        "Connection: close",
    ]
    size, _, chunk = body.partition(b"\r\n")
    assert int(size, 16) == PART and chunk.startswith(PART_HEADER)  # one chunk per part
    started = time.monotonic()
    resp = env.get("/camera_frame_feed/1")
    assert resp.version == 11 and resp.chunked
    bodies = read_parts(resp, 3)
    assert time.monotonic() - started > 1.5  # about one frame per second per feed
    labels = [label(b) for b in bodies]
    assert all(lbl.startswith("/dev/video1 ") for lbl in labels) and len(set(labels)) == 3
    for body in bodies:
        assert body.startswith(b"\xff\xd8") and body.rstrip(b"\0").endswith(b"\xff\xd9")
    main = [label(b).split()[0] for b in read_parts(env.get("/camera_frame_feed/0"), 2)]
    assert sorted(main) == ["/dev/video1", "/dev/video2"]  # a broker per GetFrame call


def test_clients_of_one_feed_share_its_frames(start_app: Callable[..., Env]) -> None:
    env = start_app()
    first, second = env.get("/camera_frame_feed/2"), env.get("/camera_frame_feed/2")
    got: dict[str, list[str]] = {"first": [], "second": []}
    readers = [
        threading.Thread(target=lambda r=r, k=k: got[k].extend(map(label, read_parts(r, 2))))
        for k, r in (("first", first), ("second", second))
    ]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(15)
    assert len(got["first"]) == len(got["second"]) == 2
    assert not set(got["first"]) & set(got["second"])  # each frame went to one client only


def test_camera_change_stalls_open_streams(start_app: Callable[..., Env]) -> None:
    env = start_app()
    conn = env.connect(timeout=3)
    conn.request("GET", "/camera_frame_feed/2")
    resp = conn.getresponse()
    read_parts(resp, 1)
    env.main, env.small = None, ["10.152.183.8:80"]
    wait_until(
        lambda: camera_list(env), lambda seen: seen == "10.152.183.8:80", timeout=5, what="new list"
    )
    late = b""  # a frame the old feed thread got before it ended may still come
    with pytest.raises(TimeoutError):  # then no more parts and no end: the stream stalls
        while True:
            chunk = resp.read1(65536)
            assert chunk, "the stream ended: the real app's open streams stall instead"
            late += chunk
            assert len(late) <= 2 * PART
    resp = env.get("/camera_frame_feed/0")
    assert (resp.status, resp.read()) == (500, b"")  # no main camera any more
    env.small = [*SMALL, "10.152.183.8:80"]
    wanted = ",".join(sorted(env.small))
    wait_until(lambda: camera_list(env), lambda seen: seen == wanted, timeout=5, what=wanted)
    assert label(read_parts(env.get("/camera_frame_feed/1"), 1)[0]).startswith("/dev/video1")


def test_frameless_feed_sends_no_status_line(start_app: Callable[..., Env]) -> None:
    env = start_app(small=[*SMALL, SILENT])
    silent = sorted([*SMALL, SILENT]).index(SILENT) + 1
    conn = env.connect(timeout=1.5)
    conn.request("GET", f"/camera_frame_feed/{silent}")
    with pytest.raises(TimeoutError):  # Werkzeug sends the status with the first chunk
        conn.getresponse()


def hangs(env: Env, path: str) -> bool:
    """True when GET path gets no answer within half a second."""
    try:
        env.get(path, timeout=0.5).read()
    except TimeoutError:
        return True
    return False


def test_merge_waiting_on_a_stuck_feed_hangs_the_pages(start_app: Callable[..., Env]) -> None:
    env = start_app(small=[*SMALL, SILENT])
    assert not hangs(env, "/camera_list")
    env.small = list(SMALL)  # the merge waits for the feed thread stuck in GetFrame
    wait_until(lambda: hangs(env, "/camera_list"), bool, timeout=5, what="/camera_list to hang")
    assert hangs(env, "/") and hangs(env, "/camera_frame_feed/1")


def test_negative_id_below_minus_n_wedges_the_app(start_app: Callable[..., Env]) -> None:
    env = start_app()
    # -1 is small[-2], the first of two: Python's negative indexing
    assert label(read_parts(env.get("/camera_frame_feed/-1"), 1)[0]).startswith("/dev/video1")
    resp = env.get("/camera_frame_feed/-9")
    assert resp.status == 500 and b"Internal Server Error" in resp.read()
    assert hangs(env, "/camera_list")  # the camera lock is never released


def test_replayed_stray_request_wedges_before_serving(start_app: Callable[..., Env]) -> None:
    env = start_app()
    assert env.http is not None
    answer = env.http.replay(b"GET /camera_frame_feed/-99 HTTP/1.1\r\n\r\n", ("192.0.2.10", 1))
    assert answer.startswith(b"HTTP/1.1 500 INTERNAL SERVER ERROR\r\n")
    assert env.app is not None and any("192.0.2.10" in line for line in env.app.log)
    assert hangs(env, "/")


def test_a_failed_services_list_ends_the_refresh_for_good(start_app: Callable[..., Env]) -> None:
    env = start_app()
    env.fail_lists = True
    assert env.app is not None
    wait_until(
        lambda: [line for line in env.app.log if "refresh_cameras" in line],
        bool,
        timeout=5,
        what="the refresh thread to die",
    )
    env.fail_lists, env.small = False, SMALL[:1]
    with pytest.raises(HostWaitTimeout):  # two refresh periods and more: nothing follows
        wait_until(
            lambda: camera_list(env),
            lambda seen: seen != f"{MAIN}+{','.join(SMALL)}",
            timeout=2.5,
            what="the app to follow the change",
        )


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
