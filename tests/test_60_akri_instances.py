"""Layer 6, Akri instances: for each camera its exact Instance, a Running broker, its service.

Every per-camera property is a case per camera (`[cam1]`, `[cam2]`, ... from --cameras), and a
failure names the camera as a person does (`cam2 /dev/video2`). The Instance of camera N on node
X is exactly `names.instance_name(N, X)` (docs/facts.md#instance-names), so its broker, its
service and its environment variable are known in advance. One module-wide wait per kind of object
(list + watch, to the --ready-timeout deadline) serves every camera's case; after a timeout each
case judges its own camera from a fresh list and quotes the wait's last observed state.
"""

import shlex

import pytest

from fixtures.install.session import node_name
from fixtures.kube.state import pod_log_tail, pod_ready, pod_summary
from fixtures.node import names
from fixtures.node.akri import (
    Seen,
    held_slots,
    service_problems,
    wait_for_brokers,
    wait_for_instances,
    wait_for_services,
)

pytestmark = [
    pytest.mark.akri,
    pytest.mark.akri_instances,
    pytest.mark.order(60),
    pytest.mark.prereq(
        "test_akri_components_ready", "test_akri_images_match_chart", "test_akri_configuration"
    ),
]


@pytest.fixture(scope="module")
def k8s_node(kube) -> str:
    """The node's name, as Kubernetes knows it."""
    return node_name(kube)


@pytest.fixture(scope="module")
def expected(settings, k8s_node) -> dict[int, str]:
    """Camera number -> the name of its Instance on this node."""
    return {n: names.instance_name(n, k8s_node) for n in range(1, settings.cameras + 1)}


@pytest.fixture(scope="module")
def instances(kube, settings, expected) -> Seen:
    """The Instances, once every camera has its exact one (or what is there at the deadline)."""
    return wait_for_instances(kube, expected, settings.ready_timeout)


def test_one_instance_per_camera(camera, instances, expected, k8s_node):
    """The camera's Instance is exactly <config>-<blake2b-3(devpath + node)>, with its fields.

    See docs/facts.md#instance-names and docs/facts.md#instance-fields.
    """
    node = k8s_node
    name, who = expected[camera.number], camera.title
    inst = instances.objects.get(name)
    assert inst is not None, (
        f"{who}: no Instance {name} (blake2b-3 of {camera.devpath} + node {node}, "
        f"see docs/facts.md#instance-names){instances.why()}"
    )
    spec, props = inst["spec"], inst["spec"].get("brokerProperties") or {}
    wanted = {
        "configurationName": names.CONFIGURATION,
        "cdiName": f"akri.sh/{names.CONFIGURATION}={name.rsplit('-', 1)[-1]}",
        "shared": False,  # the udev handler reports local devices
        "nodes": [node],
    }
    problems = [
        f"{k}={spec.get(k)!r}, expected {v!r}" for k, v in wanted.items() if spec.get(k) != v
    ]
    for key, value in (
        ("UDEV_DEVNODE", camera.device),
        ("UDEV_DEVPATH", camera.devpath),
    ):
        if props.get(key) != value:
            problems.append(f"brokerProperties {key}={props.get(key)!r}, expected {value!r}")
    assert not problems, (
        f"{who}: Instance {name} differs from docs/facts.md#instance-fields:\n  "
        + "\n  ".join(problems)
    )


@pytest.fixture(scope="module")
def brokers(kube, settings, expected) -> Seen:
    """Broker pods, once each camera's `<instance>-pod` is Running and ready."""
    return wait_for_brokers(kube, expected, settings.ready_timeout)


@pytest.mark.prereq("test_one_instance_per_camera")
def test_brokers_running(camera, brokers, expected, k8s_node, kube):
    """The camera's broker `<instance>-pod` is Running and ready, labelled as Akri labels it.

    See docs/facts.md#broker-pods.
    """
    instance, who = expected[camera.number], camera.title
    name = names.broker_pod(instance)
    pod = brokers.objects.get(name)
    assert pod is not None, f"{who}: no broker pod {name} ({names.BROKER_SELECTOR}){brokers.why()}"
    assert pod_ready(pod), (
        f"{who}: broker {name} is not ready: {pod_summary(pod)}\nbroker logs:\n"
        f"{pod_log_tail(kube, pod)}{brokers.why()}"
    )
    labels = pod.metadata.labels or {}
    wanted = {
        "app": name,
        "controller": "akri.sh",
        "akri.sh/configuration": names.CONFIGURATION,
        "akri.sh/instance": instance,
        "akri.sh/target-node": k8s_node,
    }
    wrong = {k: labels.get(k) for k, v in wanted.items() if labels.get(k) != v}
    assert not wrong, (
        f"{who}: broker {name} labels {wrong}, expected {wanted} (docs/facts.md#broker-pods)"
    )


