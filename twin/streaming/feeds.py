"""The sample streaming app's camera feeds: one feed thread and one shared frame slot each.

As `CameraFeed` in `apps/video-streaming-app/app.py` (project-akri/examples @57eab4f5,
docs/facts.md#streaming-app-cameras, docs/facts.md#streaming-stalls): the feed thread calls
`GetFrame` (blocking until the broker captures a frame: there is no deadline), keeps the frame in a
one-slot queue (a stale frame is dropped) and sleeps 1 s, so about one frame per second per feed.
Every client of the feed takes frames from that one queue in turn, so they share the frames. A
client's generator blocks on the queue for as long as no frame comes: after a merge nothing fills an
old feed's queue again and its open streams stall. Frames carry the padding of a V4L2 buffer.
Faults: `not-jpeg` (scrambled bodies), `frozen-frames` (each feed repeats its first frame).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from typing import Protocol

from twin.machine.frames import DeviceFrames

BOUNDARY = "frame"
PART_HEADER = b"--frame\r\nContent-Type: image/jpeg\r\n\r\n"
#: served frames are padded with zeros to a multiple of this, like a V4L2 capture buffer
BUFFER_ALIGN = 65536
FEED_PERIOD = 1.0  # the real feed thread sleeps 1 s after each frame
POLL = 0.1  # how often the twin's device waits look whether the app (its pod) is going away
# XOR 0x5A turns FF D8 into A5 82: same length, still varying, no longer a JPEG
_SCRAMBLE = bytes(b ^ 0x5A for b in range(256))


def as_served(jpeg: bytes, faults: frozenset[str]) -> bytes:
    """The bytes a broker hands over for one captured frame: padded, scrambled if faulted."""
    body = jpeg.translate(_SCRAMBLE) if "not-jpeg" in faults else jpeg
    return body + bytes(-len(body) % BUFFER_ALIGN)


class FeedHost(Protocol):
    """What a feed needs from its app."""

    faults: frozenset[str]
    stopped: threading.Event
    source: Callable[[str], list[DeviceFrames]]

    def say(self, message: str) -> None: ...


class _Slot:
    """`queue.Queue(1)` as the app uses it: a put replaces the stale frame; a get waits its turn.

    Waiters wait without a timeout, as `queue.get(True, None)` does, so they are served in the
    order they came; closing (the pod going away) wakes them all with nothing.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: bytes | None = None
        self._closed = False

    def put(self, frame: bytes) -> None:
        with self._cond:
            self._frame = frame
            self._cond.notify()

    def get(self) -> bytes | None:
        with self._cond:
            while self._frame is None and not self._closed:
                self._cond.wait()
            frame, self._frame = self._frame, None
            return None if self._closed else frame

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class CameraFeed:
    """One camera URL: its feed thread and the frame slot its clients share."""

    def __init__(self, url: str, app: FeedHost) -> None:
        self.url = url
        self.slot = _Slot()
        self.stopping = threading.Event()  # merge asked the thread to end
        self._app = app
        self._thread = threading.Thread(target=self._produce, name=f"feed {url}", daemon=True)

    def start(self) -> None:
        """Start the feed thread."""
        self._thread.start()

    def join(self) -> None:
        """Wait for the thread to end: after its current GetFrame and sleep, however long."""
        self.stopping.set()
        while self._thread.is_alive():
            self._thread.join(POLL)

    def parts(self) -> Generator[bytes, None, None]:
        """`generator_func`: one multipart part per frame taken from the shared slot.

        The real generator also ends when it sees the global stop event, which merge sets only
        while it waits for the feed threads; a generator is nearly always blocked on the queue
        by then, so the twin models the usual outcome: it blocks for good (a stalled stream).
        """
        while (frame := self.slot.get()) is not None:
            yield PART_HEADER + frame + b"\r\n"

    def _produce(self) -> None:
        app = self._app
        app.say(f"Starting get_frames({self.url})")
        seen: dict[str, int] = {}
        first: bytes | None = None
        turn = 0
        while not (self.stopping.is_set() or app.stopped.is_set()):
            try:
                devices = app.source(self.url)
            except Exception as exc:  # the real loop logs any error and retries after 1 s
                devices = []
                app.say(f"[{self.url}] Exception {exc!r}")
            if not devices:
                app.say(f"[{self.url}] Exception StatusCode.UNAVAILABLE: failed to connect")
                app.stopped.wait(FEED_PERIOD)
                continue
            # each GetFrame opens a new channel, so kube-proxy picks a broker per call; the twin
            # alternates, one of the sequences kube-proxy's random choice yields
            device = devices[turn % len(devices)]
            turn += 1
            frame = self._get_frame(device, seen)
            if frame is None:
                return
            if "frozen-frames" in app.faults:
                first = first or frame
                frame = first
            self.slot.put(as_served(frame, app.faults))
            # time.sleep in the real app: a merge does not cut it short, only the pod's end does
            app.stopped.wait(FEED_PERIOD)

    def _get_frame(self, device: DeviceFrames, seen: dict[str, int]) -> bytes | None:
        """The broker's blocking capture: the device's next frame, or None once the pod ends."""
        while not self._app.stopped.is_set():
            got = device.wait_newer(seen.get(device.devnode, 0), POLL)
            if got is not None:
                seen[device.devnode] = got[0]
                return got[1]
        return None
