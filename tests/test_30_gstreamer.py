"""Layer 3, GStreamer: one live feeder per camera, writing JPEG frames into its device."""

import pytest

from fixtures import names, parsers
from fixtures.probes import assert_installed, gather
from fixtures.steps import feeder_states
from fixtures.waits import wait_until

pytestmark = [
    pytest.mark.akri,
    pytest.mark.gstreamer,
    pytest.mark.order(30),
    pytest.mark.prereq("test_v4l2loopback_version", "test_video_devices"),
]


@pytest.fixture(scope="module")
def layer(installed):
    return installed("gstreamer")


def test_gstreamer_install(layer, settings):
    """The GStreamer packages installed and one feeder unit started per camera."""
    assert_installed(layer, "gstreamer", settings.install)


@pytest.mark.prereq("test_gstreamer_install")
def test_gstreamer_elements(host, versions):
    """gst-inspect-1.0 finds every element of the feeder pipeline."""
    facts = gather(
        host,
        {
            "inspect": f"gst-inspect-1.0 {' '.join(names.GSTREAMER_ELEMENTS)}",
            "version": "gst-launch-1.0 --version",
        },
        sudo=False,
    )
    versions["gstreamer"] = next(
        (
            line.split()[-1]
            for line in facts.out("version").splitlines()
            if line.startswith("GStreamer")
        ),
        "unknown",
    )
    missing = parsers.gst_inspect_missing(facts.out("inspect"))
    assert facts.rc("inspect") == 0 and not missing, (
        f"GStreamer elements missing: {', '.join(missing) or 'see output'} (packages "
        f"{', '.join(names.GSTREAMER_PACKAGES)})\n{facts.quote('inspect')}"
    )


@pytest.mark.prereq("test_gstreamer_install")
def test_feeders_running(host, settings):
    """Each camera's feeder unit is active, its process alive, and it feeds that camera."""
    states = feeder_states(host, settings.cameras)
    pids = {n: s.get("MainPID", "0") for n, s in states.items()}
    alive = parsers.ps_args(
        host.run(
            f"ps -o pid=,args= -p {','.join(p for p in pids.values() if p != '0') or '1'}",
            timeout=30,
        ).stdout
    )
    problems = []
    for n, state in states.items():
        unit, pid = names.feeder_unit(n), int(pids[n] or 0)
        if state.get("ActiveState") != "active" or pid not in alive:
            journal = host.run(f"journalctl -u {unit} -n 8 --no-pager", sudo=True, timeout=30)
            problems.append(
                f"{unit}: ActiveState={state.get('ActiveState', '?')} "
                f"SubState={state.get('SubState', '?')} Result={state.get('Result', '?')} "
                f"MainPID={pid}; journal:\n    " + "\n    ".join(journal.stdout.splitlines()[-8:])
            )
        elif f"device={names.devnode(n)}" not in state.get("ExecStart", ""):
            problems.append(f"{unit}: does not write to {names.devnode(n)}: {state['ExecStart']}")
        elif "gst-launch-1.0" not in alive[pid]:
            problems.append(f"{unit}: MainPID {pid} is not gst-launch-1.0: {alive[pid]}")
    assert not problems, "expected one live feeder per camera:\n" + "\n".join(problems)


@pytest.mark.prereq("test_feeders_running")
def test_cameras_fed(host, settings, versions):
    """Every device carries JPEG 640x480 frames (sysfs format, akri-facts 11)."""
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
