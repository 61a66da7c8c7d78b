"""Layer 6, Akri instances: one Instance per camera, a Running broker each, their services."""

import pytest

from fixtures import names
from fixtures.kstate import (
    custom_name,
    pod_log_tail,
    pod_ready,
    pods_summary,
    ready_addresses,
    service_summary,
)
from fixtures.kwaits import WaitTimeout, wait_for
from fixtures.session import node_name

pytestmark = [
    pytest.mark.akri,
    pytest.mark.akri_instances,
    pytest.mark.order(60),
    pytest.mark.prereq("test_akri_components_ready", "test_akri_configuration"),
]


def _devnode(instance: dict) -> str:
    return instance.get("spec", {}).get("brokerProperties", {}).get("UDEV_DEVNODE", "?")


def _describe_instances(items: list[dict]) -> str:
    return ", ".join(f"{custom_name(i)} ({_devnode(i)})" for i in items) or "no Instances"


@pytest.fixture(scope="module")
def instances(kube, settings):
    """The Instances once there is one per camera (or the WaitTimeout saying what was seen)."""
    wanted = {names.devnode(n) for n in range(1, settings.cameras + 1)}

    def complete(items):
        ours = [i for i in items if i["spec"].get("configurationName") == names.CONFIGURATION]
        return len(ours) == len(wanted) and {_devnode(i) for i in ours} == wanted

    try:
        items, _stats = wait_for(
            kube,
            kube.custom_lister("instances"),
            namespace=names.NAMESPACE,
            condition=complete,
            describe=_describe_instances,
            what=f"one Instance per camera ({len(wanted)})",
            timeout=settings.ready_timeout,
        )
    except WaitTimeout as exc:
        return exc
    return [i for i in items if i["spec"].get("configurationName") == names.CONFIGURATION]


def test_one_instance_per_camera(instances, kube, settings):
    """Exactly one Instance per camera, with the fields the udev discovery handler sets."""
    if isinstance(instances, Exception):
        raise instances
    node = node_name(kube)
    problems = []
    for inst in instances:
        name, spec = custom_name(inst), inst["spec"]
        match = names.INSTANCE_NAME.match(name)
        if not match:
            problems.append(f"{name}: name is not {names.CONFIGURATION}-<6 hex>")
            continue
        if spec.get("shared") is not False:
            problems.append(f"{name}: shared={spec.get('shared')}, udev devices are local")
        if spec.get("nodes") != [node]:
            problems.append(f"{name}: nodes={spec.get('nodes')}, expected [{node}]")
        if spec.get("cdiName") != f"akri.sh/{names.CONFIGURATION}={match.group(1)}":
            problems.append(f"{name}: cdiName={spec.get('cdiName')}")
        devpath = spec.get("brokerProperties", {}).get("UDEV_DEVPATH", "")
        if not devpath.endswith("/" + _devnode(inst).rsplit("/", 1)[-1]):
            problems.append(f"{name}: UDEV_DEVPATH={devpath!r} does not match {_devnode(inst)}")
    assert not problems, "Instance fields differ from akri-facts 2.2:\n  " + "\n  ".join(problems)


@pytest.fixture(scope="module")
def brokers(kube, settings, instances):
    wanted = {names.broker_pod(custom_name(i)) for i in instances}
    try:
        pods, _ = wait_for(
            kube,
            kube.core.list_namespaced_pod,
            namespace=names.NAMESPACE,
            label_selector=names.BROKER_SELECTOR,
            condition=lambda ps: {p.metadata.name for p in ps if pod_ready(p)} >= wanted,
            describe=pods_summary,
            what=f"{len(wanted)} broker pods ready",
            timeout=settings.ready_timeout,
        )
    except WaitTimeout as exc:
        pods = kube.call(
            kube.core.list_namespaced_pod, names.NAMESPACE, label_selector=names.BROKER_SELECTOR
        ).items
        logs = "\n".join(pod_log_tail(kube, p) for p in pods if not pod_ready(p))
        return AssertionError(f"{exc}\nbroker logs:\n{logs}")
    return {p.metadata.name: p for p in pods if p.metadata.name in wanted}


@pytest.mark.prereq("test_one_instance_per_camera")
def test_brokers_running(brokers, instances):
    """One Running, ready broker pod per Instance, named and labelled as the controller does."""
    if isinstance(brokers, Exception):
        raise brokers
    problems = []
    for inst in instances:
        name = custom_name(inst)
        pod = brokers[names.broker_pod(name)]
        labels = pod.metadata.labels or {}
        expected = {
            "controller": "akri.sh",
            "akri.sh/configuration": names.CONFIGURATION,
            "akri.sh/instance": name,
        }
        wrong = {k: labels.get(k) for k, v in expected.items() if labels.get(k) != v}
        if wrong:
            problems.append(f"{pod.metadata.name}: labels {wrong}, expected {expected}")
    assert not problems, "\n".join(problems)


