"""Self-tests of the parsers that find feeders and read modprobe.d (real host outputs).

The outputs are those docs/facts.md#feeder-pipeline records on a real host.
"""

from __future__ import annotations

import pytest

from fixtures.node import parsers

# `ps -eo pid=,stat=,args=` on a node fed as the Akri documentation does it
# (docs/facts.md#feeder-pipeline)
CAPS = "video/x-raw,width=640,height=480,framerate=10/1"
DOCS = f"videotestsrc pattern=ball ! {CAPS} ! avenc_mjpeg ! v4l2sink device=/dev/video1"
PS = f"""\
      1 Ss   /sbin/init
    812 S    sudo gst-launch-1.0 -v {DOCS}
    813 Sl   /usr/bin/gst-launch-1.0 -v {DOCS}
    820 Zl   [gst-launch-1.0] <defunct>
    901 Sl   /usr/bin/gst-launch-1.0 videotestsrc ! jpegenc ! image/jpeg,parsed=true ! v4l2sink
    950 S    bash -c gst-launch-1.0 videotestsrc ! v4l2sink device=/dev/video2
"""


def test_ps_processes_keep_state_and_args() -> None:
    rows = parsers.ps_processes(PS)
    assert [r.pid for r in rows] == [1, 812, 813, 820, 901, 950]
    assert [r.pid for r in rows if not r.alive] == [820]
    assert rows[2].args.endswith("v4l2sink device=/dev/video1")


def test_only_the_gst_launch_process_is_a_feeder() -> None:
    devices = {r.pid: parsers.gst_v4l2sink_device(r.args) for r in parsers.ps_processes(PS)}
    # sudo and a shell that runs gst are not feeders; v4l2sink's default device is /dev/video1
    assert devices == {
        1: None,
        812: None,
        813: "/dev/video1",
        820: None,
        901: "/dev/video1",
        950: None,
    }


def test_pipeline_elements_leave_caps_out() -> None:
    args = parsers.ps_processes(PS)[2].args
    assert parsers.gst_pipeline_elements(args) == ["videotestsrc", "avenc_mjpeg", "v4l2sink"]
    quoted = "gst-launch-1.0 videotestsrc ! 'image/jpeg,parsed=true' ! v4l2sink device=/dev/video3"
    assert parsers.gst_v4l2sink_device(quoted) == "/dev/video3"
    assert parsers.gst_pipeline_elements("ffmpeg -i x") == []


def test_ps_processes_refuses_noise() -> None:
    assert parsers.ps_processes("") == []
    with pytest.raises(parsers.ParseError):
        parsers.ps_processes("ps: unknown option\n")


def test_modprobe_options_from_grep_and_bool_arrays() -> None:
    text = (
        "/etc/modprobe.d/cameras.conf:options v4l2loopback exclusive_caps=1,1 video_nr=1,2\n"
        "/etc/modprobe.d/late.conf:options v4l2loopback exclusive_caps=1\n"
        "/etc/modprobe.d/other.conf:options snd-hda-intel model=auto\n"
        "grep: /etc/modprobe.d/*.conf: No such file or directory\n"
    )
    assert parsers.modprobe_options(text, "v4l2loopback") == {
        "exclusive_caps": "1",
        "video_nr": "1,2",
    }
    assert parsers.modprobe_options("", "v4l2loopback") == {}
    assert parsers.bool_array("1", 4) == ["Y", "N", "N", "N"]
    assert parsers.bool_array("1,Y,0", 4) == ["Y", "Y", "N", "N"]
