"""Self-tests of fixtures.node.parsers against the real-host outputs docs/facts.md records."""

from __future__ import annotations

import subprocess

import pytest

from fixtures.node import parsers as p

LSMOD = """Module                  Size  Used by
v4l2loopback           45056  2
videodev              294912  3 v4l2loopback
mc                     61440  1 videodev
"""

DMESG = """[    3.1] loading out-of-tree module taints kernel.
[    3.2] module verification failed: signature and/or required key missing - tainting kernel
[    3.3] v4l2loopback driver version 0.12.3 loaded
[   90.0] v4l2loopback driver version 0.12.7 loaded
"""

MODINFO = """filename:       /lib/modules/6.1.0-57-amd64/updates/dkms/v4l2loopback.ko
license:        GPL
description:    V4L2 loopback video device
depends:        videodev
vermagic:       6.1.0-57-amd64 SMP preempt mod_unload modversions
sig_hashalgo:   sha256
signature:      30:45:02:21:00
\t\tAB:CD
parm:           devices:how many devices to create (int)
parm:           exclusive_caps:whether to announce OUTPUT/CAPTURE capabilities (array of bool)
"""

LIST_DEVICES = """cam1 (platform:v4l2loopback-000):
\t/dev/video1

cam2 (platform:v4l2loopback-001):
\t/dev/video2

Cannot open device /dev/video0, exiting.
"""

V4L2_ALL = """Driver Info:
\tDriver name      : v4l2 loopback
\tCard type        : cam1
\tBus info         : platform:v4l2loopback-000
\tDriver version   : 6.1.192
\tCapabilities     : 0x85208002
\t\tVideo Capture
\t\tVideo Output
\tDevice Caps      : 0x05208002
Priority: 2
Format Video Capture:
\tWidth/Height      : 640/480
\tPixel Format      : 'JPEG' (JFIF JPEG, compressed)
"""

FORMATS_NEW = """ioctl: VIDIOC_ENUM_FMT
\tType: Video Capture

\t[0]: 'JPEG' (JFIF JPEG, compressed)
\t\tSize: Discrete 640x480
\t\t\tInterval: Discrete 0.033s (30.000 fps)
"""

FORMATS_OLD = """ioctl: VIDIOC_ENUM_FMT
\tIndex       : 0
\tType        : Video Capture
\tPixel Format: 'MJPG' (compressed)
\tName        : Motion-JPEG
\t\tSize: Discrete 640x480
\t\t\tInterval: Discrete 0.100s (10.000 fps)
"""


def test_batch_script_runs_every_command_and_keeps_rc() -> None:
    script = p.batch_script(
        {
            "hello": "echo 'it''s' two words; echo line2",
            "silent_fail": "false",
            "exit3": "echo out; echo err >&2; exit 3",
            "syntax": "if then fi",
            "stdin": "cat",
            "after": "echo still running",
        }
    )
    done = subprocess.run(
        ["sh", "-c", script], input="SHOULD NOT BE READ", text=True, capture_output=True, timeout=20
    )
    text = "sudo: unable to resolve host x\n" + done.stdout
    body, rc = p.sections(text), p.section_rc(text)
    assert body["hello"] == "its two words\nline2\n"
    assert (body["silent_fail"], rc["silent_fail"]) == ("", 1)
    assert (body["exit3"], rc["exit3"]) == ("out\nerr\n", 3)
    assert rc["syntax"] != 0 and rc["stdin"] == 0 and body["stdin"] == ""
    assert (body["after"], rc["after"]) == ("still running\n", 0)


def test_batch_script_timeout_and_bad_names() -> None:
    script = p.batch_script({"slow": "sleep 5", "fast": "echo ok"}, timeout=0.2)
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=20)
    assert p.section_rc(done.stdout) == {"slow": 124, "fast": 0}
    with pytest.raises(ValueError):
        p.batch_script({"two words": "true"})


def test_os_release_unquotes() -> None:
    text = 'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\n\n'
    assert p.os_release(text) == {
        "PRETTY_NAME": "Ubuntu 22.04.4 LTS",
        "NAME": "Ubuntu",
        "VERSION_ID": "22.04",
        "ID": "ubuntu",
    }


def test_lsmod_real_host() -> None:
    mods = p.lsmod(LSMOD)
    assert mods["v4l2loopback"] == p.LsmodEntry("v4l2loopback", 45056, 2, [])
    assert mods["videodev"].used_by == ["v4l2loopback"] and mods["videodev"].used_by_count == 3
    assert mods["mc"].used_by == ["videodev"]
    assert p.lsmod("Module                  Size  Used by\n") == {}


