"""The twin's Akri video streaming app: real HTTP, the routes and feed logic of the sample app.

Behaves like `video-streaming-app` (akri-facts 3.2/3.3): the camera set (configuration
service = main camera, instance services = small cameras) is re-read every second and a
change restarts all feeds, which ends open streams. Each feed has a producer that fetches
about one frame per second, round-robin over the devices behind its service for the main
feed, into a one-slot queue shared by the feed's clients. Frames are served as multipart
parts carrying the zero padding of a V4L2 buffer. Faults: `no-feeds` drops the feed links
from the index page, `not-jpeg` scrambles the part bodies, `frozen-frames` repeats each
feed's first frame.
"""

from __future__ import annotations

import contextlib
import html
import queue
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from twin.feeders import DeviceFrames

BOUNDARY = "frame"
PART_HEADER = b"--frame\r\nContent-Type: image/jpeg\r\n\r\n"
#: served frames are padded with zeros to a multiple of this, like a V4L2 capture buffer
BUFFER_ALIGN = 65536
_FEED_PERIOD = 1.0  # the real app sleeps 1 s between gRPC calls
_POLL = 0.25  # how often blocked waits re-check their stop events
_JOIN = 3.0
# XOR 0x5A turns FF D8 into A5 82: same length, still varying, no longer a JPEG
_SCRAMBLE = bytes(b ^ 0x5A for b in range(256))
_NOT_FOUND = (
    "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n"
    "<p>The requested URL was not found on the server. If you entered the URL manually please "
    "check your spelling and try again.</p>\n"
)


def as_served(jpeg: bytes, faults: frozenset[str]) -> bytes:
    """The bytes a broker hands over for one captured frame: padded, scrambled if faulted."""
    body = jpeg.translate(_SCRAMBLE) if "not-jpeg" in faults else jpeg
    return body + bytes(-len(body) % BUFFER_ALIGN)


