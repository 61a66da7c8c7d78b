"""Shared by the twin's Helm and chart self-tests: the docs' and the 2020 script's values and an
install helper (the `store` and `helm` fixtures are in this folder's conftest)."""

from __future__ import annotations

from twin.helm.cli import Helm

REPO = "https://project-akri.github.io/akri/"
RULE = 'KERNEL=="video[0-9]*"'
BROKER = "ghcr.io/project-akri/akri/udev-video-broker"
DOCS_VALUES = [
    "--set", "udev.discovery.enabled=true",
    "--set", "udev.configuration.enabled=true",
    "--set", "udev.configuration.name=akri-udev-video",
    "--set", f"udev.configuration.discoveryDetails.udevRules[0]={RULE}",
    "--set", f"udev.configuration.brokerPod.image.repository={BROKER}",
]  # fmt: skip
OLD_2020_VALUES = [
    "--set", "useLatestContainers=true", "--set", "kubernetesDistro=microk8s",
    "--set", "agent.host.crictl=/usr/local/bin/crictl", "--set", "udev.enabled=true",
    "--set", "udev.name=akri-udev-video", "--set", f"udev.udevRules[0]={RULE}",
    "--set", "udev.brokerPod.image.repository=ghcr.io/deislabs/akri/udev-video-broker:latest-dev",
]  # fmt: skip


def install(helm: Helm, *extra: str, chart: str = "akri-dev", version: str = "0.13.26"):
    argv = ["install", "akri", f"akri-helm-charts/{chart}", "--version", version, *extra]
    return helm.run(argv)
