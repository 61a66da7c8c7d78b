"""Layer 6, Akri instances: for each camera its exact Instance, a Running broker, its service.

Every per-camera property is a case per camera (`[cam1]`, `[cam2]`, ... from --cameras), and a
failure names the camera as a person does (`cam2 /dev/video2`). The Instance of camera N on node
X is exactly `names.instance_name(N, X)` (docs/facts.md#instance-names), so its broker, its
service and its environment variable are known in advance. One module-wide wait per kind of object
(list + watch, to the --ready-timeout deadline) serves every camera's case; after a timeout each
case judges its own camera from a fresh list and quotes the wait's last observed state.
"""

import pytest

from fixtures.node.akri import AkriNode
from fixtures.node.brokers import BrokerPods, Brokers
from fixtures.node.instances import InstanceList, Instances
from fixtures.node.services import ServiceList, Services

pytestmark = [
    pytest.mark.akri,
    pytest.mark.akri_instances,
    pytest.mark.order(60),
    pytest.mark.prereq(
        "test_akri_components_ready", "test_akri_images_match_chart", "test_akri_configuration"
    ),
]


@pytest.fixture(scope="module")
def akri(kube, spec) -> AkriNode:
    """The node as Kubernetes names it, and the cameras whose objects it should hold."""
    return AkriNode.of(kube, spec)


@pytest.fixture(scope="module")
def instances(akri, settings) -> InstanceList:
    """The Instances, once every camera has its exact one (or what is there at the deadline)."""
    return Instances(akri).wait_until_instances(settings.ready_timeout)


def test_one_instance_per_camera(camera, instances):
    """The camera's Instance is exactly <config>-<blake2b-3(devpath + node)>, with its fields.

    See docs/facts.md#instance-names and docs/facts.md#instance-fields.
    """
    problem = instances.problem(camera)
    assert not problem, problem


@pytest.fixture(scope="module")
def brokers(akri, settings) -> BrokerPods:
    """Broker pods, once each camera's `<instance>-pod` is Running and ready."""
    return Brokers(akri).wait_until_brokers_running(settings.ready_timeout)


@pytest.mark.prereq("test_one_instance_per_camera")
def test_brokers_running(camera, brokers):
    """The camera's broker `<instance>-pod` is Running and ready, labelled as Akri labels it.

    See docs/facts.md#broker-pods.
    """
    problem = brokers.problem(camera)
    assert not problem, problem


@pytest.mark.prereq("test_brokers_running")
def test_broker_resources(camera, brokers, settings):
    """The broker claims its Instance's device-plugin resource; the node offers it, the agent
    records the claim in deviceUsage (docs/facts.md#device-plugin-resources,
    docs/facts.md#instance-fields)."""
    problems = brokers.resource_problems(camera, settings.ready_timeout)
    assert not problems, f"{camera.title}: broker {brokers.pod(camera).metadata.name}:\n  " + (
        "\n  ".join(problems)
    )


@pytest.mark.prereq("test_brokers_running")
def test_broker_env(camera, akri, host):
    """The broker sees UDEV_DEVNODE_<HASH> (upper case) = its camera.

    See docs/facts.md#broker-environment.
    """
    problem = Brokers(akri).environment_problem(host, camera)
    assert not problem, problem


@pytest.fixture(scope="module")
def instance_services(akri, settings) -> ServiceList:
    """Each camera's `<instance>-svc` with a ready endpoint (the Endpoints are watched)."""
    return Services(akri).wait_until_instance_services_ready(settings.ready_timeout)


# a broker on another camera's device would put that camera behind this service
@pytest.mark.prereq("test_broker_resources", "test_broker_env")
def test_instance_services(camera, instance_services):
    """The camera's `<instance>-svc`, labelled akri.sh/instance, with a ready endpoint.

    See docs/facts.md#akri-services.
    """
    problems = instance_services.instance_service_problems(camera)
    assert not problems, f"{camera.title}: " + "\n  ".join(problems) + instance_services.why()


# a broker on another camera's device would put that camera behind this service
@pytest.mark.prereq("test_broker_resources", "test_broker_env")
def test_configuration_service(akri, settings):
    """`akri-udev-video-svc`: port grpc 80 -> 8083, every camera's broker behind it.

    See docs/facts.md#akri-services.
    """
    seen = Services(akri).wait_until_configuration_service_ready(settings.ready_timeout)
    problems = seen.configuration_service_problems()
    assert not problems, "\n".join(problems) + seen.why()