@pytest.mark.prereq("test_brokers_running")
def test_broker_resources(camera, brokers, expected, k8s_node, kube, settings):
    """The broker claims its Instance's device-plugin resource; the node offers it, the agent
    records the claim in deviceUsage (docs/facts.md#device-plugin-resources,
    docs/facts.md#instance-fields)."""
    node = k8s_node
    instance, who = expected[camera.number], camera.title
    resource = f"akri.sh/{instance}"
    pod = brokers.objects[names.broker_pod(instance)]
    container = pod.spec.containers[0]
    problems = []
    for part in ("requests", "limits"):
        amounts = getattr(container.resources, part) or {}
        if str(amounts.get(resource)) != "1":
            problems.append(f"{part} {amounts}, expected {resource}: 1")
    allocatable = kube.call(kube.core.read_node, node).status.allocatable or {}
    if resource not in allocatable:
        akri = {k: v for k, v in allocatable.items() if k.startswith("akri.sh/")}
        problems.append(
            f"node {node} does not offer {resource}: {akri} (see "
            "docs/facts.md#device-plugin-resources and docs/facts.md#kubelet-directory)"
        )
    usage = held_slots(kube, instance, node, min(settings.ready_timeout, 30))
    if node not in usage.values():
        problems.append(
            f"Instance {instance} deviceUsage {usage}: no slot maps to {node} (the claim of "
            "its own broker; `C:<vdev>:<node>` is a Configuration-level claim, see "
            "docs/facts.md#instance-fields)"
        )
    assert not problems, f"{who}: broker {pod.metadata.name}:\n  " + "\n  ".join(problems)


@pytest.mark.prereq("test_brokers_running")
def test_broker_env(camera, expected, host):
    """The broker sees UDEV_DEVNODE_<HASH> (upper case) = its camera.

    See docs/facts.md#broker-environment. Read with the image's own `sh` (it has no printenv,
    docs/facts.md#broker-image-userland).
    """
    instance, who = expected[camera.number], camera.title
    variable = f"UDEV_DEVNODE_{instance.rsplit('-', 1)[-1].upper()}"
    pod = names.broker_pod(instance)
    script = shlex.quote(f'echo "${variable}"')
    result = host.run(
        f"microk8s kubectl exec -n {names.NAMESPACE} {pod} -- sh -c {script}", sudo=True, timeout=60
    )
    value = result.stdout.strip()
    assert result.exited == 0 and value == camera.device, (
        f"{who}: broker {pod}: {variable}={value!r}, expected {camera.device!r} "
        f"(`kubectl exec ... sh -c` exit {result.exited}: {result.stderr.strip()[-300:]!r}); "
        "the agent injects it on Allocate (docs/facts.md#broker-environment)"
    )


@pytest.fixture(scope="module")
def instance_services(kube, settings, expected) -> Seen:
    """Each camera's `<instance>-svc` with a ready endpoint (the Endpoints are watched)."""
    wanted = {names.instance_service(name): 1 for name in expected.values()}
    return wait_for_services(
        kube, wanted, "each camera's instance service ready", settings.ready_timeout
    )


# a broker on another camera's device would put that camera behind this service
@pytest.mark.prereq("test_broker_resources", "test_broker_env")
def test_instance_services(camera, instance_services, expected):
    """The camera's `<instance>-svc`, labelled akri.sh/instance, with a ready endpoint.

    See docs/facts.md#akri-services.
    """
    instance = expected[camera.number]
    name = names.instance_service(instance)
    problems = service_problems(
        instance_services, name, "akri.sh/instance", instance, 1, absent="akri.sh/configuration"
    )
    assert not problems, f"{camera.title}: " + "\n  ".join(problems) + instance_services.why()


# a broker on another camera's device would put that camera behind this service
@pytest.mark.prereq("test_broker_resources", "test_broker_env")
def test_configuration_service(kube, settings, expected):
    """`akri-udev-video-svc`: port grpc 80 -> 8083, every camera's broker behind it.

    See docs/facts.md#akri-services.
    """
    name = names.CONFIGURATION_SERVICE
    seen = wait_for_services(
        kube,
        {name: len(expected)},
        "configuration service with every broker",
        settings.ready_timeout,
    )
    problems = service_problems(
        seen, name, "akri.sh/configuration", names.CONFIGURATION, len(expected)
    )
    if name in seen.objects:
        ports = {
            p.name: (p.port, str(p.target_port)) for p in seen.objects[name][0].spec.ports or []
        }
        if ports.get("grpc") != (80, "8083"):
            problems.append(f"{name}: ports {ports}, expected grpc 80->8083")
    assert not problems, "\n".join(problems) + seen.why()
