"""The faults the twin can inject (the README's fault table), with the layer each must fail.

A fault breaks one thing; a perturbation disturbs the run in a way a serious suite absorbs
(it must pass). Self-tests and benchmarks iterate over this table.
"""

from __future__ import annotations

from twin.fault import Fault
from twin.faultless import WITHOUT_FAULT
from twin.faults_behaviour import BEHAVIOUR_FAULTS

__all__ = ["FAULTS", "WITHOUT_FAULT", "Fault"]


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
            observed="cam2 /dev/video2: no live gst-launch-1.0 process writes to it",
        ),
        Fault(
            "v4l2loopback-disabled",
            "/etc/modprobe.d has `install v4l2loopback /bin/true`: modprobe exits 0, loads nothing",
            "v4l2loopback",
            "test_v4l2loopback_install",
            observed="`modprobe v4l2loopback` exited 0 but v4l2loopback is not loaded",
        ),
        Fault(
            "secure-boot",
            "Secure Boot is on: the kernel refuses the DKMS-signed v4l2loopback",
            "v4l2loopback",
            "test_v4l2loopback_install",
            observed="Secure Boot is on",
        ),
        Fault(
            "deployed-node-rebooted",
            "a node deployed by hand (akri-docs) rebooted: the module and feeders are gone",
            "v4l2loopback",
            "test_v4l2loopback_loaded",
            observed="missing: videodev, v4l2loopback",
            args=("--install=never", "--twin-deployment=akri-docs"),
        ),
        Fault(
            "exclusive-caps-drift",
            "akri-docs node whose modprobe.d asks exclusive_caps=1,1; the module loaded is Y,N",
            "v4l2loopback",
            "test_exclusive_caps",
            observed="cam2 /dev/video2: exclusive_caps N, expected Y",
            args=("--install=never", "--twin-deployment=akri-docs"),
        ),
        Fault(
            "gstreamer-unmet-deps",
            "apt refuses gstreamer1.0-plugins-good (unmet dependencies, held broken packages)",
            "gstreamer",
            "test_gstreamer_install",
            observed="you have held broken packages",
        ),
        Fault(
            "no-jpegenc",
            "the jpeg plugin of gstreamer1.0-plugins-good does not load: no jpegenc element",
            "gstreamer",
            "test_gstreamer_elements",
            observed="GStreamer elements missing: jpegenc",
        ),
        Fault(
            "feeder-wrong-size",
            "akri-docs node whose last camera is fed at 320x240, not the broker's 640x480",
            "gstreamer",
            "test_cameras_fed",
            observed="video2=JPEG:320x240",
            args=("--install=never", "--twin-deployment=akri-docs"),
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
            # the install fails on the Configuration's kind first; the CRD check fails after it
            "test_akri_install",
            observed='no matches for kind "Configuration" in version "akri.sh/v0"',
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
            observed="cam2 /dev/video2: no Instance akri-udev-video-",
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
            "stale-component-image",
            "the Akri controller runs the frozen latest-dev image, not the chart's",
            "akri_control_plane",
            "test_akri_images_match_chart",
            observed="runs ghcr.io/project-akri/akri/controller:latest-dev",
        ),
        Fault(
            "capture-only-rule",
            "the udev rule was edited to ask for capture devices, which no mock camera is",
            "akri_control_plane",
            "test_akri_configuration",
            observed='ENV{ID_V4L_CAPABILITIES}==":capture:"',
        ),
        Fault(
            "broker-config-resource",
            "brokers ask for the Configuration-level resource, not their Instance's",
            "akri_instances",
            "test_broker_resources",
            observed="expected akri.sh/akri-udev-video-",
        ),
        Fault(
            "service-selector-mismatch",
            "the instance services' selector matches no broker: no endpoints",
            "akri_instances",
            "test_instance_services",
            observed="0 ready endpoint(s)",
        ),
        Fault(
            "crds-deleted",
            "the Akri CRDs were deleted by hand after the install; the release stays deployed",
            "akri_control_plane",
            "test_akri_crds",
            observed="configurations.akri.sh: 404",
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
        Fault(
            "microk8s-other-track",
            "MicroK8s 1.33/stable was installed before the run",
            "microk8s",
            "test_microk8s_running",
            observed="expected the snap to track 1.34/stable, it tracks 1.33/stable",
        ),
        Fault(
            "disk-pressure",
            "the kubelet reports DiskPressure (a small disk): Ready, but tainted",
            "microk8s",
            "test_node_ready",
            observed="DiskPressure=True (KubeletHasDiskPressure",
        ),
        Fault(
            "privileged-not-allowed",
            "the apiserver restarts without --allow-privileged=true",
            "microk8s",
            "test_apiserver_allows_privileged",
            observed="disallowed by cluster policy",
        ),
        Fault(
            "kubelet-dir-not-linked",
            "/var/lib/kubelet existed before MicroK8s, so it is not linked into the snap",
            "microk8s",
            "test_kubelet_directory",
            observed="it resolves to '/var/lib/kubelet'",
        ),
        Fault("slow-terminate", "a deleted pod stays Terminating for 25 s", None),
        *BEHAVIOUR_FAULTS,
    )
}
