"""Self-tests of the twin's `microk8s kubectl` over a real store and cluster model."""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from twin.cluster.microk8s import NODE_NAME, Cluster, PodBehaviour
from twin.kubeapi.store import ObjectStore
from twin.kubectl.cli import Kubectl

PANIC = "thread 'main' panicked at src/main.rs:42"
APP = """
apiVersion: v1
kind: ServiceAccount
metadata: {name: akri-video-streaming-app-sa}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: akri-video-streaming-app}
spec:
  replicas: 1
  selector: {matchLabels: {app: akri-video-streaming-app}}
  template:
    metadata: {labels: {app: akri-video-streaming-app}}
    spec:
      serviceAccountName: akri-video-streaming-app-sa
      containers:
      - name: akri-video-streaming-app
        image: ghcr.io/project-akri/akri/video-streaming-app:latest-dev
        env: [{name: CONFIGURATION_NAME, value: akri-udev-video}]
---
apiVersion: v1
kind: Service
metadata: {name: akri-video-streaming-app}
spec:
  type: NodePort
  selector: {app: akri-video-streaming-app}
  ports: [{name: http, port: 80, targetPort: 5000}]
"""
BROKER = """
apiVersion: v1
kind: Pod
metadata: {name: akri-udev-video-3a9f0c-pod, labels: {akri.sh/configuration: akri-udev-video}}
spec:
  containers: [{name: akri-udev-video-broker, image: ghcr.io/project-akri/akri/udev-video-broker}]
"""


@pytest.fixture
def kubectl() -> Iterator[Kubectl]:
    store = ObjectStore()
    cluster = Cluster(store, NODE_NAME)

    def behaviour(pod: dict) -> PodBehaviour | None:
        if pod["metadata"]["name"].startswith("akri-udev-video"):
            return PodBehaviour(env={"UDEV_DEVNODE_3A9F0C": "/dev/video1"})
        if pod["metadata"]["name"] == "crasher":
            return PodBehaviour(crash_reason=PANIC)
        return None

    cluster.add_pod_behaviour(behaviour)
    cluster.start()
    tool = Kubectl(store, cluster)
    yield tool
    tool.close()
    cluster.stop()


def ok(kubectl: Kubectl, *argv: str, stdin: str = "") -> str:
    __tracebackhide__ = True
    rc, out, err = kubectl.run(list(argv), stdin.encode())
    assert rc == 0, f"kubectl {' '.join(argv)} -> {rc}: {err}"
    return out


def test_apply_is_idempotent_and_reports_like_kubectl(kubectl):
    assert ok(kubectl, "apply", "-f", "-", stdin=APP).splitlines() == [
        "serviceaccount/akri-video-streaming-app-sa created",
        "deployment.apps/akri-video-streaming-app created",
        "service/akri-video-streaming-app created",
    ]
    again = ok(kubectl, "apply", "-f", "-", stdin=APP)
    assert again.count("unchanged") == 3, again
    changed = APP.replace("replicas: 1", "replicas: 2")
    assert "deployment.apps/akri-video-streaming-app configured" in ok(
        kubectl, "apply", "-f", "-", stdin=changed
    )
    rc, _, err = kubectl.run(
        ["apply", "-f", "-"],
        b"apiVersion: akri.sh/v0\nkind: Configuration\nmetadata: {name: akri-udev-video}\n",
    )
    assert rc == 1 and 'no matches for kind "Configuration" in version "akri.sh/v0"' in err


def test_apply_reads_a_file_and_waits_for_the_rollout(kubectl):
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "app.yaml"
        manifest.write_text(APP)
        ok(kubectl, "apply", "-f", str(manifest))
    assert "successfully rolled out" in ok(
        kubectl, "rollout", "status", "deployment/akri-video-streaming-app", "--timeout=10s"
    )
    out = ok(
        kubectl,
        "wait",
        "--for=condition=Ready",
        "pod",
        "-l",
        "app=akri-video-streaming-app",
        "--timeout=10s",
    )
    assert out.startswith("pod/akri-video-streaming-app-") and out.endswith(" condition met\n")
    rc, _, err = kubectl.run(["wait", "--for=condition=Ready", "pod", "-l", "app=none"])
    assert rc == 1 and "no matching resources found" in err
    rc, _, err = kubectl.run(["apply", "-f", str(manifest)])
    assert rc == 1 and "does not exist" in err