def test_dmesg_version_last_match_wins_and_hyphen_form() -> None:
    assert p.v4l2loopback_version_from_dmesg(DMESG) == "0.12.7"
    assert p.v4l2loopback_version_from_dmesg("v4l2-loopback driver version 0.15.4 loaded") == (
        "0.15.4"
    )
    assert p.v4l2loopback_version_from_dmesg("nothing here\n") is None


def test_dkms_status_formats() -> None:
    text = (
        "Deprecated feature: REMAKE_INITRD (/usr/src/x/dkms.conf)\n"
        "v4l2loopback/0.12.7, 6.1.0-57-amd64, x86_64: installed\n"
        "v4l2loopback, 0.12.5, 5.15.0-1-gcp, x86_64: installed (original_module exists)\n"
        "v4l2loopback/0.13.2: added\n"
        "v4l2loopback, 0.12.7, 6.8.0-1-gcp, x86_64: built\n"
    )
    entries = p.dkms_status(text)
    assert entries[0] == p.DkmsEntry(
        "v4l2loopback", "0.12.7", "6.1.0-57-amd64", "x86_64", "installed"
    )
    assert (entries[1].version, entries[1].kernel, entries[1].state) == (
        "0.12.5",
        "5.15.0-1-gcp",
        "installed",
    )
    assert entries[2] == p.DkmsEntry("v4l2loopback", "0.13.2", None, None, "added")
    assert entries[3].state == "built"
    assert p.dkms_status("") == []


def test_dpkg_query_only_installed() -> None:
    text = (
        "v4l2loopback-dkms 0.12.7-2 ii \n"
        "dkms 3.0.10-8 hi \n"
        "gstreamer1.0-libav  un \n"
        "old-thing 1.0-1 rc \n"
        "dpkg-query: no packages found matching nothing-here\n"
    )
    assert p.dpkg_query_versions(text) == {"v4l2loopback-dkms": "0.12.7-2", "dkms": "3.0.10-8"}
    assert p.dpkg_query_versions("dpkg-query: no packages found matching x\n") == {}


@pytest.mark.parametrize(
    ("version", "minimum", "expected"),
    [
        ("0.12.7-2ubuntu2~22.04.1", "0.12.5", True),
        ("0.12.5-1ubuntu5", "0.12.5", True),
        ("0.12.5", "0.12.5", True),
        ("0.12.3-1", "0.12.5", False),
        ("0.12.5~rc1-1", "0.12.5", False),
        ("0.12.10-1", "0.12.9", True),
        ("1:0.1-1", "0.12.5", True),
        ("0.15.0-0ubuntu2", "1:0.12.5", False),
        ("0.12.7-2ubuntu2~22.04.1", "0.12.7-2ubuntu2", False),
        ("0.12.7-2ubuntu5.1", "0.12.7-2ubuntu5", True),
        ("1.0a", "1.0", True),
        ("1.0+dfsg-1", "1.0-1", True),
    ],
)
def test_debian_version_ordering(version: str, minimum: str, expected: bool) -> None:
    assert p.debian_version_at_least(version, minimum) is expected


def test_modinfo_collects_repeated_keys() -> None:
    info = p.modinfo(MODINFO)
    assert info["depends"] == ["videodev"]
    assert info["filename"][0].endswith("/updates/dkms/v4l2loopback.ko")
    assert [v.split(":")[0] for v in info["parm"]] == ["devices", "exclusive_caps"]
    assert info["signature"] == ["30:45:02:21:00AB:CD"]
    assert "version" not in info


def test_sysfs_arrays() -> None:
    assert p.sysfs_array("Y,Y,N,N,N,N,N,N\n") == ["Y", "Y"] + ["N"] * 6
    assert p.sysfs_array("1,2,-1,-1,-1,-1,-1,-1\n")[:3] == ["1", "2", "-1"]


def test_v4l2_list_devices_despite_exit_1_message() -> None:
    assert p.v4l2_list_devices(LIST_DEVICES) == {
        "cam1 (platform:v4l2loopback-000)": ["/dev/video1"],
        "cam2 (platform:v4l2loopback-001)": ["/dev/video2"],
    }
    assert p.v4l2_list_devices("Cannot open device /dev/video0, exiting.\n") == {}


