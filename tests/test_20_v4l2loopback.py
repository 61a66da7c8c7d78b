"""Layer 2, v4l2loopback: the kernel module (>= 0.12.5) and one mock camera per device."""

import pytest

from fixtures.install.probes import assert_installed
from fixtures.node import names, parsers
from fixtures.node.facts import gather

pytestmark = [
    pytest.mark.akri,
    pytest.mark.v4l2loopback,
    pytest.mark.order(20),
    pytest.mark.prereq("test_target_reachable"),
]
MINIMUM = "0.12.5"
# v4l2loopback's array parameters have 8 slots (docs/facts.md#exclusive-caps-per-device)
MAX_DEVICES = 8


@pytest.fixture(scope="module")
def layer(installed):
    return installed("v4l2loopback")


@pytest.fixture(scope="module")
def facts(host, layer, settings):
    cams = range(1, settings.cameras + 1)
    commands = {
        "lsmod": "lsmod",
        "dmesg": "dmesg | grep -i -E 'v4l2-?loopback|videodev' | tail -n 20",
        "modinfo_version": "modinfo -F version v4l2loopback",
        "dkms": "dkms status v4l2loopback",
        "dpkg": "dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\\n' v4l2loopback-dkms",
        "stat": "stat -c '%n %F %t %T' /dev/video*",
        "exclusive_caps": "cat /sys/module/v4l2loopback/parameters/exclusive_caps",
        "video_nr": "cat /sys/module/v4l2loopback/parameters/video_nr",
        "modprobe_d": "grep -H '^options v4l2loopback' /etc/modprobe.d/*.conf",
    }
    for n in cams:
        commands[f"name{n}"] = f"cat /sys/class/video4linux/video{n}/name"
        commands[f"info{n}"] = f"v4l2-ctl -d {names.devnode(n)} --info"
    return gather(host, commands)


def test_v4l2loopback_install(layer, settings):
    """The host steps and the module package installed (dkms built it for the running kernel)."""
    assert_installed(layer, "v4l2loopback", settings.install)


@pytest.mark.prereq("test_v4l2loopback_install")
def test_v4l2loopback_loaded(facts):
    """lsmod shows v4l2loopback and the videodev it depends on."""
    modules = parsers.lsmod(facts.out("lsmod"))
    missing = [m for m in ("videodev", "v4l2loopback") if m not in modules]
    assert not missing, (
        f"expected modules videodev and v4l2loopback loaded; missing: {', '.join(missing)}\n"
        f"{facts.quote('lsmod')}\nkernel log:\n{facts.quote('dmesg')}\n"
        "(a cloud kernel needs linux-modules-extra-$(uname -r) for videodev, see "
        "docs/facts.md#videodev-module)"
    )


@pytest.mark.prereq("test_v4l2loopback_loaded")
def test_v4l2loopback_version(facts, versions):
    """The loaded module is >= 0.12.5 (kernel log; modinfo only knows >= 0.13).

    See docs/facts.md#v4l2loopback-version-source.
    """
    loaded = parsers.v4l2loopback_version_from_dmesg(facts.out("dmesg"))
    declared = facts.out("modinfo_version").strip() if facts.rc("modinfo_version") == 0 else ""
    version = loaded or declared or None
    versions["v4l2loopback"] = version or "unknown"
    package = parsers.dpkg_query_versions(facts.out("dpkg")).get("v4l2loopback-dkms", "none")
    versions["v4l2loopback_package"] = package
    assert version, (
        f"could not read the loaded v4l2loopback version from the kernel log or modinfo\n"
        f"{facts.quote('dmesg')}\n{facts.quote('modinfo_version')}\n{facts.quote('dkms')}"
    )
    assert parsers.debian_version_at_least(version, MINIMUM), (
        f"v4l2loopback {version} is loaded (package {package}); {MINIMUM} or newer is required: "
        "older versions break GStreamer's v4l2sink ('is not a output device', see "
        "docs/facts.md#v4l2loopback-minimum-version)\n"
        f"{facts.quote('dmesg')}"
    )


