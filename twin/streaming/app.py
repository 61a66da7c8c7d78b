"""The twin's Akri video streaming app: the sample app's camera set and its routes.

Follows `apps/video-streaming-app/app.py` of project-akri/examples @57eab4f5
(docs/facts.md#streaming-app-cameras, docs/facts.md#streaming-app-routes,
docs/facts.md#streaming-app-hangs). The camera set (configuration service = main camera, instance
services = small cameras sorted by their `ip:port` strings) is read at start and then every second
by a refresh thread, which ends for good at its first failed services list (it has no try/except). A
change runs `merge`, which holds the camera lock while it stops every feed thread and waits for it
(after its GetFrame and its 1 s sleep), then starts the new set; open streams of the old feeds stall
(`twin/streaming/feeds.py`). The routes that take the camera lock (`/`, `/camera_list`,
`/camera_frame_feed/<id>`) wait while a merge holds it, forever if a feed thread is stuck in a
GetFrame that never returns; a negative id below -N raises IndexError while the lock is held, and
the real app never releases it, so every later request hangs while the pod stays Ready. The HTTP
framing is in `twin/streaming/server.py`. Fault `no-feeds`: the index page has no feed links.
"""

from __future__ import annotations

import contextlib
import html
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass

from twin.machine.frames import DeviceFrames
from twin.streaming.feeds import BOUNDARY, POLL, CameraFeed

STREAM_TYPE = f"multipart/x-mixed-replace; boundary={BOUNDARY}"
HTML_TYPE = "text/html; charset=utf-8"
REFRESH_PERIOD = 1.0  # the refresh thread re-reads the services every second
Cameras = tuple[str | None, list[str]]


class AppStopped(Exception):
    """The app's pod went away while a request or a feed thread was waiting."""


@dataclass
class Reply:
    """What a Flask view returned: a complete body, or a stream that never ends by itself."""

    status: int
    content_type: str = HTML_TYPE
    body: bytes = b""
    stream: Generator[bytes, None, None] | None = None


