"""The frame buffer of one loopback device: the last frame a producer wrote, and its format.

What a v4l2loopback device holds between a producer (a feeder) and its readers (a broker, the
streaming app): the newest JPEG, a sequence number readers wait on, and the sysfs-style `format`
the first frame sets (docs/facts.md#pixel-format-jpeg).
"""

from __future__ import annotations

import io
import threading

from PIL import Image


class DeviceFrames:
    """The frame buffer of one loopback device: the last frame a producer wrote."""

    def __init__(self, devnode: str) -> None:
        self.devnode = devnode
        #: "" until a producer writes, then like sysfs `format`: JPEG:<w>x<h>@30
        self.format = ""
        self._cond = threading.Condition()
        self._seq = 0
        self._frame: bytes | None = None

    def publish(self, jpeg: bytes) -> None:
        """Store a new frame and wake readers."""
        size = None if self.format else _jpeg_size(jpeg)
        with self._cond:
            self._seq += 1
            self._frame = jpeg
            if size and not self.format:
                # v4l2loopback reports 30 fps whatever the producer's rate
                # (docs/facts.md#pixel-format-jpeg)
                self.format = f"JPEG:{size[0]}x{size[1]}@30"
            self._cond.notify_all()

    def latest(self) -> tuple[int, bytes] | None:
        """The current (sequence number, frame), or None before any frame."""
        with self._cond:
            return None if self._frame is None else (self._seq, self._frame)

    def wait_newer(self, seq: int, timeout: float) -> tuple[int, bytes] | None:
        """Wait up to timeout for a frame newer than seq; None if none came."""
        with self._cond:
            self._cond.wait_for(lambda: self._frame is not None and self._seq > seq, timeout)
            fresh = self._frame is not None and self._seq > seq
            return (self._seq, self._frame) if fresh else None

    def reset(self) -> None:
        """The device was removed or recreated: no format, no frame (sequence keeps counting)."""
        with self._cond:
            self.format = ""
            self._frame = None
            self._cond.notify_all()


def _jpeg_size(jpeg: bytes) -> tuple[int, int] | None:
    try:
        with Image.open(io.BytesIO(jpeg)) as img:
            return img.size
    except (OSError, ValueError):
        return None
