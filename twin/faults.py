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
    observed: str = ""  # what that test's failure message must show (the state it saw)
    args: tuple[str, ...] = ()  # extra suite options the fault is run with (self-tests)


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault(
            "ssh-down",
            "sshd never answers",
            "target",
            "test_target_reachable",
            observed="did not answer within 5s",
        ),
        Fault(
            "no-v4l2loopback",
            "the module package cannot be installed",
            "v4l2loopback",
            "test_v4l2loopback_install",
            observed="Unable to locate package v4l2loopback-dkms",
        ),
        Fault(
            "old-v4l2loopback",
            "installs and loads 0.12.3",
            "v4l2loopback",
            "test_v4l2loopback_version",
            observed="v4l2loopback 0.12.3 is loaded",
        ),
        Fault(
            "one-device",
            "only /dev/video1 appears",
            "v4l2loopback",
            "test_video_devices",
            observed="/dev/video2: missing",
        ),
        Fault(
            "feeder-down",
            "the feeder for /dev/video2 dies after start",
            "gstreamer",
            "test_feeders_running",
            observed="akri-feeder-video2.service: ActiveState=failed",
        ),
        Fault(
            "microk8s-not-ready",
            "status reports not running",
            "microk8s",
            "test_microk8s_install",
            observed="MicroK8s not ready after 8s",
        ),
        Fault(
            "dns-disabled",
            "the dns addon stays disabled",
            "microk8s",
            "test_microk8s_addons",
            observed="expected the dns addon enabled, status says 'disabled'",
        ),
        Fault(
            "no-akri-crds",
            "the Helm install never creates the CRDs",
            "akri_control_plane",
            "test_akri_crds",
            observed="configurations.akri.sh: 404",
        ),
        Fault(
            "agent-down",
            "the agent DaemonSet has no ready pod",
            "akri_control_plane",
            "test_akri_components_ready",
            observed="Akri agent ready",
        ),
        Fault(
            "missing-instance",
            "only one Instance is created",
            "akri_instances",
            "test_one_instance_per_camera",
            observed="last observed state: akri-udev-video-",
        ),
        Fault(
            "broker-crashloop",
            "one broker pod is in CrashLoopBackOff",
            "akri_instances",
            "test_brokers_running",
            observed="CrashLoopBackOff",
        ),
        Fault(
            "no-config-service",
            "the configuration-level service is missing",
            "akri_instances",
            "test_configuration_service",
            observed="akri-udev-video-svc: missing",
        ),
        Fault(
            "app-not-ready",
            "the streaming app Deployment never becomes available",
            "streaming",
            "test_streaming_app_available",
            observed="Available=False",
        ),
        Fault(
            "no-feeds",
            "the index page has no camera_frame_feed links",
            "streaming",
            "test_index_lists_feeds",
            observed="links []",
        ),
        Fault(
            "not-jpeg",
            "the stream parts are not JPEG",
            "streaming",
            "test_feeds_deliver_jpeg",
            observed="no JPEG SOI FF D8",
        ),
        Fault(
            "frozen-frames",
            "every frame is the same image",
            "streaming",
            "test_feeds_are_live",
            observed="frames are identical",
        ),
        Fault(
            "app-image-missing",
            "the registry has no manifest for the streaming app image's tag",
            "streaming",
            "test_streaming_install",
            observed="video-streaming-app:v0.13.21-dev: not found",
        ),
        Fault(
            "app-wedged",
            "a stray request for a negative feed id left the app's camera lock held",
            "streaming",
            "test_unknown_feed_is_500",
            observed="no answer within",
        ),
        Fault(
            "stale-camera-list",
            "the app's camera refresh died; it still lists a service's old address",
            "streaming",
            "test_camera_list",
            observed="matches no Akri service",
        ),
        Fault("slow-start", "brokers appear only after 20 s", None),
        Fault("reboot-required", "the first apt upgrade demands a reboot", None),
        Fault("flaky-api", "1 in 5 Kubernetes requests answers 500 or 429", None),
        Fault("ssh-drop", "the SSH connection drops once mid-run", None),
    )
}
