"""The twin's node daemon: one process that is the edge node behind the twin's sshd.

It owns the node model, the real feeders, the fake Kubernetes API server, the kubelet and Akri
models, the streaming app and the sshd itself, and answers the tool shims over a Unix socket.
`python -m twin.daemon --state DIR [--fault NAME ...] [--platform ubuntu-26.04] [--deployment
akri-docs --spec JSON]` prints one JSON line when the node is reachable (address, port, user,
client key, host key), after deploying it by hand first if asked (`twin.deployment`), and stops
everything it started on SIGTERM or SIGINT. `--platform` picks the Ubuntu release it models.
"""

from __future__ import annotations

import argparse
import ctypes
import getpass
import json
import logging
import os
import shutil
import signal
import sys
import threading
from pathlib import Path

from twin.akri.agent import AkriModel
from twin.cluster.microk8s import NODE_NAME, Cluster
from twin.deployment import DeploymentSpec
from twin.feeders.manager import FeederManager
from twin.helm.cli import Helm
from twin.host import boot
from twin.host.rpc import RpcServer
from twin.kubeapi import pki as twin_pki
from twin.kubeapi.server import KubeApiServer
from twin.kubeapi.store import ObjectStore
from twin.kubectl.cli import Kubectl
from twin.machine.node import Node
from twin.machine.pidns import NodeProcesses
from twin.machine.platform import DEFAULT_PLATFORM, PLATFORMS
from twin.machine.udev import UdevDevice
from twin.sshd import Sshd, SshdConfig, generate_ed25519
from twin.streaming.watch import StreamingAppWatcher
from twin.tools.base import Answer, Call
from twin.tools.gst import plugin_env
from twin.tools.microk8s import ADDONS
from twin.tools.registry import load
from twin.tools.snap import channel_minor

log = logging.getLogger("twin")
HERE = Path(__file__).resolve().parent
SHELL = f"/usr/bin/unshare --mount --propagation private /usr/bin/python3 -IS {HERE / 'shell.py'}"
MICROK8S_START_SECONDS = 1.0