def test_get_json_loads_into_client_models(kubectl):
    ok(kubectl, "apply", "-f", "-", stdin=APP)
    ok(
        kubectl,
        "wait",
        "--for=condition=Available",
        "deploy/akri-video-streaming-app",
        "--timeout=10s",
    )
    api = client.ApiClient()
    pods = api.deserialize(ok(kubectl, "get", "pods", "-o", "json"), "V1PodList", None)
    assert [p.status.phase for p in pods.items] == ["Running"]
    one = json.loads(ok(kubectl, "get", "deploy", "akri-video-streaming-app", "-o", "json"))
    assert one["kind"] == "Deployment" and one["status"]["availableReplicas"] == 1
    svc = yaml.safe_load(ok(kubectl, "get", "svc/akri-video-streaming-app", "-o", "yaml"))
    node_port = ok(
        kubectl,
        "get",
        "svc",
        "akri-video-streaming-app",
        "-o",
        'jsonpath={.spec.ports[?(@.name=="http")].nodePort}',
    )
    assert node_port == str(svc["spec"]["ports"][0]["nodePort"])
    table = ok(kubectl, "get", "pods", "-A").splitlines()
    assert table[0].split() == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert any("1/1" in line and "Running" in line for line in table)
    names = ok(kubectl, "get", "all", "-o", "name").split()
    assert "deployment.apps/akri-video-streaming-app" in names
    assert "service/kubernetes" in names
    nodes = ok(kubectl, "get", "no", "-o", "wide")
    assert "Ready" in nodes and "v1.34." in nodes and "Ubuntu 24.04" in nodes


def test_exec_in_a_broker_has_only_the_images_busybox_commands(kubectl):
    """Only busybox `sh uniq tail sort grep cut` (docs/facts.md#broker-image-userland)."""
    ok(kubectl, "apply", "-f", "-", stdin=BROKER)
    ok(kubectl, "wait", "--for=condition=Ready", "pod/akri-udev-video-3a9f0c-pod", "--timeout=10s")
    pod = "akri-udev-video-3a9f0c-pod"
    script = 'echo "$UDEV_DEVNODE_3A9F0C"'
    assert ok(kubectl, "exec", pod, "--", "sh", "-c", script) == "/dev/video1\n"
    for program in ("printenv", "env", "ls"):
        rc, out, err = kubectl.run(["exec", pod, "--", program])
        assert (rc, out) == (1, ""), (program, err)
        assert err.startswith("error: Internal error occurred: error executing command in ")
        assert f'exec: "{program}": executable file not found in $PATH: unknown' in err
    rc, out, err = kubectl.run(["exec", pod, "--", "sh", "-c", "printenv"])
    assert (rc, out) == (127, "")
    assert err == "sh: printenv: not found\ncommand terminated with exit code 127\n"
    rc, _, err = kubectl.run(["exec", pod, "--", "grep", "x", "/etc/hosts"])
    assert rc == 1 and "not modelled by the twin" in err, "in the image, not in the twin: loud"


def test_exec_printenv_in_a_debian_based_image(kubectl):
    app = BROKER.replace("akri-udev-video-3a9f0c-pod", "app").replace(
        "ghcr.io/project-akri/akri/udev-video-broker",
        "ghcr.io/project-akri/examples/video-streaming-app:v0.13.21-dev",
    )
    ok(kubectl, "apply", "-f", "-", stdin=app)
    ok(kubectl, "wait", "--for=condition=Ready", "pod/app", "--timeout=10s")
    assert ok(kubectl, "exec", "app", "--", "printenv", "HOSTNAME") == "app\n"
    assert "HOSTNAME=app\n" in ok(kubectl, "exec", "-n", "default", "app", "--", "env")
    rc, out, err = kubectl.run(["exec", "app", "--", "printenv", "NOPE"])
    assert (rc, out) == (1, "") and "exit code 1" in err


def test_logs_of_a_crash_looping_pod(kubectl):
    ok(kubectl, "apply", "-f", "-", stdin=BROKER.replace("akri-udev-video-3a9f0c-pod", "crasher"))
    deadline = time.monotonic() + 5
    while "CrashLoopBackOff" not in ok(kubectl, "get", "pod", "crasher"):
        assert time.monotonic() < deadline, "crasher never reached CrashLoopBackOff"
        threading.Event().wait(0.05)
    assert PANIC in ok(kubectl, "logs", "crasher", "--previous")
    assert ok(kubectl, "logs", "pod/crasher", "-c", "akri-udev-video-broker", "--tail=1") == (
        PANIC + "\n"
    )
    described = ok(kubectl, "describe", "pod", "crasher")
    assert "CrashLoopBackOff" in described and "Exit Code:" in described
    assert "BackOff" in described and "Events:" in described