@pytest.mark.prereq("test_brokers_running")
def test_broker_resources(brokers, instances, kube):
    """Each broker claims its Instance's device plugin resource, which the node advertises."""
    allocatable = kube.call(kube.core.list_node).items[0].status.allocatable or {}
    problems = []
    for inst in instances:
        resource = f"akri.sh/{custom_name(inst)}"
        pod = brokers[names.broker_pod(custom_name(inst))]
        limits = pod.spec.containers[0].resources.limits or {}
        if str(limits.get(resource)) != "1":
            problems.append(f"{pod.metadata.name}: limits {limits}, expected {resource}: 1")
        if resource not in allocatable:
            problems.append(f"node allocatable lacks {resource} (device plugin not registered, F9)")
    assert not problems, "\n".join(problems)


@pytest.mark.prereq("test_brokers_running")
def test_broker_env(brokers, instances, host):
    """The agent injects UDEV_DEVNODE_<HASH> (upper case) for the broker's device (2.6)."""
    problems = []
    for inst in instances:
        name = custom_name(inst)
        suffix = names.INSTANCE_NAME.match(name).group(1).upper()
        pod = names.broker_pod(name)
        result = host.run(
            f"microk8s kubectl exec -n {names.NAMESPACE} {pod} -- printenv", sudo=True, timeout=60
        )
        env = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
        if env.get(f"UDEV_DEVNODE_{suffix}") != _devnode(inst):
            problems.append(
                f"{pod}: UDEV_DEVNODE_{suffix}={env.get(f'UDEV_DEVNODE_{suffix}')!r}, "
                f"expected {_devnode(inst)} (exec exit {result.exited})"
            )
    assert not problems, "\n".join(problems)


def _wait_services(kube, settings, wanted: dict[str, int], what: str):
    """Wait until each named service exists and its Endpoints have the ready addresses wanted."""

    def ready(_items):
        for name, count in wanted.items():
            endpoints = _endpoints(kube, name)
            if ready_addresses(endpoints) < count:
                return False
        return True

    def describe(items):
        seen = {s.metadata.name: s for s in items}
        return "; ".join(
            f"{n}: "
            + (
                f"{service_summary(seen[n])}, {ready_addresses(_endpoints(kube, n))} ready "
                "endpoint(s)"
                if n in seen
                else "missing"
            )
            for n in wanted
        )

    return wait_for(
        kube,
        kube.core.list_namespaced_service,
        namespace=names.NAMESPACE,
        label_selector="controller=akri.sh",
        condition=lambda items: {s.metadata.name for s in items} >= set(wanted) and ready(items),
        describe=describe,
        what=what,
        timeout=settings.ready_timeout,
    )


def _endpoints(kube, name):
    try:
        return kube.call(kube.core.read_namespaced_endpoints, name, names.NAMESPACE)
    except Exception:
        return None


@pytest.mark.prereq("test_brokers_running")
def test_instance_services(kube, settings, instances):
    """One `<instance>-svc` per Instance, labelled akri.sh/instance, with a ready endpoint."""
    wanted = {names.instance_service(custom_name(i)): 1 for i in instances}
    services, _ = _wait_services(kube, settings, wanted, "instance services with endpoints")
    for svc in services:
        if svc.metadata.name in wanted:
            label = (svc.metadata.labels or {}).get("akri.sh/instance")
            assert svc.metadata.name == names.instance_service(label or "?"), (
                f"{svc.metadata.name}: akri.sh/instance label is {label!r}"
            )


@pytest.mark.prereq("test_brokers_running")
def test_configuration_service(kube, settings, instances):
    """`akri-udev-video-svc`: port grpc 80 -> 8083, every broker behind it (akri-facts 2.5)."""
    services, _ = _wait_services(
        kube,
        settings,
        {names.CONFIGURATION_SERVICE: len(instances)},
        "configuration service with every broker",
    )
    svc = next(s for s in services if s.metadata.name == names.CONFIGURATION_SERVICE)
    ports = {p.name: (p.port, str(p.target_port)) for p in svc.spec.ports or []}
    assert ports.get("grpc") == (80, "8083"), f"expected port grpc 80->8083, got {ports}"