def test_v4l2_info_first_block_only() -> None:
    info = p.v4l2_info(V4L2_ALL)
    assert info["Driver name"] == "v4l2 loopback"
    assert info["Card type"] == "cam1"
    assert info["Bus info"] == "platform:v4l2loopback-000"
    assert info["Driver version"] == "6.1.192"
    assert "Pixel Format" not in info


def test_v4l2_formats_new_and_old_layouts() -> None:
    (fmt,) = p.v4l2_formats(FORMATS_NEW)
    assert (fmt.fourcc, fmt.description, fmt.sizes) == (
        "JPEG",
        "JFIF JPEG, compressed",
        [(640, 480)],
    )
    assert fmt.fps == {(640, 480): [30.0]}
    (old,) = p.v4l2_formats(FORMATS_OLD)
    assert (old.fourcc, old.description, old.sizes) == ("MJPG", "Motion-JPEG", [(640, 480)])
    assert p.v4l2_formats("ioctl: VIDIOC_ENUM_FMT\n\tType: Video Capture\n\n") == []


def test_stat_devices_hex_major_minor_and_missing() -> None:
    text = (
        "/dev/video1 character special file 51 0\n"
        "/dev/video2 character special file 51 1\n"
        "/dev/video10 character special file 51 a\n"
    )
    nodes = p.stat_devices(text)
    assert nodes["/dev/video1"] == p.DeviceNode("/dev/video1", "character special file", 81, 0)
    assert nodes["/dev/video2"].minor == 1 and nodes["/dev/video10"].minor == 10
    assert nodes["/dev/video1"].is_char
    missing = "stat: cannot statx '/dev/video*': No such file or directory\n"
    assert p.stat_devices(missing) == {}


def test_systemctl_show_blocks_by_id() -> None:
    text = (
        "Id=feeder-video1.service\nActiveState=active\nSubState=running\nMainPID=812\n"
        "Result=success\nExecMainStatus=0\n\n"
        "Id=feeder-video2.service\nActiveState=failed\nSubState=failed\nMainPID=0\n"
        "Result=exit-code\nExecMainStatus=1\n"
    )
    units = p.systemctl_show(text)
    assert units["feeder-video1.service"]["MainPID"] == "812"
    assert units["feeder-video2.service"]["Result"] == "exit-code"


def test_gst_inspect_missing() -> None:
    text = "No such element or plugin 'avenc_mjpeg'\nNo such element or plugin 'x'\n"
    assert p.gst_inspect_missing(text) == ["avenc_mjpeg", "x"]
    assert p.gst_inspect_missing("") == []


@pytest.mark.parametrize(
    ("parser", "text"),
    [
        (p.sections, "no markers here\n"),
        (p.os_release, "garbage\n"),
        (p.lsmod, "sh: 1: lsmod: not found\n"),
        (p.dkms_status, "sh: 1: dkms: not found\n"),
        (p.dpkg_query_versions, "something unexpected\n"),
        (p.modinfo, "modinfo: ERROR: Module v4l2loopback not found.\n"),
        (p.sysfs_array, "cat: /sys/module/v4l2loopback/parameters/x: No such file or directory"),
        (p.v4l2_list_devices, "sh: 1: v4l2-ctl: not found\n"),
        (p.v4l2_info, "Cannot open device /dev/video1, exiting.\n"),
        (p.v4l2_formats, "Cannot open device /dev/video1, exiting.\n"),
        (p.stat_devices, "what is this\n"),
        (p.systemctl_show, "System has not been booted with systemd as init system (PID 1).\n"),
        (p.microk8s_status, "Insufficient permissions to access MicroK8s.\n"),
        (p.microk8s_status, "microk8s:\n  running: maybe\n"),
        (p.snap_list, "snap: command not found\n"),
        (p.apiserver_args, "cat: /var/snap/microk8s/current/args/kube-apiserver: No such file\n"),
        (p.helm_list, "Error: Kubernetes cluster unreachable\n"),
        (p.helm_list, '[{"name": 1}]\n'),
    ],
)
def test_malformed_output_raises_parse_error(parser, text: str) -> None:
    with pytest.raises(p.ParseError) as err:
        parser(text)
    assert text.splitlines()[0] in str(err.value) and "cannot parse `" in str(err.value)


def test_bad_debian_version_raises() -> None:
    with pytest.raises(p.ParseError):
        p.debian_version_at_least("not a version", "0.12.5")
