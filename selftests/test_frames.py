"""Self-tests of fixtures.frames: multipart parsing, feed fetching over loopback, JPEG checks."""

from __future__ import annotations

import io
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image, ImageDraw

from fixtures import frames as f


def jpeg(shade: int, size: tuple[int, int] = (64, 48), quality: int = 90, **save) -> bytes:
    """A small JPEG with a shade-dependent square, so frames of different shades differ."""
    im = Image.new("RGB", size, (shade, 40, 200 - shade // 2))
    ImageDraw.Draw(im).rectangle((shade % 40, 5, shade % 40 + 12, 20), fill=(255, 255, 0))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality, **save)
    return out.getvalue()


FRAMES = [jpeg(10 * i) for i in range(6)]
PADDED = FRAMES[1] + b"\0" * 4096


def part(body: bytes, length: bool) -> bytes:
    head = b"--frame\r\nContent-Type: image/jpeg\r\n"
    if length:
        head += b"Content-Length: %d\r\n" % len(body)
    return head + b"\r\n" + body + b"\r\n"


def stream(length: bool, bodies: list[bytes] = FRAMES) -> bytes:
    return b"".join(part(b, length) for b in bodies)


class Handler(BaseHTTPRequestHandler):
    """Serves one multipart behaviour per path; `server.release` ends stalled responses."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def send(self, data: bytes, chunk: int = 0) -> None:
        if self.server.chunked_encoding:  # type: ignore[attr-defined]
            data = b"%x\r\n%s\r\n" % (len(data), data)
        step = chunk or len(data) or 1
        for i in range(0, len(data), step):
            self.wfile.write(data[i : i + step])
            self.wfile.flush()

    def do_GET(self) -> None:
        route = self.path.strip("/")
        self.close_connection = True  # one stream per connection, like the app's feeds
        if route == "500":
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        ctype = "text/html" if route == "html" else "multipart/x-mixed-replace; boundary=frame"
        self.send_header("Content-Type", ctype)
        chunked = self.server.chunked_encoding  # type: ignore[attr-defined]
        self.send_header(
            "Transfer-Encoding" if chunked else "Connection", "chunked" if chunked else "close"
        )
        self.end_headers()
        try:
            if route == "cl":
                self.send(b"preamble\r\n" + stream(True))
            elif route == "nocl":
                self.send(stream(False))
            elif route == "padded":
                self.send(stream(False, [PADDED, PADDED, PADDED]))
            elif route == "split":
                self.send(stream(True, FRAMES[:3]) + stream(False, FRAMES[3:]), chunk=7)
            elif route == "closing":
                self.send(stream(False, FRAMES[:2]) + b"--frame--\r\n")
            elif route == "stall":
                self.send(stream(False, FRAMES[:1]) + b"--frame\r\n")
                self.server.release.wait(10)  # type: ignore[attr-defined]
            elif route == "html":
                self.send(b"<html>not a stream</html>")
        except OSError:
            pass  # the client hung up after reading what it needed


@pytest.fixture(params=[False, True], ids=["raw", "chunked"])
def server(request: pytest.FixtureRequest) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.chunked_encoding = request.param  # type: ignore[attr-defined]
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


@pytest.mark.parametrize("length", [True, False])
def test_read_parts_any_split(length: bool) -> None:
    data = stream(length, FRAMES[:3])
    for size in (1, 2, 3, 5, 64, 4096, len(data)):
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        it = iter(chunks)
        parts = f.read_parts(lambda n, it=it: next(it, b""), "frame", 3, time.monotonic() + 5)
        assert [x.body for x in parts] == FRAMES[:3], size
        assert parts[0].header("content-type") == "image/jpeg"


def test_read_parts_eof_before_count() -> None:
    it = iter([stream(True, FRAMES[:1])])
    with pytest.raises(f.FeedError, match="stream ended after 1 of 2"):
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
    infos = [f.inspect_jpeg(x.body) for x in parts]
    assert all(i.ok and (i.width, i.height) == (64, 48) for i in infos), infos
    assert f.frames_differ(parts[0].body, parts[2].body)  # the ball moves


@pytest.mark.parametrize("route", ["cl", "nocl", "split"])
def test_fetch_feed_reads_jpeg_parts(server: str, route: str) -> None:
    result = f.fetch_feed(server, f"/{route}", 4, timeout=5)
    assert result.status == 200
    assert result.content_type == "multipart/x-mixed-replace; boundary=frame"
    assert [x.body for x in result.parts] == FRAMES[:4]
    assert all(f.inspect_jpeg(x.body).ok for x in result.parts)


def test_fetch_feed_keeps_padding_after_eoi(server: str) -> None:
    result = f.fetch_feed(server, "/padded", 2, timeout=5)
    assert [x.body for x in result.parts] == [PADDED, PADDED]
    info = f.inspect_jpeg(result.parts[0].body)
    assert (info.ok, info.width, info.height, info.size) == (True, 64, 48, len(PADDED))


def test_fetch_feed_stall_fails_within_timeout(server: str) -> None:
    started = time.monotonic()
    with pytest.raises(f.FeedError) as err:
        f.fetch_feed(server, "/stall", 2, timeout=1.0)
    assert time.monotonic() - started < 3
    assert err.value.status == 200 and err.value.received > len(FRAMES[0])
    assert len(err.value.parts) == 1 and "timed out after 1 of 2" in str(err.value)


def test_fetch_feed_close_delimiter_ends_stream(server: str) -> None:
    with pytest.raises(f.FeedError, match="stream ended after 2 of 3") as err:
        f.fetch_feed(server, "/closing", 3, timeout=5)
    assert [x.body for x in err.value.parts] == FRAMES[:2]


@pytest.mark.parametrize(("route", "status"), [("500", 500), ("html", 200)])
def test_fetch_feed_rejects_wrong_answer(server: str, route: str, status: int) -> None:
    with pytest.raises(f.FeedError, match="expected 200 and multipart") as err:
        f.fetch_feed(server, f"/{route}", 1, timeout=5)
    assert err.value.status == status


def test_fetch_feed_refused_and_non_loopback() -> None:
    with pytest.raises(f.FeedError, match="failed"):
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
    info = f.inspect_jpeg(data)
    assert not info.ok and error in (info.error or "") and info.size == len(data)


def test_inspect_jpeg_v4l2_sized_buffer() -> None:
    buffer = jpeg(50, (640, 480))
    buffer += b"\0" * (1_228_800 - len(buffer))
    info = f.inspect_jpeg(buffer)
    assert (info.ok, info.width, info.height, info.size) == (True, 640, 480, 1_228_800)


def test_frames_differ_on_pixels_not_bytes() -> None:
    assert f.frames_differ(FRAMES[0], FRAMES[1])
    same_pixels = jpeg(0, comment=b"another encoder run")
    assert same_pixels != FRAMES[0] and not f.frames_differ(FRAMES[0], same_pixels)
    assert not f.frames_differ(FRAMES[0], FRAMES[0] + b"\0" * 100)
    assert f.frames_differ(FRAMES[0], jpeg(0, (32, 24)))
    low = jpeg(0, quality=40)
    assert f.frames_differ(FRAMES[0], low) and not f.frames_differ(FRAMES[0], low, min_delta=80)
    with pytest.raises(ValueError, match="cannot decode"):
        f.frames_differ(FRAMES[0], b"not a jpeg")
