"""Layer 3, GStreamer: one live feeder per camera, writing JPEG frames into its device."""

import pytest

from fixtures.install.probes import assert_installed
from fixtures.node.feeders import PS, Feeders
from fixtures.node.gstreamer import ELEMENTS, GStreamer

pytestmark = [
    pytest.mark.akri,
    pytest.mark.gstreamer,
    pytest.mark.order(30),
    pytest.mark.prereq("test_v4l2loopback_version", "test_video_devices", "test_exclusive_caps"),
]
FED_TIMEOUT = 20  # seconds for a camera's device to carry the feeder's format


@pytest.fixture(scope="module")
def layer(installed):
    return installed("gstreamer")


@pytest.fixture(scope="module")
def feeders(host, layer, spec):
    return Feeders(host, spec)


@pytest.fixture(scope="module")
def fed(feeders):
    """The node's feeder processes, observed once (one `ps`) for every camera's case."""
    return feeders.observe()


def test_gstreamer_install(layer, settings):
    """The GStreamer packages installed and one feeder unit started per camera."""
    assert_installed(layer, "gstreamer", settings.install)


@pytest.mark.prereq("test_gstreamer_install")
def test_gstreamer_elements(host, feeders, spec, versions):
    """gst-inspect-1.0 finds every element the feeders need.

    That is the elements of the pipelines that run (a deployment's own, e.g. the docs'
    avenc_mjpeg, docs/facts.md#feeder-pipeline) and, when the suite installs, those of its own
    pipeline; in verify-only with no feeder running, the suite's pipeline is the reference.
    """
    running = feeders.observe().elements
    wanted = sorted(running | (set() if running and spec.verify_only else set(ELEMENTS)))
    elements = GStreamer(host).elements(wanted)
    versions["gstreamer"] = elements.version
    problem = elements.problem()
    assert problem is None, problem


@pytest.mark.prereq("test_gstreamer_install")
def test_feeders_running(feeders, fed, camera):
    """The camera is fed by exactly one live gst-launch-1.0 process writing to its device.

    Feeders are found by what they do (`ps`: a gst-launch-1.0 whose v4l2sink writes to
    /dev/videoN), whoever started them: the suite's unit, another unit, or the documentation's
    background `sudo gst-launch-1.0 ... &` (both in docs/facts.md#feeder-pipeline). The suite's
    own unit, where it made one, only adds its state and journal to the message.
    """
    problem = fed.problem(camera)
    note = feeders.unit_note(camera) if problem else None
    assert problem is None, (
        f"expected one live `gst-launch-1.0 ... ! v4l2sink device={camera.device}`:\n"
        + problem
        + (f"\n  {note}" if note else "")
        + f"\n(processes: `{PS}` on the node)"
    )


@pytest.mark.prereq("test_feeders_running")
def test_cameras_fed(feeders, camera, versions):
    """The camera's device carries JPEG 640x480 frames (sysfs format).

    See docs/facts.md#pixel-format-jpeg.
    """
    seen = feeders.wait_until_fed(camera, timeout=FED_TIMEOUT)
    if camera.number == 1:
        versions["camera_format"] = seen