def test_errors_read_like_kubectl(kubectl):
    assert kubectl.run(["get", "pod", "x"]) == (
        1,
        "",
        'Error from server (NotFound): pods "x" not found\n',
    )
    assert kubectl.run(["get", "deploy", "x"])[2].startswith(
        'Error from server (NotFound): deployments.apps "x" not found'
    )
    assert kubectl.run(["get", "akric"])[2] == (
        'error: the server doesn\'t have a resource type "akric"\n'
    )
    assert kubectl.run(["delete", "svc", "x", "--ignore-not-found"]) == (0, "", "")
    assert kubectl.run(["logs", "x"])[0] == 1
    assert kubectl.run(["frobnicate"])[0] == 1
    assert "No resources found in default namespace." in kubectl.run(["get", "pods"])[2]


def test_delete_cascades_and_cluster_down_refuses(kubectl):
    ok(kubectl, "apply", "-f", "-", stdin=APP)
    ok(
        kubectl,
        "wait",
        "--for=condition=Available",
        "deploy/akri-video-streaming-app",
        "--timeout=10s",
    )
    pod = ok(kubectl, "get", "pods", "-o", "name").strip()
    assert ok(kubectl, "delete", "deployment", "akri-video-streaming-app") == (
        'deployment.apps "akri-video-streaming-app" deleted\n'
    )
    ok(kubectl, "wait", "--for=delete", pod, "--timeout=5s")
    deleted = ok(kubectl, "delete", "-f", "-", "--ignore-not-found", stdin=APP)
    assert deleted.splitlines() == [
        'serviceaccount "akri-video-streaming-app-sa" deleted',
        'service "akri-video-streaming-app" deleted',
    ]
    assert "Client Version: v1.34." in ok(kubectl, "version")
    kubectl.cluster.set_running(False)
    rc, _, err = kubectl.run(["get", "pods"])
    assert rc == 1 and "The connection to the server 127.0.0.1:16443 was refused" in err
    assert kubectl.run(["version", "--client"])[0] == 0


def _akri_crd(kind: str, short: str, categories: list[str]) -> dict:
    names = {"kind": kind, "plural": kind.lower() + "s", "singular": kind.lower()}
    names.update(shortNames=[short], categories=categories)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.lower()}s.akri.sh"},
        "spec": {
            "group": "akri.sh",
            "names": names,
            "scope": "Namespaced",
            "versions": [{"name": "v0", "served": True, "storage": True}],
        },
        "status": {"acceptedNames": names},
    }


def test_short_names_and_all_come_from_discovery(kubectl):
    """`kubectl get all` expands `all` as discovery publishes it (docs/facts.md#api-discovery)."""
    store = kubectl.store
    store.create(_akri_crd("Configuration", "akric", ["all"]))
    store.create(_akri_crd("Instance", "akrii", []))  # a chart before 0.13.24
    for kind, name in (("Configuration", "akri-udev-video"), ("Instance", "akri-udev-video-1")):
        store.create({"apiVersion": "akri.sh/v0", "kind": kind, "metadata": {"name": name}})
    ok(kubectl, "apply", "-f", "-", stdin=APP)
    ok(kubectl, "wait", "--for=condition=Available", "deploy/akri-video-streaming-app")
    names = ok(kubectl, "get", "all", "-o", "name").split()
    kinds = list(dict.fromkeys(n.split("/")[0] for n in names))
    wanted = "pod service deployment.apps replicaset.apps configuration.akri.sh"
    assert kinds == wanted.split()
    assert "instance.akri.sh/akri-udev-video-1" not in names
    assert ok(kubectl, "get", "akrii", "-o", "name") == "instance.akri.sh/akri-udev-video-1\n"
    assert ok(kubectl, "get", "po", "-o", "name").startswith("pod/akri-video-streaming-app-")
    rc, _, err = kubectl.run(["get", "pods", "--field-selector", "spec.foo=x"])
    assert rc == 1 and "field label not supported: spec.foo" in err


def test_a_deleted_pod_reads_terminating_until_it_is_gone(kubectl):
    kubectl.cluster.add_pod_behaviour(
        lambda p: PodBehaviour(stop_after=30.0) if p["metadata"]["name"] == "lingering" else None
    )
    ok(kubectl, "apply", "-f", "-", stdin=BROKER.replace("akri-udev-video-3a9f0c-pod", "lingering"))
    ok(kubectl, "wait", "--for=condition=Ready", "pod/lingering", "--timeout=10s")
    kubectl.store.delete("Pod", "default", "lingering")
    row = ok(kubectl, "get", "pod", "lingering", "--no-headers").split()
    assert row[2] == "Terminating"
