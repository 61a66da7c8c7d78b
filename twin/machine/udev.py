"""udev's view of the node's video devices: the database entry of a v4l2loopback node.

`udev_properties` is the one source of a v4l2loopback node's udev database entry: `udevadm info
--query=property` prints it (`twin.tools.udevadm`), and Akri's udev discovery matches its rules
against it (`twin.akri.discovery`): `DEVPATH`, `DEVNAME`, `SUBSYSTEM` and
`ID_V4L_CAPABILITIES`=":video_output:" (docs/facts.md#udev-capabilities).
"""

from __future__ import annotations

from dataclasses import dataclass

from twin.machine.node import V4L2_MAJOR

# v4l_id runs when the node appears, before a producer attaches (docs/facts.md#udev-capabilities).
V4L_CAPABILITIES = ":video_output:"


@dataclass(frozen=True)
class UdevDevice:
    """A video4linux node as udev sees it; `fed` = a producer is writing frames to it."""

    devnode: str
    devpath: str
    fed: bool
    minor: int = 0
    product: str = ""  # the card label (v4l_id reads it from VIDIOC_QUERYCAP)
    subsystem: str = "video4linux"


#: the memory device every Linux node has (major 1, minor 3), which Akri's own e2e discovers with
#: `KERNEL=="null"` (docs/facts.md#akri-e2e-checks); no producer, nothing to feed
NULL_DEVICE = UdevDevice("/dev/null", "/devices/virtual/mem/null", False, 3, subsystem="mem")


def udev_properties(device: UdevDevice) -> dict[str, str]:
    """The device's udev database properties, in `udevadm info --query=property` order.

    DEVPATH and ID_V4L_CAPABILITIES are as observed on a real host (docs/facts.md#video-devices,
    docs/facts.md#udev-capabilities); the other keys are what udev and v4l_id set for any
    video4linux node. Their exact values on a real v4l2loopback node (ID_V4L_PRODUCT = the card
    label, ID_V4L_VERSION=2, the TAGS) are not in the facts: a question for them.
    """
    if device.subsystem == "mem":  # what udev records of /dev/null: no v4l_id keys
        return {
            "DEVPATH": device.devpath,
            "DEVNAME": device.devnode,
            "DEVMODE": "0666",
            "MAJOR": "1",
            "MINOR": str(device.minor),
            "SUBSYSTEM": "mem",
        }
    return {
        "DEVPATH": device.devpath,
        "DEVNAME": device.devnode,
        "MAJOR": str(V4L2_MAJOR),
        "MINOR": str(device.minor),
        "SUBSYSTEM": "video4linux",
        "USEC_INITIALIZED": "1000000",
        "ID_V4L_VERSION": "2",
        "ID_V4L_PRODUCT": device.product,
        "ID_V4L_CAPABILITIES": V4L_CAPABILITIES,
        "TAGS": ":uaccess:seat:",
        "CURRENT_TAGS": ":uaccess:seat:",
    }
