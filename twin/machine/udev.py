"""udev on the twin: video devices, rule matching, and the udev-video-broker's runtime.

The udev discovery handler reports every device whose properties satisfy one of a
Configuration's `udevRules`; a local device's Instance id is blake2b-24 of its devpath and the
node name (docs/facts.md#instance-names). `udev_properties` is the one source of a v4l2loopback
node's udev database entry: `udevadm info --query=property` prints it, and rules are evaluated on
it (`KERNEL`, `SUBSYSTEM`, `DEVPATH`, `DEVNAME`, `ENV{ID_V4L_CAPABILITIES}`=":video_output:",
docs/facts.md#udev-capabilities). A broker gets the properties of the Instance it was allocated
(`twin.akri.deviceplugins`) twice through CDI, as is and suffixed with the upper-case hash
(docs/facts.md#broker-environment); it crash-loops with the rscam panic when its camera has no
producer (docs/facts.md#feeders-before-akri), and with main.rs's panic when it was allocated no
device at all (no `UDEV_DEVNODE_<HASH>`, docs/facts.md#broker-environment).
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import time
from dataclasses import dataclass

import yaml

from twin.cluster.podstatus import PodBehaviour

# v4l_id runs when the node appears, before a producer attaches (docs/facts.md#udev-capabilities).
V4L_CAPABILITIES = ":video_output:"
V4L2_MAJOR = 81
_CLAUSE = re.compile(r'\s*([A-Za-z_]+(?:\{[^}]*\})?)\s*(==|!=)\s*"([^"]*)"\s*')
BROKER_START = (
    "akri.sh udev_broker ... env_logger::init\nakri.sh udev_broker ... env_logger::init finished\n"
)
# As in akri#445 (logged with RUST_LOG=trace), then Rust's panic message (exit code 101).
CAPTURER = (
    "[{ts} TRACE udev_video_broker::util::camera_capturer] "
    "build_and_start_camera_capturer - entered\n"
)
_PANIC_AT = "thread 'main' panicked at src/util/camera_capturer.rs:"
_BACKTRACE = "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n"
# No producer yet, so v4l2loopback enumerates no format and `format_options[0]` panics
# (docs/facts.md#feeders-before-akri).
NO_FORMATS_PANIC = (
    f"{_PANIC_AT}69:13:\nindex out of bounds: the len is 0 but the index is 0\n{_BACKTRACE}"
)
# No UDEV_DEVNODE_<HASH> in the environment: no akri.sh resource claim, so no device was
# allocated (main.rs `get_video_devnode`, samples/brokers/udev-video-broker at 22e71f7b).
NO_DEVNODE_PANIC = (
    f"thread 'main' panicked at src/main.rs:71:10:\ndevnode not set in environment variable\n"
    f"{_BACKTRACE}"
)
# The `broker-crashloop` fault: the camera is held by another reader.
BUSY_PANIC = (
    f"{_PANIC_AT}24:52:\ncalled `Result::unwrap()` on an `Err` value: Io(Os {{ code: 16, "
    f'kind: ResourceBusy, message: "Device or resource busy" }})\n{_BACKTRACE}'
)


@dataclass(frozen=True)
class UdevDevice:
    """A video4linux node as udev sees it; `fed` = a producer is writing frames to it."""

    devnode: str
    devpath: str
    fed: bool
    minor: int = 0
    product: str = ""  # the card label (v4l_id reads it from VIDIOC_QUERYCAP)


def instance_hash(devpath: str, node: str) -> str:
    """The 6-hex Instance id of a local device: blake2b-24 of devpath + node.

    See docs/facts.md#instance-names.
    """
    return hashlib.blake2b((devpath + node).encode(), digest_size=3).hexdigest()


def udev_properties(device: UdevDevice) -> dict[str, str]:
    """The device's udev database properties, in `udevadm info --query=property` order.

    DEVPATH and ID_V4L_CAPABILITIES are as observed on a real host (docs/facts.md#video-devices,
    docs/facts.md#udev-capabilities); the other keys are what udev and v4l_id set for any
    video4linux node. Their exact values on a real v4l2loopback node (ID_V4L_PRODUCT = the card
    label, ID_V4L_VERSION=2, the TAGS) are not in the facts: a question for them.
    """
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


def _match_keys(device: UdevDevice) -> dict[str, str]:
    """The keys a rule can test: the device's own, and every property as ENV{KEY}."""
    props = udev_properties(device)
    keys = {f"ENV{{{k}}}": v for k, v in props.items()}
    keys.update(
        KERNEL=device.devnode.rsplit("/", 1)[-1],
        SUBSYSTEM=props["SUBSYSTEM"],
        DEVPATH=props["DEVPATH"],
        DEVNAME=props["DEVNAME"],
    )
    return keys


def rule_matches(rule: str, device: UdevDevice) -> bool:
    """True when every `KEY=="glob"` / `KEY!="glob"` clause of a udev rule holds (`|` = or)."""
    props = _match_keys(device)
    clauses = [c for c in re.split(r',(?=(?:[^"]*"[^"]*")*[^"]*$)', rule) if c.strip()]
    if not clauses:
        return False
    for clause in clauses:
        found = _CLAUSE.fullmatch(clause)
        if found is None or found.group(1) not in props:
            return False  # a key the model cannot evaluate matches nothing
        key, op, pattern = found.groups()
        hit = any(fnmatch.fnmatchcase(props[key], alt) for alt in pattern.split("|"))
        if hit != (op == "=="):
            return False
    return True


def udev_rules(config: dict) -> list[str]:
    """The `udevRules` of a udev Configuration's discoveryDetails (YAML text)."""
    try:
        details = yaml.safe_load(config["spec"]["discoveryHandler"].get("discoveryDetails") or "")
    except yaml.YAMLError:
        return []
    rules = (details or {}).get("udevRules") if isinstance(details, dict) else None
    return [str(r) for r in rules or [] if r]


def broker_behaviour(
    instance: str | None, properties: dict[str, str], device: UdevDevice | None, busy: bool
) -> PodBehaviour:
    """How a udev-video-broker container runs: the allocated device's env, logs, or its panic.

    `instance` is the Instance whose device the pod was allocated (None: no device at all).
    """
    env: dict[str, str] = {}
    if instance is None:
        text = BROKER_START + NO_DEVNODE_PANIC
        return PodBehaviour(crash_reason=NO_DEVNODE_PANIC, logs=lambda _previous: text, env=env)
    suffix = instance.rsplit("-", 1)[-1].upper()
    for key, value in properties.items():
        env[key] = env[f"{key}_{suffix}"] = value
    crash = None if device is not None and device.fed else NO_FORMATS_PANIC
    if busy:
        crash = BUSY_PANIC
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    text = BROKER_START + (CAPTURER.format(ts=stamp) + crash if crash else "")
    return PodBehaviour(crash_reason=crash, logs=lambda _previous: text, env=env)
