"""Layer 3, GStreamer: one live feeder per camera, writing JPEG frames into its device."""

import pytest

from fixtures.install.probes import assert_installed
from fixtures.install.steps import (
    feeder_problems,
    feeder_processes,
    feeders_by_camera,
    unit_diagnostics,
)
from fixtures.install.steps.feeders import PS
from fixtures.node import names, parsers
from fixtures.node.facts import gather
from fixtures.node.waits import wait_until

pytestmark = [
    pytest.mark.akri,
    pytest.mark.gstreamer,
    pytest.mark.order(30),
    pytest.mark.prereq("test_v4l2loopback_version", "test_video_devices", "test_exclusive_caps"),
]


@pytest.fixture(scope="module")
def layer(installed):
    return installed("gstreamer")


ELEMENTS = names.GSTREAMER_ELEMENTS


def test_gstreamer_install(layer, settings):
    """The GStreamer packages installed and one feeder unit started per camera."""
    assert_installed(layer, "gstreamer", settings.install)


@pytest.mark.prereq("test_gstreamer_install")
def test_gstreamer_elements(host, settings, versions):
    """gst-inspect-1.0 finds every element the feeders need.

    That is the elements of the pipelines that run (a deployment's own, e.g. the docs'
    avenc_mjpeg, docs/facts.md#feeder-pipeline) and, when the suite installs, those of its own
    pipeline; in verify-only with no feeder running, the suite's pipeline is the reference.
    """
    running = {e for p in feeder_processes(host) for e in parsers.gst_pipeline_elements(p.args)}
    wanted = sorted(running | (set() if running and settings.install == "never" else set(ELEMENTS)))
    # one gst-inspect-1.0 per element: given several names, 1.22 inspects the first only
    commands = {f"inspect_{e}": f"gst-inspect-1.0 {e}" for e in wanted}
    facts = gather(host, {**commands, "version": "gst-launch-1.0 --version"}, sudo=False)
    versions["gstreamer"] = next(
        (
            line.split()[-1]
            for line in facts.out("version").splitlines()
            if line.startswith("GStreamer")
        ),
        "unknown",
    )
    missing = [
        e
        for e in wanted
        if facts.rc(f"inspect_{e}") != 0 or parsers.gst_inspect_missing(facts.out(f"inspect_{e}"))
    ]
    assert not missing, (
        f"GStreamer elements missing: {', '.join(missing)} (needed: {', '.join(wanted)}; "
        f"packages {', '.join(names.GSTREAMER_PACKAGES)}, see docs/facts.md#feeder-pipeline)\n"
        + "\n".join(facts.quote(f"inspect_{e}", 3) for e in missing)
    )


@pytest.mark.prereq("test_gstreamer_install")
def test_feeders_running(host, settings):
    """Each camera is fed by exactly one live gst-launch-1.0 process writing to its device.

    Feeders are found by what they do (`ps`: a gst-launch-1.0 whose v4l2sink writes to
    /dev/videoN), whoever started them: the suite's unit, another unit, or the documentation's
    background `sudo gst-launch-1.0 ... &` (both in docs/facts.md#feeder-pipeline). The suite's
    own unit, where it made one, only adds its state and journal to the message.
    """
    problems = feeder_problems(feeders_by_camera(host, settings.cameras))
    notes = unit_diagnostics(host, sorted(problems))
    assert not problems, (
        "expected one live `gst-launch-1.0 ... ! v4l2sink device=/dev/videoN` per camera:\n"
        + "\n".join(problems[n] + (f"\n  {notes[n]}" if n in notes else "") for n in problems)
        + f"\n(processes: `{PS}` on the node)"
    )


@pytest.mark.prereq("test_feeders_running")
def test_cameras_fed(host, settings, versions):
    """Every device carries JPEG 640x480 frames (sysfs format).

    See docs/facts.md#pixel-format-jpeg.
    """
    cams = range(1, settings.cameras + 1)
    paths = " ".join(f"/sys/class/video4linux/video{n}/format" for n in cams)

    def formats() -> list[str]:
        out = host.run(f'for f in {paths}; do echo "$(cat $f 2>/dev/null)"; done', timeout=30)
        return out.stdout.splitlines()

    w, h = names.FRAME_SIZE
    seen, _seconds = wait_until(
        formats,
        lambda fs: len(fs) == len(cams) and all(f.startswith(f"JPEG:{w}x{h}") for f in fs),
        timeout=20,
        what=f"JPEG:{w}x{h} on /dev/video1..{len(cams)}",
        describe=lambda fs: ", ".join(
            f"video{n}={f or '(no format)'}" for n, f in zip(cams, fs, strict=False)
        ),
    )
    versions["camera_format"] = seen[0]
