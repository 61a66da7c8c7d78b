"""A twin that starts as a node deployed by hand, the way the Akri documentation deploys it.

`--twin-deployment akri-docs` runs the documented commands, in the documented order, through
the node's own shell (`twin.shell`, what an SSH session runs), so they take the same code
paths as a user's: packages with apt-get (docs/facts.md#v4l2loopback-minimum-version,
docs/facts.md#videodev-module, docs/facts.md#feeder-pipeline), the module loaded by hand with the
demo's `modprobe` line and not persisted (`exclusive_caps=1` covers /dev/video1 only, so it
loads Y,N: docs/facts.md#exclusive-caps-per-device), feeders as background
`sudo gst-launch-1.0 ... &` with the demo's `avenc_mjpeg` pipelines
(docs/facts.md#feeder-pipeline), MicroK8s as Akri's CI installs it
(docs/facts.md#microk8s-install), Akri with the documented `helm install` values
(docs/facts.md#helm-values) and the streaming app from the manifest
(docs/facts.md#streaming-app-manifest).

Where the documentation leaves a choice to the reader, or names something the suite refuses,
the deployment uses the suite's settings, so that `--install never` verifies what was deployed:
the camera count (`video_nr=1..N`), the MicroK8s channel, the chart and its pinned version (the
docs' unpinned `akri` chart and `latest` broker tag are refused by the suite,
docs/facts.md#akri-charts and docs/facts.md#sample-images), the broker
and app images. It also installs `v4l-utils`, which the suite's checks use (whether the docs
install it is not in the facts). A command that fails is logged and the deployment goes on, as
it would for a person at a terminal: the node is then deployed, but broken.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

DEPLOYMENTS = ("none", "akri-docs")
REPO = Path(__file__).resolve().parent.parent
MANIFEST = REPO / "fixtures" / "install" / "manifests" / "akri-video-streaming-app.yaml"
SHELL = Path(__file__).resolve().parent / "shell.py"
CAPS = "video/x-raw,width=640,height=480,framerate=10/1"
PATTERNS = ("ball", "smpte", "snow", "pinwheel", "gamut", "circular", "spokes", "checkers-8")
DEPLOY_DEADLINE = 120.0


@dataclass(frozen=True)
class DeploymentSpec:
    """What the person deploying chose (the twin gets it from the suite's settings)."""

    cameras: int = 2
    channel: str = "1.34/stable"
    chart: str = "akri-dev"
    version: str = "0.13.26"
    broker_image: str = "ghcr.io/project-akri/examples/udev-video-broker:v0.13.21-dev"
    app_image: str = "ghcr.io/project-akri/examples/video-streaming-app:v0.13.21-dev"


def feeder_line(number: int, caps: str = CAPS) -> str:
    """The demo's feeder for /dev/videoN, backgrounded with its log.

    See docs/facts.md#feeder-pipeline.
    """
    pattern = PATTERNS[(number - 1) % len(PATTERNS)]
    motion = "" if pattern == "ball" else " horizontal-speed=1"
    return (
        f"sudo gst-launch-1.0 -v videotestsrc pattern={pattern}{motion} ! {shlex.quote(caps)} "
        f"! avenc_mjpeg ! v4l2sink device=/dev/video{number} "
        f"> camera-logs/{pattern}.log 2>&1 &"
    )


def akri_docs_commands(spec: DeploymentSpec, faults: frozenset[str]) -> list[str]:
    """The commands a person types, one a line."""
    numbers = list(range(1, spec.cameras + 1))
    repository, _, tag = spec.broker_image.rpartition(":")
    values = {
        "udev.discovery.enabled": "true",
        "udev.configuration.enabled": "true",
        "udev.configuration.name": "akri-udev-video",
        "udev.configuration.discoveryDetails.udevRules[0]": 'KERNEL=="video[0-9]*"',
        "udev.configuration.brokerPod.image.repository": repository,
        "udev.configuration.brokerPod.image.tag": tag,
    }
    sets = " ".join(f"--set {shlex.quote(f'{k}={v}')}" for k, v in values.items())
    manifest = MANIFEST.read_text().replace("${STREAMING_APP_IMAGE}", spec.app_image)
    feeders = []
    for n in numbers:
        # the `feeder-wrong-size` fault: one camera fed at another size than the broker asks
        small = "feeder-wrong-size" in faults and n == spec.cameras
        feeders.append(
            feeder_line(n, CAPS.replace("640", "320").replace("480", "240") if small else CAPS)
        )
    persisted = []
    if "exclusive-caps-drift" in faults:
        # the operator persisted exclusive_caps for every camera, but the module running is
        # still the one loaded by hand with the docs' line (parameters change only on reload)
        options = f"options v4l2loopback exclusive_caps={','.join('1' for _ in numbers)}"
        conf = "/etc/modprobe.d/cameras.conf"
        persisted.append(f"mkdir -p /etc/modprobe.d; echo {shlex.quote(options)} > {conf}")
    return [
        "apt-get update",
        'apt-get install -y "linux-modules-extra-$(uname -r)"',
        "apt-get install -y v4l2loopback-dkms v4l-utils",
        "apt-get install -y libgstreamer1.0-0 gstreamer1.0-tools gstreamer1.0-plugins-base "
        "gstreamer1.0-plugins-good gstreamer1.0-libav",
        f"modprobe v4l2loopback exclusive_caps=1 video_nr={','.join(map(str, numbers))}",
        *persisted,
        "mkdir -p camera-logs",
        *feeders,
        f"snap install microk8s --classic --channel={spec.channel}",
        "microk8s status --wait-ready",
        'usermod -a -G microk8s "$USER"',
        "microk8s enable rbac dns",
        # enabling rbac restarts the apiserver and returns at once; Akri's CI waits for it
        # again before it goes on (docs/facts.md#microk8s-restarts)
        "microk8s status --wait-ready",
        "microk8s helm3 repo add akri-helm-charts https://project-akri.github.io/akri/",
        f"microk8s helm3 install akri akri-helm-charts/{spec.chart} "
        f"--version {spec.version} {sets}",
        f"microk8s kubectl apply -f - <<'MANIFEST'\n{manifest.rstrip()}\nMANIFEST",
    ]


def deploy(state_dir: Path, spec: DeploymentSpec, faults: frozenset[str]) -> str:
    """Run the commands through the node's shell, as an SSH session would; return its log."""
    script = "\n".join(
        f"echo {shlex.quote('$ ' + c.splitlines()[0])}\n{c}"
        for c in akri_docs_commands(spec, faults)
    )
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "TWIN_STATE": str(state_dir),
        "HOME": str(state_dir / "home"),
        "USER": os.environ.get("USER", "root"),
        "SSH_ORIGINAL_COMMAND": script,
    }
    try:
        result = subprocess.run(
            [
                "/usr/bin/unshare",
                "--mount",
                "--propagation",
                "private",
                "/usr/bin/python3",
                "-IS",
                str(SHELL),
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=DEPLOY_DEADLINE,
        )
    except subprocess.TimeoutExpired as exc:
        out = f"{exc.stdout or ''}{exc.stderr or ''}"
        return f"{out}\nthe deployment ran out of its {DEPLOY_DEADLINE:.0f}s\n"
    return result.stdout + result.stderr
