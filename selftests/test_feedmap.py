"""fixtures.node.feedmap and the frames listing: feeds named by the camera they show."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from fixtures.evidence.contact_sheet import feeds, make_contact_sheet
from fixtures.node.feedmap import AkriService, AkriServices, feed_sources, parse_camera_list

MAIN = AkriService("akri-udev-video-svc", "10.152.183.5:80", None)
CAM1 = AkriService(
    "akri-udev-video-a4d8ff-svc", "10.152.183.4:80", "akri-udev-video-a4d8ff", "/dev/video1"
)
CAM2 = AkriService(
    "akri-udev-video-64ce1a-svc", "10.152.183.3:80", "akri-udev-video-64ce1a", "/dev/video2"
)
SERVICES = AkriServices(MAIN, sorted([CAM1, CAM2], key=lambda s: s.url))


def test_parse_camera_list() -> None:
    assert parse_camera_list("m:80+a:80,b:80") == ("m:80", ["a:80", "b:80"])
    assert parse_camera_list("a:80,b:80") == (None, ["a:80", "b:80"])
    assert parse_camera_list("m:80+") == ("m:80", [])
    assert parse_camera_list("") == (None, [])


def test_camera_list_follows_the_sorted_urls() -> None:
    assert SERVICES.camera_list() == "10.152.183.5:80+10.152.183.3:80,10.152.183.4:80"
    ten = AkriService("x-svc", "10.152.183.10:80", "akri-udev-video-000010", "/dev/video3")
    with_ten = AkriServices(MAIN, sorted([CAM1, CAM2, ten], key=lambda s: s.url))
    assert with_ten.camera_list().split("+")[1].split(",")[0] == "10.152.183.10:80"  # strings


def test_feeds_are_named_by_camera() -> None:
    sources = feed_sources(SERVICES.camera_list(), SERVICES, 3)
    assert [s.label for s in sources] == [
        "feed 0 (any camera)",
        "feed 1 (cam2 /dev/video2)",
        "feed 2 (cam1 /dev/video1)",
    ]
    assert [s.file for s in sources] == ["feed-0-any-camera.jpg", "cam2.jpg", "cam1.jpg"]
    entry = sources[1].listing(saved=True)
    assert {k: entry[k] for k in ("id", "file", "source", "service")} == {
        "id": 1,
        "file": "cam2.jpg",
        "source": "akri-udev-video-64ce1a",
        "service": "akri-udev-video-64ce1a-svc",
    }
    assert (entry["camera"], entry["devnode"], entry["instance"]) == (
        "cam2 /dev/video2",
        "/dev/video2",
        "akri-udev-video-64ce1a",
    )
    assert sources[0].listing(saved=False)["file"] is None


def test_a_stale_or_short_list_names_what_it_cannot_map() -> None:
    stale = "10.152.183.5:80+10.152.183.254:80,10.152.183.4:80"
    sources = feed_sources(stale, SERVICES, 4)
    assert sources[1].label == "feed 1 (unknown camera: 10.152.183.254:80, no Akri service)"
    assert sources[1].file == "feed-1-unknown-camera.jpg"
    assert sources[2].label == "feed 2 (cam1 /dev/video1)"
    assert sources[3].label == "feed 3 (unknown camera: not in /camera_list)"
    explained = SERVICES.explain(stale)
    assert "10.152.183.254:80 matches no Akri service" in explained
    assert (
        "cam2 /dev/video2 (akri-udev-video-64ce1a-svc, 10.152.183.3:80) is not listed" in explained
    )
    assert "no main camera" in SERVICES.explain("10.152.183.3:80,10.152.183.4:80")
    assert SERVICES.explain(SERVICES.camera_list()) == "identical"


def _jpeg(path: Path, color: tuple[int, int, int]) -> None:
    Image.new("RGB", (640, 480), color).save(path, "JPEG")
    with path.open("ab") as handle:
        handle.write(b"\0" * 4096)  # V4L2 buffers carry zeros after the EOI


def test_contact_sheet_reads_frames_by_camera(tmp_path: Path) -> None:
    sources = feed_sources(SERVICES.camera_list(), SERVICES, 3)
    for source, color in zip(sources, [(200, 0, 0), (0, 200, 0), (0, 0, 200)], strict=True):
        _jpeg(tmp_path / source.file, color)
    listing = [s.listing(saved=True) for s in sources]
    (tmp_path / "feeds.json").write_text(json.dumps({"feeds": listing}))
    found = feeds(tmp_path)
    assert [(f.id, f.path.name, f.camera) for f in found] == [
        (0, "feed-0-any-camera.jpg", "any camera"),
        (1, "cam2.jpg", "cam2 /dev/video2"),
        (2, "cam1.jpg", "cam1 /dev/video1"),
    ]
    assert found[1].label == "feed 1 (cam2 /dev/video2): akri-udev-video-64ce1a"
    assert found[0].label == "feed 0 (any camera): configuration service (any broker)"
    assert all(f.ok and (f.width, f.height) == (640, 480) for f in found)
    sheet = make_contact_sheet(tmp_path)
    assert sheet is not None
    with Image.open(sheet) as image:
        assert image.format == "JPEG" and image.width > 3 * 320


def test_a_listed_feed_without_its_file_is_not_shown(tmp_path: Path) -> None:
    sources = feed_sources(SERVICES.camera_list(), SERVICES, 3)
    _jpeg(tmp_path / sources[2].file, (9, 9, 9))
    listing = [s.listing(saved=s.id == 2) for s in sources]
    (tmp_path / "feeds.json").write_text(json.dumps({"feeds": listing}))
    assert [f.path.name for f in feeds(tmp_path)] == ["cam1.jpg"]
