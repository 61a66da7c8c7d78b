"""Self-tests of the Akri chart as the twin's `helm` renders it: objects, labels, images, CRDs.

Hermetic: an in-memory ObjectStore, no cluster. The expectations come from docs/facts.md's Akri
sections and the chart templates at akri 604bdcb6 (`deployment/helm/templates`).
"""

from __future__ import annotations

import json

import pytest
import yaml

from selftests.twin.helm_support import (
    DOCS_VALUES,
    OLD_2020_VALUES,
    RULE,
    install,
)


def test_docs_install_creates_the_facts_objects(helm, store):
    code, out, err = install(helm, *DOCS_VALUES)
    assert (code, err) == (0, "")
    assert "STATUS: deployed\nREVISION: 1\n" in out
    agent = store.get("DaemonSet", "default", "akri-agent-daemonset")
    labels = agent["metadata"]["labels"]
    assert labels["app.kubernetes.io/part-of"] == "akri-dev", (
        "the chart's own name (docs/facts.md#chart-labels)"
    )
    assert labels["helm.sh/chart"] == "akri-dev-0.13.26"
    assert labels["app.kubernetes.io/instance"] == "akri"
    assert labels["app.kubernetes.io/managed-by"] == "Helm"
    assert labels["app.kubernetes.io/component"] == "agent"
    pod = agent["spec"]["template"]
    assert pod["metadata"]["labels"]["app.kubernetes.io/name"] == "akri-agent"
    container = pod["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/project-akri/akri/agent:v0.13.26-dev"
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert "/var/lib/kubelet/pod-resources" in mounts
    controller = store.get("Deployment", "default", "akri-controller-deployment")
    assert controller["spec"]["replicas"] == 1
    assert controller["metadata"]["labels"]["app.kubernetes.io/component"] == "controller"
    dh = store.get("DaemonSet", "default", "akri-udev-discovery-daemonset")
    dh_labels = dh["spec"]["template"]["metadata"]["labels"]
    assert dh_labels["app.kubernetes.io/component"] == "discovery-handler"
    for kind in ("Deployment", "Service"):
        assert store.get(kind, "default", "akri-webhook-configuration") is not None
    vwc = store.get("ValidatingWebhookConfiguration", None, "akri-webhook-configuration")
    assert vwc["webhooks"][0]["clientConfig"]["service"]["path"] == "/validate"
    assert store.get("ServiceAccount", "default", "akri-agent-sa") is not None
    assert store.get("ClusterRole", None, "akri-controller-role") is not None


@pytest.mark.parametrize(("chart", "version"), [("akri-dev", "0.13.26"), ("akri", "0.13.8")])
def test_part_of_is_the_charts_own_name(helm, store, chart, version):
    """`_helpers.tpl`: part-of = .Chart.Name, so `part-of=akri` finds no akri-dev pod (2.3)."""
    assert install(helm, *DOCS_VALUES, chart=chart, version=version)[0] == 0
    for kind, name in (
        ("DaemonSet", "akri-agent-daemonset"),
        ("Deployment", "akri-controller-deployment"),
        ("DaemonSet", "akri-udev-discovery-daemonset"),
        ("Deployment", "akri-webhook-configuration"),
    ):
        workload = store.get(kind, "default", name)
        for labels in (
            workload["metadata"]["labels"],
            workload["spec"]["template"]["metadata"]["labels"],
            workload["spec"]["selector"]["matchLabels"],
        ):
            assert labels["app.kubernetes.io/part-of"] == chart, (name, labels)
            assert labels["app.kubernetes.io/instance"] == "akri", (name, labels)
        assert workload["metadata"]["labels"]["helm.sh/chart"] == f"{chart}-{version}"


def test_docs_install_creates_the_udev_configuration(helm, store):
    install(helm, *DOCS_VALUES)
    config = store.get("Configuration", "default", "akri-udev-video")
    spec = config["spec"]
    assert spec["discoveryHandler"]["name"] == "udev"
    details = yaml.safe_load(spec["discoveryHandler"]["discoveryDetails"])
    assert details == {"udevRules": [RULE], "groupRecursive": False, "permissions": "rwm"}
    (broker,) = spec["brokerSpec"]["brokerPodSpec"]["containers"]
    assert broker["name"] == "akri-udev-video-broker"
    assert broker["image"] == "ghcr.io/project-akri/akri/udev-video-broker:latest"
    assert broker["securityContext"] == {"privileged": True}
    assert broker["resources"]["limits"] == {"{{PLACEHOLDER}}": "1", "memory": "30Mi", "cpu": "29m"}
    assert broker["resources"]["requests"]["{{PLACEHOLDER}}"] == "1"
    port = {"name": "grpc", "port": 80, "protocol": "TCP", "targetPort": 8083}
    for key in ("instanceServiceSpec", "configurationServiceSpec"):
        assert spec[key] == {"type": "ClusterIP", "ports": [port]}
    assert spec["capacity"] == 1
    assert spec["brokerProperties"] == {}


@pytest.mark.parametrize(
    ("chart", "version", "category"), [("akri-dev", "0.13.26", True), ("akri", "0.13.8", False)]
)
def test_crds_serve_only_v0_and_are_established(helm, store, chart, version, category):
    install(helm, *DOCS_VALUES, chart=chart, version=version)
    for name, short in (("configurations.akri.sh", "akric"), ("instances.akri.sh", "akrii")):
        crd = store.get("CustomResourceDefinition", None, name)
        (v0,) = crd["spec"]["versions"]
        assert (v0["name"], v0["served"], v0["storage"]) == ("v0", True, True)
        assert crd["spec"]["names"]["shortNames"] == [short]
        assert ("all" in crd["spec"]["names"].get("categories", [])) is category
        assert crd["status"]["storedVersions"] == ["v0"]
        assert crd["status"]["acceptedNames"]["kind"] == crd["spec"]["names"]["kind"]
        established = [c for c in crd["status"]["conditions"] if c["type"] == "Established"]
        assert established[0]["status"] == "True"
        assert [c["name"] for c in v0["additionalPrinterColumns"]][-1] == "Age"
    instance = store.get("CustomResourceDefinition", None, "instances.akri.sh")
    schema = instance["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert set(schema["required"]) == {"capacity", "cdiName", "configurationName"}


@pytest.mark.parametrize(
    ("chart", "version", "extra", "tag"),
    [
        ("akri", "0.13.8", [], "v0.13.8"),
        ("akri-dev", "0.13.26", ["--set", "useLatestContainers=true"], "latest-dev"),
        ("akri", "0.13.8", ["--set", "useLatestContainers=true"], "latest"),
        ("akri-dev", "0.13.26", ["--set", "controller.image.tag=v0.13.20-dev"], "v0.13.20-dev"),
    ],
)
def test_image_tags_follow_the_chart_and_values(helm, store, chart, version, extra, tag):
    assert install(helm, *extra, chart=chart, version=version)[0] == 0
    controller = store.get("Deployment", "default", "akri-controller-deployment")
    image = controller["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"ghcr.io/project-akri/akri/controller:{tag}"


def test_2020_values_are_ignored_and_create_no_configuration(helm, store):
    code, _, err = install(helm, *OLD_2020_VALUES)
    assert (code, err) == (0, "")
    assert store.list("Configuration")[0] == []
    assert store.get("DaemonSet", "default", "akri-udev-discovery-daemonset") is None
    agent = store.get("DaemonSet", "default", "akri-agent-daemonset")
    assert agent["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":latest-dev")


def test_configuration_without_a_rule_fails_like_the_chart(helm, store):
    code, _, err = install(helm, "--set", "udev.configuration.enabled=true")
    assert code == 1
    assert err.startswith(
        "Error: INSTALLATION FAILED: execution error at "
        "(akri-dev/templates/udev-configuration.yaml:12:10): Please set at least one udev rule"
    )
    assert json.loads(helm.run(["list", "-o", "json"])[1]) == []
    assert store.get("DaemonSet", "default", "akri-agent-daemonset") is None


def test_values_file_from_stdin(helm, store):
    text = "udev:\n  configuration:\n    enabled: true\n    name: cams\n"
    text += f"    discoveryDetails:\n      udevRules: ['{RULE}']\n"
    assert (
        helm.run(["install", "akri", "akri-helm-charts/akri-dev", "-f", "-"], text.encode())[0] == 0
    )
    assert store.get("Configuration", "default", "cams") is not None
