"""Self-tests of the twin app's HTTP framing: Werkzeug's status lines, headers, chunks, pages."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest

from selftests.twin.streaming_support import (
    MAIN,
    PART,
    PART_HEADER,
    SILENT,
    SMALL,
    Env,
    hangs,
    label,
    read_parts,
)


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


def test_frameless_feed_sends_no_status_line(start_app: Callable[..., Env]) -> None:
    env = start_app(small=[*SMALL, SILENT])
    silent = sorted([*SMALL, SILENT]).index(SILENT) + 1
    conn = env.connect(timeout=1.5)
    conn.request("GET", f"/camera_frame_feed/{silent}")
    with pytest.raises(TimeoutError):  # Werkzeug sends the status with the first chunk
        conn.getresponse()


def test_replayed_stray_request_wedges_before_serving(start_app: Callable[..., Env]) -> None:
    env = start_app()
    assert env.http is not None
    answer = env.http.replay(b"GET /camera_frame_feed/-99 HTTP/1.1\r\n\r\n", ("192.0.2.10", 1))
    assert answer.startswith(b"HTTP/1.1 500 INTERNAL SERVER ERROR\r\n")
    assert env.app is not None and any("192.0.2.10" in line for line in env.app.log)
    assert hangs(env, "/")
