"""Layer 5, Akri control plane: the chart, its CRDs, its components and the Configuration."""

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from fixtures.install.probes import assert_installed
from fixtures.kube.state import live_pods, pod_ready, pods_summary
from fixtures.kube.waits import wait_for
from fixtures.node import names

pytestmark = [
    pytest.mark.akri,
    pytest.mark.akri_control_plane,
    pytest.mark.order(50),
    pytest.mark.prereq(
        "test_node_ready",
        "test_microk8s_addons",
        "test_apiserver_allows_privileged",
        "test_kubelet_directory",
    ),
]


@pytest.fixture(scope="module")
def layer(installed):
    return installed("akri_control_plane")


def test_akri_install(layer, settings, versions):
    """The Helm repo and the pinned chart, installed with today's values.

    See docs/facts.md#akri-charts and docs/facts.md#helm-values.
    """
    versions["akri_chart"] = f"{settings.akri_chart}-{settings.akri_version}"
    versions["broker_image"] = settings.broker_image
    assert_installed(layer, "akri_control_plane", settings.install)


def test_akri_crds(kube, layer):
    """configurations.akri.sh and instances.akri.sh are established and serve v0."""
    problems = []
    for crd_name in names.CRDS:
        try:
            crd = kube.call(kube.apiext.read_custom_resource_definition, crd_name)
        except ApiException as exc:
            problems.append(f"{crd_name}: {exc.status} {exc.reason}")
            continue
        served = [v.name for v in crd.spec.versions if v.served]
        established = any(
            c.type == "Established" and c.status == "True" for c in (crd.status.conditions or [])
        )
        if names.AKRI_VERSION not in served or not established:
            problems.append(f"{crd_name}: served {served}, established={established}")
    assert not problems, (
        "expected the Akri CRDs, established and serving v0:\n  "
        + "\n  ".join(problems)
        + "\n(the chart ships them in crds/ and `helm uninstall` keeps them, see "
        "docs/facts.md#helm-cleanup-hook: check the install output, and whether someone ran "
        "`kubectl delete crd` since)"
    )


@pytest.mark.prereq("test_akri_install")
def test_akri_components_ready(kube, settings, versions):
    """Agent, controller, udev discovery handler and webhook each have a Running, ready pod."""
    missing: dict[names.Component, str] = {}
    for component in names.COMPONENTS:
        try:
            pods, _ = wait_for(
                kube,
                kube.core.list_namespaced_pod,
                namespace=names.NAMESPACE,
                label_selector=component.selector,
                condition=lambda ps: any(pod_ready(p) for p in ps),
                describe=pods_summary,
                what=f"Akri {component.title} ready",
                timeout=settings.ready_timeout,
            )
        except AssertionError as exc:
            missing[component] = str(exc)
            continue
        image = next(p for p in pods if pod_ready(p)).spec.containers[0].image
        versions[f"akri_{component.title.replace(' ', '_')}_image"] = image
    assert not missing, "Akri components not ready:\n" + "\n".join(
        f"- {c.title} ({c.selector}): {why}" for c, why in missing.items()
    )


@pytest.mark.prereq("test_akri_components_ready")
def test_akri_images_match_chart(kube, settings):
    """Each component runs the image its chart renders, not a frozen latest-dev.

    See docs/facts.md#component-images.
    """
    chart = f"{settings.akri_chart}-{settings.akri_version}"
    listed = kube.call(
        kube.core.list_namespaced_pod, names.NAMESPACE, label_selector=names.CHART_PODS
    ).items
    # pods being deleted are not the release's (docs/facts.md#graceful-deletion)
    pods = live_pods(listed)
    problems, seen = [], []
    for component in names.COMPONENTS:
        expected = component.image_ref(settings.akri_chart, settings.akri_version)
        mine = [p for p in pods if component.matches(p.metadata.labels)]
        if not mine:
            problems.append(f"{component.title}: no pod matches {component.selector}")
        for pod in mine:
            labels = pod.metadata.labels or {}
            seen.append(f"{pod.metadata.name} ({labels.get('helm.sh/chart', 'no helm.sh/chart')})")
            problems += [
                f"{component.title} {pod.metadata.name}: runs {c.image}, the chart renders "
                f"{expected}"
                for c in pod.spec.containers
                if c.image != expected
            ]
    assert not problems, (
        f"expected every Akri component of release {names.RELEASE} on the images chart {chart} "
        "renders (v<version>, -dev for akri-dev; see docs/facts.md#akri-charts and "
        "docs/facts.md#component-images):\n  "
        + "\n  ".join(problems)
        + f"\nrelease pods: {', '.join(seen) or 'none'}"
        + "\n(a latest-dev tag is frozen since Oct 2023; see `kubectl get ds,deploy -o wide`)"
    )


@pytest.mark.prereq("test_akri_crds")
def test_akri_configuration(kube, settings):
    """The udev Configuration exists with the rule, the broker image and the services asked for."""
    config = kube.get_custom("configurations", names.CONFIGURATION, names.NAMESPACE)
    assert config is not None, (
        f"no Configuration {names.CONFIGURATION} in {names.NAMESPACE} (`kubectl get akric`): the "
        "chart creates it only with udev.configuration.enabled=true, and pre-0.6 value names "
        "(udev.enabled, udev.name, udev.udevRules) are silently ignored (see "
        "docs/facts.md#helm-values)"
    )
    spec = config.get("spec") or {}
    handler = spec.get("discoveryHandler") or {}
    try:
        details = yaml.safe_load(handler.get("discoveryDetails") or "") or {}
    except yaml.YAMLError as exc:
        details = {"unreadable": str(exc)}
    rules = details.get("udevRules") if isinstance(details, dict) else details
    problems = []
    if handler.get("name") != "udev":
        problems.append(f"discovery handler {handler.get('name')!r}, expected 'udev'")
    if rules != [names.UDEV_RULE]:
        problems.append(f"udevRules {rules!r}, expected [{names.UDEV_RULE!r}]")
    pod_spec = (spec.get("brokerSpec") or {}).get("brokerPodSpec") or {}
    images = [c.get("image") for c in pod_spec.get("containers") or []]
    if images != [settings.broker_image]:
        problems.append(
            f"broker images {images}, expected [{settings.broker_image}] (no brokerSpec: no "
            "udev.configuration.brokerPod.image.repository value)"
        )
    for key in ("instanceServiceSpec", "configurationServiceSpec"):
        ports = [(p.get("name"), p.get("port")) for p in (spec.get(key) or {}).get("ports") or []]
        if ports != [("grpc", 80)]:
            problems.append(
                f"{key} ports {ports}, expected [('grpc', 80)] (docs/facts.md#akri-services)"
            )
    assert not problems, (
        f"Configuration {names.CONFIGURATION} differs from what the suite's Helm values ask for:"
        "\n  "
        + "\n  ".join(problems)
        + "\n(`kubectl get akric -o yaml`; see docs/facts.md#helm-values and "
        "docs/facts.md#udev-capabilities)"
    )
