"""Self-tests of fixtures.node.frames (the app's chunked multipart feeds) and fixtures.node.jpeg."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image, ImageDraw

from fixtures.node import frames as f
from fixtures.node import jpeg as jpeg_checks


def jpeg(shade: int, size: tuple[int, int] = (64, 48), quality: int = 90, **save) -> bytes:
    """A small JPEG with a shade-dependent square, so frames of different shades differ."""
    im = Image.new("RGB", size, (shade, 40, 200 - shade // 2))
    ImageDraw.Draw(im).rectangle((shade % 40, 5, shade % 40 + 12, 20), fill=(255, 255, 0))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality, **save)
    return out.getvalue()


FRAMES = [jpeg(10 * i) for i in range(6)]
PADDED = FRAMES[1] + b"\0" * 4096


def part(body: bytes) -> bytes:
    """One part as the app yields it: no part length, the body ends before the CRLF."""
    return b"--frame\r\nContent-Type: image/jpeg\r\n\r\n" + body + b"\r\n"


def stream(bodies: list[bytes] = FRAMES) -> bytes:
    return b"".join(part(b) for b in bodies)


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class Handler(BaseHTTPRequestHandler):
    """One feed behaviour per path, framed as Werkzeug frames the app's answers.

    HTTP/1.1, `Connection: close`, the status line and headers sent with the first chunk, and one
    chunk per part (docs/facts.md#streaming-app-framing). `server.release` ends the responses that
    hang.
    """

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def answer(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def parts(self, chunks: list[bytes]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        for data in chunks:
            self.wfile.write(chunk(data))
            self.wfile.flush()

    def do_GET(self) -> None:
        route = self.path.strip("/")
        hold = self.server.release  # type: ignore[attr-defined]
        try:
            if route == "feed":
                self.parts([part(b) for b in FRAMES])
            elif route == "padded":
                self.parts([part(PADDED)] * 3)
            elif route == "split":  # chunk boundaries anywhere, even inside a part's headers
                data = stream()
                self.parts([data[i : i + 7] for i in range(0, len(data), 7)])
            elif route == "ended":  # a clean end: the last chunk
                self.parts([part(b) for b in FRAMES[:2]] + [b""])
            elif route == "stall":  # a part, then the connection stays open with nothing
                self.parts([part(FRAMES[0]), b"--frame\r\n"])
                hold.wait(10)
            elif route == "cut":  # the pod goes away in the middle of a chunk
                self.parts([part(FRAMES[0])])
                self.wfile.write(b"%x\r\n%s" % (len(part(FRAMES[1])), part(FRAMES[1])[:100]))
            elif route == "cut-once":  # cut on the first request only (an SSH reconnect)
                if not getattr(self.server, "cut", False):
                    self.server.cut = True  # type: ignore[attr-defined]
                    self.parts([part(FRAMES[0])])
                else:
                    self.parts([part(b) for b in FRAMES])
            elif route == "silent":  # no frame ever: Werkzeug sends not even the status line
                hold.wait(10)
            elif route == "empty-500":  # Response(None, 500)
                self.answer(500, "text/html; charset=utf-8", b"")
            elif route == "page-500":
                self.answer(500, "text/html; charset=utf-8", b"<title>500 Internal Server")
            elif route == "html":
                self.answer(200, "text/html; charset=utf-8", b"<html>not a stream</html>")
        except OSError:
            pass  # the client hung up after reading what it needed


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.release = threading.Event()  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.release.set()  # type: ignore[attr-defined]
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_read_parts_any_split() -> None:
    data = b"preamble\r\n" + stream(FRAMES[:3]) + b"--frame"
    for size in (1, 2, 3, 5, 64, 4096, len(data)):
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        it = iter(chunks)
        parts = f.read_parts(lambda n, it=it: next(it, b""), "frame", 3, time.monotonic() + 5)
        assert [x.body for x in parts] == FRAMES[:3], size
        assert parts[0].header("content-type") == "image/jpeg"


def test_read_parts_eof_before_count() -> None:
    it = iter([stream(FRAMES[:1])])
    with pytest.raises(f.FeedError, match="the stream ended after 1 of 2"):
        f.read_parts(lambda n: next(it, b""), "frame", 2, time.monotonic() + 5)


@pytest.mark.skipif(not shutil.which("gst-launch-1.0"), reason="gstreamer1.0-tools not installed")
def test_read_parts_real_multipartmux_output() -> None:
    pipeline = (
        "gst-launch-1.0 -q videotestsrc num-buffers=3 pattern=ball ! "
        "video/x-raw,width=64,height=48 ! jpegenc ! multipartmux boundary=frame ! fdsink fd=1"
    )
    data = subprocess.run(pipeline.split(), capture_output=True, timeout=30, check=True).stdout
    it = iter([data])
    parts = f.read_parts(lambda n: next(it, b""), "frame", 3, time.monotonic() + 5)
    infos = [jpeg_checks.inspect_jpeg(x.body) for x in parts]
    assert all(i.ok and (i.width, i.height) == (64, 48) for i in infos), infos
    assert jpeg_checks.frames_differ(parts[0].body, parts[2].body)  # the ball moves


@pytest.mark.parametrize("route", ["feed", "split"])
def test_fetch_feed_reads_chunked_jpeg_parts(server: str, route: str) -> None:
    result = f.fetch_feed(server, f"/{route}", 4, timeout=5)
    assert result.status == 200 and result.headers["Transfer-Encoding"] == "chunked"
    assert result.content_type == "multipart/x-mixed-replace; boundary=frame"
    assert [x.body for x in result.parts] == FRAMES[:4]
    assert all(jpeg_checks.inspect_jpeg(x.body).ok for x in result.parts)


def test_fetch_feed_keeps_padding_after_eoi(server: str) -> None:
    result = f.fetch_feed(server, "/padded", 2, timeout=5)
    assert [x.body for x in result.parts] == [PADDED, PADDED]
    info = jpeg_checks.inspect_jpeg(result.parts[0].body)
    assert (info.ok, info.width, info.height, info.size) == (True, 64, 48, len(PADDED))


def test_fetch_feed_stall_says_it_stalled(server: str) -> None:
    started = time.monotonic()
    with pytest.raises(f.FeedError) as err:
        f.fetch_feed(server, "/stall", 2, timeout=1.5)
    assert time.monotonic() - started < 3
    assert err.value.status == 200 and err.value.received > len(FRAMES[0])
    assert len(err.value.parts) == 1 and not err.value.closed
    assert re.search(r"stalled: 1 of 2 parts in 1\.\ds, then nothing for 1\.\ds", str(err.value))


def test_fetch_feed_without_status_line(server: str) -> None:
    started = time.monotonic()
    with pytest.raises(f.FeedError, match="no response within 1s, not even a status line"):
        f.fetch_feed(server, "/silent", 1, timeout=1)
    assert time.monotonic() - started < 3


def test_fetch_feed_clean_end_and_cut_connection(server: str) -> None:
    with pytest.raises(f.FeedError, match="the stream ended after 2 of 3") as err:
        f.fetch_feed(server, "/ended", 3, timeout=5)
    assert [x.body for x in err.value.parts] == FRAMES[:2] and err.value.closed
    with pytest.raises(f.FeedError, match="closed in the middle of a chunk after 1 of 2") as cut:
        f.fetch_feed(server, "/cut", 2, timeout=5)
    assert cut.value.closed  # the app never ends a stream: the suite may open it again


def test_read_feed_opens_a_cut_feed_once_more(server: str) -> None:
    result = f.read_feed(server, "/cut-once", 3, timeout=5)
    assert [x.body for x in result.parts] == FRAMES[:3]
    with pytest.raises(f.FeedError, match="opened again after a first connection ended"):
        f.read_feed(server, "/ended", 3, timeout=5)
    with pytest.raises(f.FeedError, match="stalled") as stalled:
        f.read_feed(server, "/stall", 2, timeout=1.5)
    assert "opened again" not in str(stalled.value)  # a stall is a verdict


@pytest.mark.parametrize(
    ("route", "status", "head"),
    [("empty-500", 500, b""), ("page-500", 500, b"<title>500"), ("html", 200, b"<html>")],
)
def test_fetch_feed_rejects_wrong_answer(server: str, route: str, status: int, head: bytes):
    with pytest.raises(f.FeedError, match="expected 200 and multipart") as err:
        f.fetch_feed(server, f"/{route}", 1, timeout=5)
    assert err.value.status == status and err.value.head.startswith(head)


def test_fetch_feed_refused_and_non_loopback() -> None:
    with pytest.raises(f.FeedError, match="cannot connect"):
        f.fetch_feed("http://127.0.0.1:9", "/x", 1, timeout=2)
    with pytest.raises(ValueError, match="loopback"):
        f.fetch_feed("http://192.0.2.1:80", "/x", 1, timeout=2)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", "no JPEG SOI"),
        (b"\x89PNG\r\n\x1a\n", "no JPEG SOI"),
        (FRAMES[0][: len(FRAMES[0]) // 2], "no JPEG EOI"),
        (FRAMES[0][:300] + b"\xff\xd9", "Pillow cannot decode"),
        (b"\xff\xd8\xff\xd9", "Pillow cannot decode"),
    ],
)
def test_inspect_jpeg_reports_errors_without_raising(data: bytes, error: str) -> None:
    info = jpeg_checks.inspect_jpeg(data)
    assert not info.ok and error in (info.error or "") and info.size == len(data)


def test_inspect_jpeg_v4l2_sized_buffer() -> None:
    buffer = jpeg(50, (640, 480))
    buffer += b"\0" * (1_228_800 - len(buffer))
    info = jpeg_checks.inspect_jpeg(buffer)
    assert (info.ok, info.width, info.height, info.size) == (True, 640, 480, 1_228_800)


def test_frames_differ_on_pixels_not_bytes() -> None:
    assert jpeg_checks.frames_differ(FRAMES[0], FRAMES[1])
    same_pixels = jpeg(0, comment=b"another encoder run")
    assert same_pixels != FRAMES[0] and not jpeg_checks.frames_differ(FRAMES[0], same_pixels)
    assert not jpeg_checks.frames_differ(FRAMES[0], FRAMES[0] + b"\0" * 100)
    assert jpeg_checks.frames_differ(FRAMES[0], jpeg(0, (32, 24)))
    low = jpeg(0, quality=40)
    assert jpeg_checks.frames_differ(FRAMES[0], low)
    assert not jpeg_checks.frames_differ(FRAMES[0], low, min_delta=80)
    with pytest.raises(ValueError, match="cannot decode"):
        jpeg_checks.frames_differ(FRAMES[0], b"not a jpeg")
