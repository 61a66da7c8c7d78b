"""Fixtures of the twin self-tests: `start_app` runs the streaming app on a fake camera set."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from selftests.twin.streaming_support import SMALL, Env, jpeg
from twin.feeders import DeviceFrames
from twin.streaming import StreamingApp
from twin.streaming_http import WerkzeugServer


@pytest.fixture
def start_app() -> Iterator[Callable[..., Env]]:
    """Start apps (faults, small cameras); at the end each stops, its port and threads gone."""
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