class _Feed:
    """One camera feed: a producer thread and the one-slot queue its clients share."""

    def __init__(
        self,
        url: str,
        source: Callable[[str], list[DeviceFrames]],
        faults: frozenset[str],
        log: Callable[[str], None],
    ) -> None:
        self.url = url
        self.frames: queue.Queue[bytes] = queue.Queue(1)
        self.stopped = threading.Event()
        self._source = source
        self._faults = faults
        self._log = log
        self._thread = threading.Thread(target=self._produce, name=f"feed {url}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self._thread.join(_JOIN)

    def stream(self, app_stop: threading.Event) -> Iterator[bytes]:
        """Frames for one client until the feed or the app stops; blocks while none come."""
        while not (self.stopped.is_set() or app_stop.is_set()):
            with contextlib.suppress(queue.Empty):
                yield self.frames.get(timeout=_POLL)

    def _produce(self) -> None:
        self._log(f"Starting get_frames({self.url})")
        seen: dict[str, int] = {}
        first: bytes | None = None
        turn = 0
        while not self.stopped.is_set():
            try:
                devices = self._source(self.url)
            except Exception as exc:  # the real loop logs any error and retries after 1 s
                devices = []
                self._log(f"[{self.url}] Exception {exc!r}")
            if not devices:
                self._log(f"[{self.url}] Exception StatusCode.UNAVAILABLE: no healthy upstream")
                self.stopped.wait(_FEED_PERIOD)
                continue
            device = devices[turn % len(devices)]
            turn += 1
            frame = self._capture(device, seen)
            if frame is None:
                continue
            if "frozen-frames" in self._faults:
                first = first or frame
                frame = first
            with contextlib.suppress(queue.Empty):
                self.frames.get_nowait()  # drop the stale frame, as the real app does
            self.frames.put_nowait(as_served(frame, self._faults))
            self.stopped.wait(_FEED_PERIOD)

    def _capture(self, device: DeviceFrames, seen: dict[str, int]) -> bytes | None:
        """Like the broker's blocking capture: the next frame the device gets, however long."""
        while not self.stopped.is_set():
            got = device.wait_newer(seen.get(device.devnode, 0), _POLL)
            if got is not None:
                seen[device.devnode] = got[0]
                return got[1]
        return None


class StreamingApp:
    """The streaming app served over real HTTP on loopback."""

    def __init__(
        self,
        cameras: Callable[[], tuple[str | None, list[str]]],
        source: Callable[[str], list[DeviceFrames]],
        faults: frozenset[str],
    ) -> None:
        self._cameras = cameras
        self._source = source
        self._faults = faults
        self._lock = threading.Lock()
        self._main: _Feed | None = None
        self._small: list[_Feed] = []
        self._stop = threading.Event()
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []
        self._clients: set[_Handler] = set()
        #: the app's stdout, as `kubectl logs` would show it
        self.log: deque[str] = deque(maxlen=1000)

    @property
    def port(self) -> int:
        """The TCP port the app listens on (after start)."""
        if self._server is None:
            raise RuntimeError("the streaming app is not running")
        return self._server.server_address[1]

    def start(self, port: int, host: str = "127.0.0.1") -> None:
        """Read the cameras, start their feeds and serve HTTP on host:port (0 = any port)."""
        if self._server is not None:
            raise RuntimeError("the streaming app is already running")
        server = _Server((host, port), _Handler)  # bind first: a busy port starts nothing
        server.app = self
        self._stop.clear()
        self._say("Starting...")
        self._refresh()
        self._server = server
        self._threads = [
            threading.Thread(target=self._server.serve_forever, args=(0.1,), daemon=True),
            threading.Thread(target=self._refresh_loop, name="refresh cameras", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        self._say("Started")

    def stop(self) -> None:
        """Stop serving, end every stream and feed, release the port."""
        if self._server is None:
            return
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            # the refresher must be gone before the feeds go, or it could start new ones
            thread.join(_JOIN)
        with self._lock:
            feeds, self._main, self._small = self._feeds(), None, []
            clients = list(self._clients)
        for client in clients:
            # a client that stopped reading would pin its thread in a blocked write
            with contextlib.suppress(OSError):
                client.connection.shutdown(socket.SHUT_RDWR)
        for feed in feeds:
            feed.stop()
        deadline = time.monotonic() + _JOIN
        for client in clients:
            client.thread.join(max(0.0, deadline - time.monotonic()))
        self._server = None

    def camera_list(self) -> str:
        """What `/camera_list` returns: `main+small1,small2`, `small1,small2` or ``."""
        with self._lock:
            small = ",".join(f.url for f in self._small)
            return f"{self._main.url}+{small}" if self._main else small

    def index_html(self) -> str:
        """The index page, rendered as the app's template does."""
        with self._lock:
            count = len(self._small) + (1 if self._main else 0)
        cameras = html.escape(self.camera_list())
        imgs = []
        if count and "no-feeds" not in self._faults:
            imgs.append('<div><img src="/camera_frame_feed/0" style="width:480px"></div>')
            imgs += [
                f'<li><img src="/camera_frame_feed/{i}" style="width:200px"></li>'
                for i in range(1, count)
            ]
        return (
            "<html>\n<head>\n<title>Akri Demo</title>\n</head>\n<body>\n"
            '<div style="max-width: 800px; margin: auto; text-align: center">\n'
            "<h1>Akri Demo</h1>\n" + "\n".join(imgs) + "\n</div>\n<script>\n"
            f'var last_camera_list = "{cameras}"\n'
            "function refresh_on_device_change() {\n"
            "  fetch('/camera_list').then(resp => resp.text()).then(list => {\n"
            "    if (list != last_camera_list) { window.location.reload(false); }\n"
            "  });\n}\nsetInterval(refresh_on_device_change, 1000);\n</script>\n</body>\n</html>\n"
        )

    def feed(self, camera_id: str) -> _Feed | None:
        """The feed behind `/camera_frame_feed/<camera_id>`, None where the app answers 500."""
        try:
            cid = int(camera_id)
        except ValueError:
            return None
        with self._lock:
            if cid == 0:
                return self._main
            if cid - 1 < len(self._small):
                # negative ids index from the end, as Python does in the real app
                with contextlib.suppress(IndexError):
                    return self._small[cid - 1]
            return None

    def _feeds(self) -> list[_Feed]:
        return [f for f in (self._main, *self._small) if f is not None]

    def _refresh_loop(self) -> None:
        while not self._stop.wait(1.0):
            self._refresh()

    def _refresh(self) -> None:
        """Re-read the camera set; on a change stop every feed and start the new set."""
        try:
            main, small = self._cameras()
        except Exception as exc:  # the lookup is the Kubernetes model: keep the last set
            self._say(f"listing services failed: {exc!r}")
            return
        with self._lock:
            current = (self._main.url if self._main else None, [f.url for f in self._small])
            if (main, small) == current:
                return
            old = self._feeds()
            self._main = self._new_feed(main) if main else None
            self._small = [self._new_feed(url) for url in small]
            new = self._feeds()
        for feed in old:
            feed.stop()
        for feed in new:
            feed.start()

    def _new_feed(self, url: str) -> _Feed:
        return _Feed(url, self._source, self._faults, self._say)

    def _say(self, message: str) -> None:
        self.log.append(f"{time.strftime('%H:%M:%S')}: {message}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: StreamingApp


class _Handler(BaseHTTPRequestHandler):
    """Routes of the Flask app: /, /camera_list, /camera_frame_feed/<camera_id>."""

    server: _Server
    server_version = "Werkzeug/2.2.3"
    # a client that stops reading must not pin a thread forever
    timeout = 10

    def do_GET(self) -> None:
        app = self.server.app
        path = unquote(urlsplit(self.path).path)
        prefix, _, camera_id = path.rpartition("/")
        if path == "/":
            self._reply(200, app.index_html())
        elif path == "/camera_list":
            app._say(f"Expected cameras: {app.camera_list()}")
            self._reply(200, app.camera_list())
        elif prefix == "/camera_frame_feed" and camera_id:
            self._stream(app, app.feed(camera_id))
        else:
            self._reply(404, _NOT_FOUND)

    def _reply(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, app: StreamingApp, feed: _Feed | None) -> None:
        if feed is None:
            self._reply(500, "")
            return
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.end_headers()
        self.wfile.flush()
        for frame in feed.stream(app._stop):
            self.wfile.write(PART_HEADER + frame + b"\r\n")
            self.wfile.flush()

    def setup(self) -> None:
        super().setup()
        self.thread = threading.current_thread()
        with self.server.app._lock:
            self.server.app._clients.add(self)

    def handle(self) -> None:
        with contextlib.suppress(OSError):  # the client went away
            super().handle()

    def finish(self) -> None:
        with self.server.app._lock:
            self.server.app._clients.discard(self)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: object) -> None:
        """Access log lines like Werkzeug's, into the app log."""
        line = f"{self.address_string()} - - [{self.log_date_time_string()}] {format % args}"
        self.server.app._say(line)