class StreamingApp:
    """The app's state and views; `twin.streaming.server.WerkzeugServer` serves them."""

    def __init__(
        self,
        cameras: Callable[[], Cameras],
        source: Callable[[str], list[DeviceFrames]],
        faults: frozenset[str],
    ) -> None:
        self.cameras = cameras
        self.source = source
        self.faults = faults
        self.stopped = threading.Event()
        #: the app's stdout and stderr, as `kubectl logs` shows them
        self.log: deque[str] = deque(maxlen=1000)
        self._lock = threading.Lock()  # the app's CameraDisplay.mutex
        self._main: CameraFeed | None = None
        self._small: list[CameraFeed] = []
        self._every_feed: list[CameraFeed] = []  # old feeds too: their streams wait on them
        self._refresher = threading.Thread(target=self._refresh_loop, name="refresh cameras")
        self._refresher.daemon = True

    def boot(self) -> None:
        """What the app does when its container starts: read the cameras, start their feeds."""
        self.say("Starting...")
        self._merge(*self.cameras())
        self._refresher.start()

    def stop(self) -> None:
        """The pod goes away: every wait ends, every feed thread and the refresher end."""
        self.stopped.set()
        self._refresher.join(5)
        for feed in list(self._every_feed):
            feed.join()
            feed.slot.close()

    def say(self, message: str) -> None:
        """One line of the app's log (`logging.basicConfig(format="%(asctime)s: %(message)s")`)."""
        self.log.append(f"{time.strftime('%H:%M:%S')}: {message}")

    # -- views ---------------------------------------------------------------------------------
    def request(self, path: str) -> Reply | None:
        """The Flask view for `path` (GET), None for no route; raises what the view raises."""
        if path == "/":
            return Reply(200, body=self.index_html().encode())
        if path == "/camera_list":
            cameras = self.camera_list()
            self.say(f"Expected cameras: {cameras}")
            return Reply(200, body=cameras.encode())
        prefix, _, camera_id = path.rpartition("/")
        if prefix == "/camera_frame_feed" and camera_id:
            return self._stream_frames(camera_id)
        return None

    def camera_list(self) -> str:
        """`hash_code()`: `main+small1,small2`, `small1,small2` or ``."""
        with self._locked():
            small = ",".join(f.url for f in self._small)
            return f"{self._main.url}+{small}" if self._main else small

    def camera_count(self) -> int:
        """`count()`: the small cameras, plus one for a main camera."""
        with self._locked():
            return len(self._small) + (1 if self._main else 0)

    def index_html(self) -> str:
        """`templates/index.html` rendered with camera_count and camera_list."""
        count, cameras = self.camera_count(), html.escape(self.camera_list())
        links = count > 0 and "no-feeds" not in self.faults
        main = (
            '      <div style="display: inline-block;clear:both;margin-bottom:30px">\n'
            '        <img src="/camera_frame_feed/0" style="width:480px">\n      </div>\n'
        )
        small = "".join(
            '        <li style="display: inline-block; padding: 0 25">\n'
            f'          <img src="/camera_frame_feed/{i}" style="width:200px">\n        </li>\n'
            for i in range(1, count if links else 0)
        )
        return (
            "<html>\n  <head>\n    <title>Akri Demo</title>\n  </head>\n  <body>\n"
            '    <div style="max-width: 800px;  margin: auto;text-align:center">\n'
            f"      <h1>Akri Demo</h1>\n{main if links else ''}"
            '      <ul style="display: block;list-style-type: none;padding:0;">\n'
            f"{small}      </ul>\n    </div>\n    <script>\n"
            f'    var last_camera_list = "{cameras}"\n'
            "    function refresh_on_device_change() {\n"
            "      fetch('/camera_list').then(resp => resp.text()).then(new_camera_list => {\n"
            "        if (new_camera_list != last_camera_list) {\n"
            "          window.location.reload(false);\n        } else {\n"
            "          last_camera_list = new_camera_list;\n        }\n      });\n    }\n"
            "    setInterval(refresh_on_device_change, 1000);\n  </script>\n  </body>\n</html>"
        )

    def _stream_frames(self, camera_id: str) -> Reply:
        number = int(camera_id)  # a non-integer id raises here: Flask's 500 page
        self._acquire()
        if number == 0:
            selected = self._main
        elif number - 1 < len(self._small):
            # negative ids index from the end; below -N this raises IndexError with the lock
            # held, and the real stream_frames (acquire/release, no try) never releases it
            selected = self._small[number - 1]
        else:
            selected = None
        self._lock.release()
        if selected is None:
            return Reply(500)  # Response(None, 500): an empty body
        return Reply(200, STREAM_TYPE, stream=selected.parts())

    # -- the camera set ------------------------------------------------------------------------
    def _refresh_loop(self) -> None:
        while not self.stopped.wait(REFRESH_PERIOD):
            try:
                main, small = self.cameras()
            except Exception as exc:
                # refresh_cameras has no try/except: one failed services list ends the thread,
                # and the app never follows a camera change again
                self.say(f"Exception in thread refresh_cameras: {exc}")
                return
            current = (self._main.url if self._main else None, [f.url for f in self._small])
            if (main, small) != current:  # compared without the lock, as the real loop does
                try:
                    self._merge(main, small)
                except AppStopped:
                    return

    def _merge(self, main: str | None, small: list[str]) -> None:
        with self._locked():
            for feed in [self._main, *self._small]:
                if feed is not None:
                    feed.join()
            self._main = CameraFeed(main, self) if main else None
            self._small = [CameraFeed(url, self) for url in small]
            for feed in [self._main, *self._small]:
                if feed is not None:
                    self._every_feed.append(feed)
                    feed.start()

    def _acquire(self) -> None:
        while not self._lock.acquire(timeout=POLL):
            if self.stopped.is_set():
                raise AppStopped

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._acquire()
        try:
            yield
        finally:
            self._lock.release()
