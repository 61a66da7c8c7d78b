"""The faults the twin can inject (twin.md), with the layer each must fail.

A fault breaks one thing; a perturbation disturbs the run in a way a serious suite absorbs
(it must pass). Self-tests and benchmarks iterate over this table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    """One injectable fault: what breaks and which layer's test must catch it."""

    name: str
    breaks: str
    layer: str | None  # None: a perturbation, the suite must pass
    test: str | None = None  # the test expected to fail first


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault("ssh-down", "sshd never answers", "target", "test_target_reachable"),
        Fault(
            "no-v4l2loopback",
            "the module package cannot be installed",
            "v4l2loopback",
            "test_v4l2loopback_install",
        ),
        Fault(
            "old-v4l2loopback",
            "installs and loads 0.12.3",
            "v4l2loopback",
            "test_v4l2loopback_version",
        ),
        Fault("one-device", "only /dev/video1 appears", "v4l2loopback", "test_video_devices"),
        Fault(
            "feeder-down",
            "the feeder for /dev/video2 dies after start",
            "gstreamer",
            "test_feeders_running",
        ),
        Fault(
            "microk8s-not-ready", "status reports not running", "microk8s", "test_microk8s_install"
        ),
        Fault("dns-disabled", "the dns addon stays disabled", "microk8s", "test_microk8s_addons"),
        Fault(
            "no-akri-crds",
            "the Helm install never creates the CRDs",
            "akri_control_plane",
            "test_akri_crds",
        ),
        Fault(
            "agent-down",
            "the agent DaemonSet has no ready pod",
            "akri_control_plane",
            "test_akri_components_ready",
        ),
        Fault(
            "missing-instance",
            "only one Instance is created",
            "akri_instances",
            "test_one_instance_per_camera",
        ),
        Fault(
            "broker-crashloop",
            "one broker pod is in CrashLoopBackOff",
            "akri_instances",
            "test_brokers_running",
        ),
        Fault(
            "no-config-service",
            "the configuration-level service is missing",
            "akri_instances",
            "test_configuration_service",
        ),
        Fault(
            "app-not-ready",
            "the streaming app Deployment never becomes available",
            "streaming",
            "test_streaming_app_available",
        ),
        Fault(
            "no-feeds",
            "the index page has no camera_frame_feed links",
            "streaming",
            "test_index_lists_feeds",
        ),
        Fault("not-jpeg", "the stream parts are not JPEG", "streaming", "test_feeds_deliver_jpeg"),
        Fault("frozen-frames", "every frame is the same image", "streaming", "test_feeds_are_live"),
        Fault("stale-instance", "a removed camera's Instance is never deleted", "akri_dynamics"),
        Fault("no-rediscovery", "a camera that comes back is never rediscovered", "akri_dynamics"),
        Fault("slow-start", "brokers appear only after 20 s", None),
        Fault("reboot-required", "the first apt upgrade demands a reboot", None),
        Fault("flaky-api", "1 in 5 Kubernetes requests answers 500 or 429", None),
        Fault("ssh-drop", "the SSH connection drops once mid-run", None),
    )
}
