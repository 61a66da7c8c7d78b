"""Layer 7, streaming: the app lists every camera and serves live JPEG frames over HTTP.

Feeds are named by the camera they show (`feed 2 (cam2 /dev/video2)`, fixtures.node.feedmap), and
the first frame of each is kept under `<reports-dir>/frames/` as `cam2.jpg` (the configuration
service's feed as `feed-0-any-camera.jpg`) with `frames/feeds.json` saying where each came from.
"""

import http.client
import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from fixtures.install.probes import assert_installed
from fixtures.kube.state import pods_summary, service_summary
from fixtures.kube.waits import wait_for
from fixtures.node import names
from fixtures.node.feedmap import akri_services, feed_sources
from fixtures.node.frames import FeedError, read_feed
from fixtures.node.jpeg import frames_differ, inspect_jpeg
from fixtures.node.waits import wait_until

pytestmark = [
    pytest.mark.akri,
    pytest.mark.streaming,
    pytest.mark.order(70),
    pytest.mark.prereq(
        "test_brokers_running", "test_configuration_service", "test_instance_services"
    ),
]
PARTS = 3
ANSWER_TIMEOUT = 10.0  # a page or an error answer comes at once; only feeds wait for frames
RESTART = f"kubectl rollout restart deployment {names.APP}"


@pytest.fixture(scope="module")
def layer(installed):
    return installed("streaming")


def test_streaming_install(layer, settings, versions):
    """The app image pulls, and the app's manifest from this repository is applied with it."""
    versions["streaming_app_image"] = settings.streaming_app_image
    assert_installed(layer, "streaming", settings.install)


@pytest.mark.prereq("test_streaming_install")
def test_streaming_app_available(kube, settings):
    """The Deployment is Available and its Service is a NodePort http 80 -> 5000."""

    def available(items):
        return any(
            any(
                c.type == "Available" and c.status == "True"
                for c in ((d.status and d.status.conditions) or [])
            )
            for d in items
        )

    def describe(items):
        pods = kube.call(
            kube.core.list_namespaced_pod, names.NAMESPACE, label_selector=f"app={names.APP}"
        ).items
        conds = [
            f"{c.type}={c.status} ({c.reason})"
            for d in items
            for c in ((d.status and d.status.conditions) or [])
        ]
        return f"deployment: {', '.join(conds) or 'no conditions'}; pods: {pods_summary(pods)}"

    wait_for(
        kube,
        kube.apps.list_namespaced_deployment,
        namespace=names.NAMESPACE,
        field_selector=f"metadata.name={names.APP}",
        condition=available,
        describe=describe,
        what=f"{names.APP} Available",
        timeout=settings.ready_timeout,
    )
    svc = kube.call(kube.core.read_namespaced_service, names.APP, names.NAMESPACE)
    port = next((p for p in svc.spec.ports or [] if p.name == names.APP_PORT_NAME), None)
    assert (
        svc.spec.type == "NodePort"
        and port
        and port.port == 80
        and port.node_port
        and str(port.target_port) == str(names.APP_TARGET_PORT)
    ), f"expected a NodePort service http 80->5000, got {service_summary(svc)}"


@pytest.fixture(scope="module")
def app_url(node, kube):
    svc = kube.call(kube.core.read_namespaced_service, names.APP, names.NAMESPACE)
    node_port = next(p.node_port for p in svc.spec.ports if p.name == names.APP_PORT_NAME)
    return f"http://127.0.0.1:{node.app_port(node_port)}"


@dataclass(frozen=True)
class Answer:
    """One short answer of the app: status and body, or why there was none (status 0)."""

    status: int
    body: str = ""
    error: str = ""

    def __str__(self) -> str:
        if self.error:
            return self.error
        return f"HTTP {self.status}, {len(self.body)} bytes {self.body[:120]!r}"


def _get(url: str, path: str) -> Answer:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=ANSWER_TIMEOUT)
    try:
        conn.connect()
    except OSError as exc:
        return Answer(0, error=f"cannot connect: {exc!r}")
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return Answer(resp.status, resp.read().decode(errors="replace"))
    except TimeoutError:
        return Answer(0, error=f"no answer within {ANSWER_TIMEOUT:.0f}s (connected, no status)")
    except (OSError, http.client.HTTPException) as exc:
        return Answer(0, error=f"no answer: {exc!r}")
    finally:
        conn.close()


