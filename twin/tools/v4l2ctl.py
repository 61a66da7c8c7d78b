"""v4l2-ctl on the twin's loopback devices, as a real host shows it.

As docs/facts.md#video-devices, docs/facts.md#pixel-format-jpeg and
docs/facts.md#v4l2-ctl-output record it.

Modelled: `--list-devices` (exits 1 on the missing /dev/video0 while listing correctly),
`-d DEV --info` / `--all` (the driver info block) and `--list-formats[-ext]`. Any other
option fails loudly, naming itself, instead of printing something plausible.
"""

from __future__ import annotations

from pathlib import Path

from twin.tools.base import Answer, Call, not_found, tool

ACTIONS = ("--list-devices", "--info", "-D", "--all", "-a", "--list-formats", "--list-formats-ext")
MODELLED = (*ACTIONS, "-d", "--device")


@tool("v4l2-ctl")
def v4l2_ctl(daemon, call: Call) -> Answer:
    """v4l2-ctl --list-devices | -d DEV --info/--all/--list-formats[-ext]"""
    node = daemon.node
    if not node.installed("v4l-utils"):
        return not_found("v4l2-ctl")
    argv = call.argv
    unknown = [a for a in argv if a.startswith("-") and a.split("=", 1)[0] not in MODELLED]
    if unknown:
        return Answer(1, "", f"v4l2-ctl: option {unknown[0]} is not modelled by the twin\n")
    if not any(a.split("=", 1)[0] in ACTIONS for a in argv):
        return Answer(
            1,
            "",
            f"v4l2-ctl: the twin models {', '.join(ACTIONS)} only\n",
        )
    devices = sorted(node.state.devices, key=lambda d: int(d.removeprefix("/dev/video")))
    module = node.state.module
    if "--list-devices" in argv:
        out = []
        for i, devnode in enumerate(devices):
            label = _label(node, devnode)
            out.append(f"{label} (platform:v4l2loopback-{i:03d}):\n\t{devnode}\n")
        return Answer(1, "\n".join(out), "Cannot open device /dev/video0, exiting.\n")
    devnode = "/dev/video0"
    for flag in ("-d", "--device"):
        if flag in argv:
            devnode = argv[argv.index(flag) + 1]
    for a in argv:
        if a.startswith("--device="):
            devnode = a.split("=", 1)[1]
    frames = node.device(devnode)
    if frames is None or module is None:
        return Answer(1, "", f"Cannot open device {devnode}, exiting.\n")
    index = devices.index(devnode)
    fed = bool(frames.format)
    caps = "Video Capture" if fed or not module.exclusive_caps[index] else "Video Output"
    info = (
        f"Driver Info:\n\tDriver name      : v4l2 loopback\n\tCard type        : "
        f"{_label(node, devnode)}\n\tBus info         : platform:v4l2loopback-{index:03d}\n"
        f"\tDriver version   : {node.platform.kernel_version_field}\n"
        f"\tCapabilities     : 0x85200001\n"
        f"\t\t{caps}\n\t\tRead/Write\n\t\tStreaming\n\t\tExtended Pix Format\n"
        f"\t\tDevice Capabilities\n"
    )
    if any(a.startswith("--list-formats") for a in argv):
        if not fed:
            return Answer(0, "ioctl: VIDIOC_ENUM_FMT\n\tType: Video Capture\n\n")
        size = frames.format.split(":")[1].split("@")[0]
        return Answer(
            0,
            "ioctl: VIDIOC_ENUM_FMT\n\tType: Video Capture\n\n"
            "\t[0]: 'JPEG' (JFIF JPEG, compressed)\n"
            f"\t\tSize: Discrete {size}\n"
            "\t\t\tInterval: Discrete 0.033s (30.000 fps)\n",
        )
    return Answer(0, info)


def _label(node, devnode: str) -> str:
    path = node.root / "sys/class/video4linux" / Path(devnode).name / "name"
    return path.read_text().strip() if path.exists() else "Dummy video device"
