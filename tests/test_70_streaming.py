"""Layer 7, streaming: the app lists every camera and serves live JPEG frames over HTTP."""

import http.client
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fixtures import names
from fixtures.frames import FeedError, fetch_feed, frames_differ, inspect_jpeg
from fixtures.kstate import pods_summary, service_summary
from fixtures.kwaits import wait_for
from fixtures.probes import assert_installed
from fixtures.waits import wait_until

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
    """The app's manifest from this repository, applied with the configured image."""
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


def _get(url: str, path: str) -> tuple[int, str]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")
    except OSError as exc:
        return 0, f"({exc})"
    finally:
        conn.close()


@pytest.mark.prereq("test_streaming_app_available")
def test_index_lists_feeds(app_url, settings):
    """GET / is the "Akri Demo" page with one camera_frame_feed per service (main + cameras)."""
    wanted = {f"/camera_frame_feed/{i}" for i in range(settings.cameras + 1)}

    def links(page):
        return set(re.findall(r"/camera_frame_feed/\d+", page[1]))

    page, _ = wait_until(
        lambda: _get(app_url, "/"),
        lambda p: p[0] == 200 and links(p) == wanted,
        timeout=settings.ready_timeout,
        what="index page with every feed",
        describe=lambda p: f"HTTP {p[0]}, links {sorted(links(p))}, page starts {p[1][:200]!r}",
    )
    assert "Akri Demo" in page[1], f"the index page is not the Akri demo: {page[1][:300]!r}"


@pytest.mark.prereq("test_streaming_app_available")
def test_camera_list(app_url, kube, settings):
    """/camera_list is "<config svc>+<instance svcs>" by cluster IP, as the app builds it."""
    services = kube.call(
        kube.core.list_namespaced_service, names.NAMESPACE, label_selector="controller=akri.sh"
    ).items
    main = [
        f"{s.spec.cluster_ip}:80"
        for s in services
        if s.metadata.name == names.CONFIGURATION_SERVICE
    ]
    small = sorted(
        f"{s.spec.cluster_ip}:80"
        for s in services
        if names.INSTANCE_NAME.match(s.metadata.name.removesuffix("-svc"))
    )
    expected = f"{main[0] if main else ''}+{','.join(small)}"
    seen, _ = wait_until(
        lambda: _get(app_url, "/camera_list"),
        lambda p: p == (200, expected),
        timeout=settings.ready_timeout,
        what=f"/camera_list == {expected!r}",
        describe=lambda p: f"HTTP {p[0]} {p[1]!r}",
    )
    assert len(small) == settings.cameras, f"expected {settings.cameras} cameras, got {seen[1]!r}"


@pytest.mark.prereq("test_streaming_app_available")
def test_unknown_feed_is_500(app_url, settings):
    """A feed id past the last camera answers 500, as the app does."""
    status, _ = _get(app_url, f"/camera_frame_feed/{settings.cameras + 1}")
    assert status == 500, f"expected HTTP 500 for an unknown feed id, got {status}"


def _feed_sources(kube) -> list[dict]:
    """Where each feed comes from, numbered as the app does (see test_camera_list).

    Feed 0 is the configuration service (any broker); feed k is the k-th Instance service
    sorted by "clusterIP:80", named after its `akri.sh/instance` label.
    """
    services = kube.call(
        kube.core.list_namespaced_service, names.NAMESPACE, label_selector="controller=akri.sh"
    ).items
    small = sorted(
        (s for s in services if names.INSTANCE_NAME.match(s.metadata.name.removesuffix("-svc"))),
        key=lambda s: f"{s.spec.cluster_ip}:80",
    )
    sources = [
        {
            "id": 0,
            "service": names.CONFIGURATION_SERVICE,
            "source": "configuration service (any broker)",
            "instance": None,
        }
    ]
    for k, svc in enumerate(small, start=1):
        instance = (svc.metadata.labels or {}).get("akri.sh/instance")
        sources.append(
            {
                "id": k,
                "service": svc.metadata.name,
                "cluster_ip": svc.spec.cluster_ip,
                "instance": instance,
            }
        )
    return sources


@pytest.fixture(scope="module")
def feeds(app_url, settings, kube):
    """PARTS frames of every feed, read concurrently; the first frame of each is kept."""
    ids = list(range(settings.cameras + 1))

    def read(i):
        try:
            return fetch_feed(app_url, f"/camera_frame_feed/{i}", PARTS, settings.frame_timeout)
        except FeedError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(ids)) as pool:
        results = dict(zip(ids, pool.map(read, ids), strict=True))
    frames_dir = Path(settings.reports_dir) / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    saved = set()
    for i, result in results.items():
        if not isinstance(result, Exception) and result.parts:
            (frames_dir / f"feed-{i}.jpg").write_bytes(result.parts[0].body)
            saved.add(i)
    try:
        sources = _feed_sources(kube)
    except Exception as exc:  # the frames are kept either way; only their labels are lost
        sources = [{"id": i, "source": f"unknown ({exc})"} for i in ids]
    for source in sources:
        source["file"] = f"feed-{source['id']}.jpg" if source["id"] in saved else None
    (frames_dir / "feeds.json").write_text(json.dumps({"feeds": sources}, indent=2) + "\n")
    return results


@pytest.mark.prereq("test_streaming_app_available")
def test_feeds_deliver_jpeg(feeds):
    """Every feed gives 3 complete JPEG parts that decode at 640x480 within --frame-timeout."""
    problems = []
    for i, result in feeds.items():
        if isinstance(result, Exception):
            problems.append(f"feed {i}: {result}")
            continue
        for k, part in enumerate(result.parts):
            info = inspect_jpeg(part.body)
            if not info.ok or (info.width, info.height) != names.FRAME_SIZE:
                problems.append(
                    f"feed {i} part {k}: {info.error or f'{info.width}x{info.height}'}"
                    f" ({info.size} bytes, starts {part.body[:4].hex()})"
                )
    assert not problems, (
        f"expected {PARTS} JPEG frames of {names.FRAME_SIZE[0]}x"
        f"{names.FRAME_SIZE[1]} per feed:\n  " + "\n  ".join(problems)
    )


@pytest.mark.prereq("test_feeds_deliver_jpeg")
def test_feeds_are_live(feeds):
    """Successive frames of every feed differ: the cameras are live, not frozen."""
    frozen = [
        f"feed {i}"
        for i, r in feeds.items()
        if not any(
            frames_differ(a.body, b.body) for a, b in zip(r.parts, r.parts[1:], strict=False)
        )
    ]
    assert not frozen, (
        f"{', '.join(frozen)}: all {PARTS} frames are identical (a stalled "
        "producer or broker, akri-facts F14)"
    )