class NodeDaemon:
    """Everything the edge node is, wired together; the tool handlers receive this object."""

    def __init__(
        self,
        state_dir: Path,
        faults: frozenset[str],
        deployment: str = "none",
        spec: DeploymentSpec | None = None,
        platform: str = DEFAULT_PLATFORM,
    ) -> None:
        self.dir = state_dir
        self.faults = faults
        self.deployment, self.spec = deployment, spec or DeploymentSpec()
        self.node = Node(state_dir, faults, platform)
        self.procs = NodeProcesses(state_dir)
        self.feeders = FeederManager(
            state_dir / "feeders", self.node.device, faults, self.procs, self.gst_env()
        )
        self.store = ObjectStore()
        self.pki = twin_pki.make_pki(state_dir / "pki")
        self.api = KubeApiServer(self.store, self.pki, faults=faults)
        self.cluster = Cluster(self.store, NODE_NAME, faults)
        self.akri = AkriModel(self.store, self.cluster, NODE_NAME, self.udev_devices, faults)
        self.helm = Helm(self.store, faults, reachable=self.cluster.is_running)
        self.kubectl = Kubectl(self.store, self.cluster)
        self.app = StreamingAppWatcher(self.store, self.akri, self.node.device, faults)
        self.snap: dict | None = None
        self.microk8s_ready = threading.Event()
        self._cluster_started = self._dropped_once = False
        self.tools = load()
        self.sshd: Sshd | None = None
        self._timers: list[threading.Timer] = []
        self.booted = threading.Event()
        self.api_port = 0
        self.api.pod_log = self.cluster.pod_log
        self.kubectl.kubeconfig = self.kubeconfig

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> dict:
        """Start the node's servers and sshd; return how to reach it."""
        self._write_shims()
        self.procs.boot()
        self.api_port = self.api.start()
        self.store.nodeport_allocator = self.app.allocate_node_port
        self.rpc = RpcServer(str(self.dir / "node.sock"), self)
        threading.Thread(target=self.rpc.serve_forever, name="twin-rpc", daemon=True).start()
        user = getpass.getuser()
        # the node user's home: the machine's own ~/.bashrc would run on every SSH command
        (self.dir / "home").mkdir(exist_ok=True)
        client_pub = generate_ed25519(self.dir / "client_ed25519", "akri-conformance-twin")
        self.sshd = Sshd(
            SshdConfig(
                directory=self.dir / "sshd",
                user=user,
                authorized_keys=[client_pub],
                force_command=SHELL,
                set_env={"TWIN_STATE": str(self.dir), "HOME": str(self.dir / "home")},
            )
        )
        self.sshd.start()
        if self.deployment == "akri-docs":
            boot.deploy_by_hand(self)
        if "ssh-down" in self.faults:
            self.sshd.pause()
        return {
            "host": "127.0.0.1",
            "port": self.sshd.port,
            "user": user,
            "key": str(self.dir / "client_ed25519"),
            "host_key": self.sshd.host_public_key,
            "pid": os.getpid(),
        }

    def stop(self) -> None:
        """Stop everything this daemon started, by PID."""
        for timer in self._timers:
            timer.cancel()
        if self.sshd is not None:
            self.sshd.stop()
        self.feeders.stop_all()
        self.app.stop()
        self.kubectl.close()
        self.akri.stop()
        self.cluster.stop()
        self.api.stop()
        self.procs.halt()
        self.rpc.shutdown()
        self.rpc.server_close()

    def later(self, seconds: float, fn) -> None:
        """Run fn after a modelled delay (a boot, a service start)."""
        timer = threading.Timer(seconds, fn)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _write_shims(self) -> None:
        bindir = self.dir / "bin"
        bindir.mkdir(exist_ok=True)
        for name in self.tools:
            path = bindir / name
            path.write_text(
                f"#!/usr/bin/python3 -IS\nimport sys\nsys.path.insert(0, "
                f"{str(HERE)!r})\nfrom shim import main\nmain({name!r})\n"
            )
            path.chmod(0o755)

    # -- commands -----------------------------------------------------------------------------
    def dispatch(self, call: Call) -> Answer:
        """Run one modelled tool."""
        if call.tool == "snap" and "ssh-drop" in self.faults and not self._dropped_once:
            self._dropped_once = True
            assert self.sshd is not None
            self.sshd.drop_sessions()
            return Answer(255, "", "connection dropped\n")
        handler = self.tools.get(call.tool)
        if handler is None:
            return Answer(127, "", f"{call.tool}: not modelled by the twin\n")
        return handler(self, call)

    # -- devices and feeders --------------------------------------------------------------------
    def udev_devices(self) -> list[UdevDevice]:
        """What udev sees: the loopback nodes, and whether a producer feeds them."""
        fed = {f.devnode for f in self.feeders.running()}
        found = []
        with self.node.lock:
            for d in sorted(self.node.state.devices):
                minor, label = self.node.card(d)
                path = f"/devices/virtual/video4linux/{d.rsplit('/', 1)[-1]}"
                found.append(UdevDevice(d, path, d in fed, minor, label))
        return found

    def gst_env(self) -> dict[str, str]:
        """The GStreamer environment of the node's processes (a broken plugin, with a fault)."""
        return plugin_env(self.dir, self.faults)

    def devices_in_use(self) -> set[str]:
        """Device nodes held open: by a running feeder, or by a running broker that captures."""
        held = {f.devnode for f in self.feeders.running()}
        if self._cluster_started:
            pods, _rv = self.store.list("Pod", label_selector="controller=akri.sh")
            for pod in pods:
                if pod.get("status", {}).get("phase") == "Running":
                    meta = pod["metadata"]
                    held.add(self.akri.broker_device(meta["namespace"], meta["name"]) or "")
        return held - {""}

    def devices_changed(self) -> None:
        """Tell discovery that devices or feeders changed."""
        self.akri.notify_devices()

    # -- MicroK8s -----------------------------------------------------------------------------
    def boot_microk8s(self) -> None:
        """Start MicroK8s (after a modelled delay); never, with microk8s-not-ready."""
        if "microk8s-not-ready" not in self.faults:
            self.later(MICROK8S_START_SECONDS, self._microk8s_up)

    def _microk8s_up(self) -> None:
        if not self._cluster_started:
            self._cluster_started = True
            self.cluster.system = (self.node.platform.pretty, self.node.state.kernel)
            self.cluster.start()
            self.cluster.bootstrap()
            if "dns-disabled" not in self.faults and channel_minor(self.snap["channel"]) >= 27:
                self.cluster.enable_addon("dns")
            self.akri.start()
            self.app.start()
        self.cluster.set_running(True)
        self.microk8s_ready.set()

    @property
    def cluster_started(self) -> bool:
        """True once MicroK8s has started on this node (it then survives reboots)."""
        return self._cluster_started

    def stop_microk8s(self) -> None:
        """Stop MicroK8s: nothing reconciles, kubectl is refused."""
        self.microk8s_ready.clear()
        if self._cluster_started:
            self.cluster.set_running(False)

    def addon_states(self) -> dict[str, str]:
        """Addon -> enabled/disabled as `microk8s status` shows it (rbac always enabled)."""
        always = {"helm", "helm3", "ha-cluster", "rbac"}
        return {
            a: "enabled" if a in always or self.cluster.addon_enabled(a) else "disabled"
            for a in ADDONS
        }

    def enable_addon(self, name: str) -> None:
        """Enable an addon in the cluster model."""
        self.cluster.enable_addon(name)

    def kubeconfig(self) -> str:
        """`microk8s config`: x509 client certificate, loopback server."""
        return self.pki.kubeconfig(f"https://127.0.0.1:{self.api_port}")

    def microk8s_journal(self) -> str:
        """Lines of the kubelite journal."""
        state = "Started" if self.microk8s_ready.is_set() else "Waiting for"
        return f"microk8s.daemon-kubelite[1234]: {state} kubelite services\n"

    # -- reboot -----------------------------------------------------------------------------------
    def reboot(self) -> None:
        """A real disruption: SSH goes away, volatile state is lost, the node boots again."""
        self.later(0.2, lambda: boot.shut_down(self))