@pytest.mark.prereq("test_v4l2loopback_loaded")
def test_video_devices(facts, settings):
    """/dev/video1..N exist as V4L2 character devices (major 81) owned by v4l2loopback.

    The card labels cam1..N are the suite's own naming: required where the suite installs,
    not of a deployment it did not make (the docs' `modprobe` sets none; the label is the
    device's name, docs/facts.md#video-devices).
    """
    nodes = parsers.stat_devices(facts.out("stat"))
    problems = []
    for n in range(1, settings.cameras + 1):
        path = names.devnode(n)
        node = nodes.get(path)
        if node is None:
            problems.append(f"{path}: missing")
            continue
        if not node.is_char or node.major != 81:
            problems.append(f"{path}: {node.kind} {node.major}:{node.minor}, not char 81:*")
        driver = parsers.v4l2_info(facts.out(f"info{n}")).get("Driver name", "")
        if driver != "v4l2 loopback":
            problems.append(f"{path}: driver {driver or 'unknown'!r}, not 'v4l2 loopback'")
        label = facts.out(f"name{n}").strip()
        if settings.install != "never" and label != names.card_label(n):
            problems.append(f"{path}: card label {label!r}, expected {names.card_label(n)!r}")
    assert not problems, (
        f"expected {settings.cameras} loopback camera(s) /dev/video1..{settings.cameras}:\n  "
        + "\n  ".join(problems)
        + f"\n{facts.quote('stat')}"
    )


@pytest.mark.prereq("test_video_devices")
def test_exclusive_caps(facts, settings):
    """Each camera's exclusive_caps is what the node asks for.

    The parameter holds one value per device (docs/facts.md#exclusive-caps-per-device). Where
    the suite installs, that is its own requirement: Y for every camera (it loads and
    persists exclusive_caps=1,..,1). In verify-only, it is what the node's /etc/modprobe.d asks
    for, device by device, since that is what the node comes back with after a reboot; a
    module loaded by hand and not persisted asks for nothing the suite could hold it to (the
    docs' `exclusive_caps=1 video_nr=1,2` loads Y,N and the demo works: Akri's rule is
    KERNEL=="video[0-9]*", docs/facts.md#udev-capabilities), and the check is skipped saying
    what it saw.
    """
    loaded = parsers.sysfs_array(facts.out("exclusive_caps"))
    video_nr = parsers.sysfs_array(facts.out("video_nr"))
    if settings.install != "never":
        wanted, why = ["Y"] * MAX_DEVICES, "the suite's own requirement (exclusive_caps=1,..,1)"
    else:
        asked = parsers.modprobe_options(facts.out("modprobe_d"), "v4l2loopback")
        if "exclusive_caps" not in asked:
            pytest.skip(
                f"--install never and nothing in /etc/modprobe.d sets exclusive_caps: the module "
                f"was loaded by hand with exclusive_caps {','.join(loaded[: settings.cameras])} "
                "(docs/facts.md#exclusive-caps-per-device); Akri's KERNEL rule does not depend "
                "on it (docs/facts.md#udev-capabilities)"
            )
        wanted = parsers.bool_array(asked["exclusive_caps"], MAX_DEVICES)
        why = f"what /etc/modprobe.d asks for (exclusive_caps={asked['exclusive_caps']})"
    problems = []
    for n in range(1, settings.cameras + 1):
        slot = video_nr.index(str(n)) if str(n) in video_nr else n - 1
        have = loaded[slot] if slot < len(loaded) else "?"
        if have != wanted[slot]:
            problems.append(f"{names.camera(n)}: exclusive_caps {have}, expected {wanted[slot]}")
    assert not problems, (
        f"exclusive_caps differs from {why}:\n  " + "\n  ".join(problems) + "\n"
        f"{facts.quote('exclusive_caps')}\n{facts.quote('video_nr')}\n{facts.quote('modprobe_d')}\n"
        "(parameters change only when the module is reloaded: modprobe -r v4l2loopback first)"
    )
