"""Layer 2, v4l2loopback: the kernel module (>= 0.12.5) and one mock camera per device."""

import pytest

from fixtures import names, parsers
from fixtures.probes import assert_installed, gather

pytestmark = [
    pytest.mark.akri,
    pytest.mark.v4l2loopback,
    pytest.mark.order(20),
    pytest.mark.prereq("test_target_reachable"),
]
MINIMUM = "0.12.5"


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
        "(a cloud kernel needs linux-modules-extra-$(uname -r) for videodev, akri-facts F1)"
    )


@pytest.mark.prereq("test_v4l2loopback_loaded")
def test_v4l2loopback_version(facts, versions):
    """The loaded module is >= 0.12.5 (kernel log; modinfo only knows >= 0.13, akri-facts 6.4)."""
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
        f"older versions break GStreamer's v4l2sink ('is not a output device', akri-facts 6.2)\n"
        f"{facts.quote('dmesg')}"
    )


@pytest.mark.prereq("test_v4l2loopback_loaded")
def test_video_devices(facts, settings):
    """/dev/video1..N exist as V4L2 character devices (major 81) owned by v4l2loopback."""
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
        if label != names.card_label(n):
            problems.append(f"{path}: card label {label!r}, expected {names.card_label(n)!r}")
    assert not problems, (
        f"expected {settings.cameras} loopback camera(s) /dev/video1..{settings.cameras}:\n  "
        + "\n  ".join(problems)
        + f"\n{facts.quote('stat')}"
    )


@pytest.mark.prereq("test_video_devices")
def test_exclusive_caps(facts, settings):
    """exclusive_caps is set for every camera (it is per device, akri-facts 6.3)."""
    caps = parsers.sysfs_array(facts.out("exclusive_caps"))[: settings.cameras]
    assert caps == ["Y"] * settings.cameras, (
        f"expected exclusive_caps Y for /dev/video1..{settings.cameras}, got {caps} "
        f"(set exclusive_caps=1,1,... one value per device)\n{facts.quote('exclusive_caps')}"
    )