def _stop_with_parent() -> None:
    """Ask the kernel for SIGTERM when the process that started us dies (even by SIGKILL)."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def main(argv: list[str] | None = None) -> None:
    """Run the node until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m twin.daemon")
    parser.add_argument("--state", required=True, type=Path)
    parser.add_argument("--fault", action="append", default=[])
    parser.add_argument("--platform", default=DEFAULT_PLATFORM, choices=sorted(PLATFORMS))
    parser.add_argument("--deployment", default="none")
    parser.add_argument("--spec", default="{}", help="DeploymentSpec fields as JSON")
    args = parser.parse_args(argv)
    fmt = "%(asctime)s %(name)s %(levelname)s %(message)s"
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format=fmt)
    stopping = threading.Event()
    parent = os.getppid()
    _stop_with_parent()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stopping.set())
    spec = DeploymentSpec(**json.loads(args.spec))
    daemon = NodeDaemon(args.state, frozenset(args.fault), args.deployment, spec, args.platform)
    try:
        endpoint = daemon.start()
        sys.stdout.write(json.dumps(endpoint) + "\n")
        sys.stdout.flush()
        stopping.wait()
    finally:
        daemon.stop()
        if os.getppid() != parent:  # the suite died without Twin.stop(): clean up for it
            shutil.rmtree(args.state, ignore_errors=True)


if __name__ == "__main__":
    main()