@pytest.mark.prereq("test_streaming_app_available")
def test_unknown_feed_is_500(app_url, settings):
    """Feed ids the app does not know answer 500: past the last camera, and not a number.

    The first requests to the app: a Ready app that answers nothing fails here, and the other
    HTTP checks wait on this one. Never ask for a negative id: below -N it raises inside the
    app's camera lock and hangs the real app.
    """
    asked = {
        f"/camera_frame_feed/{settings.cameras + 1}": "an empty body (Response(None, 500))",
        "/camera_frame_feed/not-a-number": "Flask's Internal Server Error page",
    }
    answers = {path: _get(app_url, path) for path in asked}
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
def test_index_lists_feeds(app_url, settings):
    """GET / is the "Akri Demo" page with one camera_frame_feed per service (main + cameras)."""
    wanted = {f"/camera_frame_feed/{i}" for i in range(settings.cameras + 1)}

    def links(answer):
        return set(re.findall(r"/camera_frame_feed/\d+", answer.body))

    page, _ = wait_until(
        lambda: _get(app_url, "/"),
        lambda a: a.status == 200 and links(a) == wanted,
        timeout=settings.ready_timeout,
        what="index page with every feed",
        describe=lambda a: f"{a} with links {sorted(links(a))}",
    )
    assert "Akri Demo" in page.body, f"the index page is not the Akri demo: {page.body[:300]!r}"


@pytest.mark.prereq("test_unknown_feed_is_500")
def test_camera_list(app_url, kube, settings):
    """/camera_list is "<config svc>+<instance svcs>" by `clusterIP:port`, as the app builds it."""
    services = akri_services(kube)
    expected = services.camera_list()
    assert len(services.small) == settings.cameras and services.main, (
        f"expected the configuration service and {settings.cameras} instance services, "
        f"found {expected!r}"
    )
    wait_until(
        lambda: _get(app_url, "/camera_list"),
        lambda a: a.status == 200 and a.body == expected,
        timeout=settings.ready_timeout,
        what=f"/camera_list to list the Akri services {expected!r}",
        describe=lambda a: (
            f"{a}: {services.explain(a.body)}; restart the app? ({RESTART})"
            if a.status == 200
            else str(a)
        ),
    )


@pytest.fixture(scope="module")
def feeds(app_url, settings, kube, reports_frames):
    """PARTS frames of every feed (or the FeedError), read concurrently; first frames kept."""
    services = akri_services(kube)
    listed = _get(app_url, "/camera_list")
    # numbered as the app numbers them; a list the app did not give is the cluster's
    camera_list = listed.body if listed.status == 200 else services.camera_list()
    sources = feed_sources(camera_list, services, settings.cameras + 1)

    def read(source):
        try:
            return read_feed(
                app_url, f"/camera_frame_feed/{source.id}", PARTS, settings.frame_timeout
            )
        except FeedError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(sources)) as pool:
        results = list(pool.map(read, sources))
    after = _get(app_url, "/camera_list")
    changed = after.status == 200 and after.body != camera_list
    listing = []
    for source, result in zip(sources, results, strict=True):
        if result.parts:  # a feed that failed after a part still shows what it sent
            (reports_frames / source.file).write_bytes(result.parts[0].body)
        listing.append(source.listing(bool(result.parts)))
    (reports_frames / "feeds.json").write_text(json.dumps({"feeds": listing}, indent=2) + "\n")
    note = (
        f"\n(the app's camera list changed during the read, {camera_list!r} -> "
        f"{after.body!r}: open streams stall when it does, see docs/facts.md#streaming-stalls)"
        if changed
        else ""
    )
    return list(zip(sources, results, strict=True)), note


@pytest.fixture(scope="module")
def reports_frames(settings) -> Path:
    frames = Path(settings.reports_dir) / "frames"
    frames.mkdir(parents=True, exist_ok=True)
    return frames


@pytest.mark.prereq("test_unknown_feed_is_500")
def test_feeds_deliver_jpeg(feeds):
    """Every feed gives 3 complete JPEG parts that decode at 640x480 within --frame-timeout."""
    results, note = feeds
    problems = []
    for source, result in results:
        if isinstance(result, Exception):
            problems.append(f"{source.label}: {result}")
            continue
        for k, part in enumerate(result.parts):
            info = inspect_jpeg(part.body)
            if not info.ok or (info.width, info.height) != names.FRAME_SIZE:
                problems.append(
                    f"{source.label} part {k}: {info.error or f'{info.width}x{info.height}'}"
                    f" ({info.size} bytes, starts {part.body[:4].hex()})"
                )
    assert not problems, (
        f"expected {PARTS} JPEG frames of {names.FRAME_SIZE[0]}x"
        f"{names.FRAME_SIZE[1]} per feed:\n  " + "\n  ".join(problems) + note
    )


@pytest.mark.prereq("test_feeds_deliver_jpeg")
def test_feeds_are_live(feeds):
    """Successive frames of every feed differ: the cameras are live, not frozen."""
    results, _note = feeds
    frozen = [
        source.label
        for source, r in results
        if not any(
            frames_differ(a.body, b.body) for a, b in zip(r.parts, r.parts[1:], strict=False)
        )
    ]
    assert not frozen, (
        f"{', '.join(frozen)}: all {PARTS} frames are identical (a stalled "
        "producer or broker, see docs/facts.md#streaming-stalls)"
    )
