"""The udev-video-broker's runtime on the twin: its device's environment, its log, its panic.

A broker gets the properties of the Instance it was allocated (`twin.akri.deviceplugins`) twice
through CDI, as is and suffixed with the upper-case hash (docs/facts.md#broker-environment); it
crash-loops with the rscam panic when its camera has no producer
(docs/facts.md#feeders-before-akri), and with main.rs's panic when it was allocated no device at
all (no `UDEV_DEVNODE_<HASH>`, docs/facts.md#broker-environment).
"""

from __future__ import annotations

from twin.cluster.podstatus import PodBehaviour
from twin.kubeapi.meta import now
from twin.machine.udev import UdevDevice

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
    stamp = now()
    text = BROKER_START + (CAPTURER.format(ts=stamp) + crash if crash else "")
    return PodBehaviour(crash_reason=crash, logs=lambda _previous: text, env=env)
