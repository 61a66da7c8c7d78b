"""Self-tests of the twin's video streaming app: feeds, camera set changes, lock, faults."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from fixtures.node.waits import HostWaitTimeout, wait_until
from selftests.twin.streaming_support import (
    BUFFER_ALIGN,
    MAIN,
    PART,
    SILENT,
    SMALL,
    Env,
    camera_list,
    hangs,
    label,
    read_parts,
)
from twin.streaming.feeds import as_served


def test_as_served_pads_to_buffer_size() -> None:
    assert len(as_served(b"\xff\xd8" + b"x" * 70000, frozenset())) == 2 * BUFFER_ALIGN
    assert len(as_served(b"y" * BUFFER_ALIGN, frozenset())) == BUFFER_ALIGN
    scrambled = as_served(b"\xff\xd8abc\xff\xd9", frozenset({"not-jpeg"}))
    assert not scrambled.startswith(b"\xff\xd8") and scrambled[7:] == bytes(BUFFER_ALIGN - 7)


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
