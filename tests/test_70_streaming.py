"""Layer 7, streaming: the app lists every camera and serves live JPEG frames over HTTP.

Feeds are named by the camera they show (`feed 2 (cam2 /dev/video2)`, fixtures.node.feedmap), and
the first frame of each is kept under `<reports-dir>/frames/` as `cam2.jpg` (the configuration
service's feed as `feed-0-any-camera.jpg`) with `frames/feeds.json` saying where each came from.
"""

from pathlib import Path

import pytest

from fixtures.install.probes import assert_installed
from fixtures.node import names
from fixtures.node.akri import AkriNode
from fixtures.node.app import RESTART, App
from fixtures.node.feeds import Feeds, read_feeds
from fixtures.node.services import Services

pytestmark = [
    pytest.mark.akri,
    pytest.mark.streaming,
    pytest.mark.order(70),
    pytest.mark.prereq(
        "test_brokers_running", "test_configuration_service", "test_instance_services"
    ),
]
PARTS = 3


@pytest.fixture(scope="module")
def layer(installed):
    return installed("streaming")


def test_streaming_install(layer, settings, versions):
    """The app image pulls, and the app's manifest from this repository is applied with it."""
    versions["streaming_app_image"] = settings.streaming_app_image
    assert_installed(layer, "streaming", settings.install)


@pytest.fixture(scope="module")
def app(kube, node) -> App:
    """The app, reached through a local forward of its NodePort."""
    return App(kube, node.app_port)


@pytest.fixture(scope="module")
def akri(kube, spec) -> AkriNode:
    """The node's Akri objects, whose services the app lists."""
    return AkriNode.of(kube, spec)


@pytest.mark.prereq("test_streaming_install")
def test_streaming_app_available(app, settings):
    """The Deployment is Available and its Service is a NodePort http 80 -> 5000."""
    app.wait_until_app_available(settings.ready_timeout)
    problem = app.service_problem()
    assert not problem, problem


@pytest.mark.prereq("test_streaming_app_available")
def test_unknown_feed_is_500(app, settings):
    """Feed ids the app does not know answer 500: past the last camera, and not a number.

    The first requests to the app: a Ready app that answers nothing fails here, and the other
    HTTP checks wait on this one. Never ask for a negative id: below -N it raises inside the
    app's camera lock and hangs the real app.
    """
    asked = {
        f"/camera_frame_feed/{settings.cameras + 1}": "an empty body (Response(None, 500))",
        "/camera_frame_feed/not-a-number": "Flask's Internal Server Error page",
    }
    answers = {path: app.get(path) for path in asked}
    wrong = [
        f"GET {path}: {answers[path]}; expected HTTP 500 with {body}"
        for path, body in asked.items()
        if answers[path].status != 500
    ]
    hung = any(a.status == 0 for a in answers.values())
    hint = (
        f"\nA Ready app that does not answer holds its camera lock "
        "(docs/facts.md#streaming-app-hangs): a merge "
        f"waits for a feed thread stuck in GetFrame, or a request raised inside the lock; "
        f"look at its log (kubectl logs deployment/{names.APP}) and restart it ({RESTART})"
    )
    assert not wrong, "\n".join(wrong) + (hint if hung else "")


@pytest.mark.prereq("test_unknown_feed_is_500")
def test_index_lists_feeds(app, settings):
    """GET / is the "Akri Demo" page with one camera_frame_feed per service (main + cameras)."""
    wanted = {f"/camera_frame_feed/{i}" for i in range(settings.cameras + 1)}
    page = app.wait_until_index_lists(wanted, settings.ready_timeout)
    assert "Akri Demo" in page.body, f"the index page is not the Akri demo: {page.body[:300]!r}"


@pytest.mark.prereq("test_unknown_feed_is_500")
def test_camera_list(app, akri, settings):
    """/camera_list is "<config svc>+<instance svcs>" by `clusterIP:port`, as the app builds it."""
    services = Services(akri).as_the_app_lists_them()
    expected = services.camera_list()
    assert len(services.small) == settings.cameras and services.main, (
        f"expected the configuration service and {settings.cameras} instance services, "
        f"found {expected!r}"
    )
    app.wait_until_camera_list(expected, services.explain, settings.ready_timeout)


@pytest.fixture(scope="module")
def feeds(app, akri, settings) -> Feeds:
    """PARTS frames of every feed (or its FeedError), read concurrently; first frames kept."""
    services = Services(akri).as_the_app_lists_them()
    read = read_feeds(app, services, settings.cameras + 1, PARTS, settings.frame_timeout)
    read.save(Path(settings.reports_dir) / "frames")
    return read


@pytest.mark.prereq("test_unknown_feed_is_500")
def test_feeds_deliver_jpeg(camera, feeds):
    """The camera's feeds give 3 complete JPEG parts that decode at 640x480 within
    --frame-timeout: its own, and feed 0 (the configuration service shows any camera)."""
    missing = feeds.missing(camera)
    problems = ([missing] if missing else []) + [
        p for read in feeds.of(camera) for p in read.jpeg_problems()
    ]
    assert not problems, (
        f"{camera.title}: expected {PARTS} JPEG frames of {names.FRAME_SIZE[0]}x"
        f"{names.FRAME_SIZE[1]} per feed:\n  " + "\n  ".join(problems) + feeds.note()
    )


@pytest.mark.prereq("test_feeds_deliver_jpeg")
def test_feeds_are_live(camera, feeds):
    """Successive frames of the camera's feeds differ: the camera is live, not frozen."""
    frozen = [read.source.label for read in feeds.of(camera) if read.frozen()]
    assert not frozen, (
        f"{', '.join(frozen)}: all {PARTS} frames are identical (a stalled "
        "producer or broker, see docs/facts.md#streaming-stalls)"
    )
