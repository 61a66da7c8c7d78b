"""Runs the streaming app's HTTP server when the cluster says its pod serves.

Plays kube-proxy and the app container: once the `akri-video-streaming-app` Deployment has a ready
pod and its NodePort Service exists, the app boots (reads its cameras) and its Werkzeug server
listens on the node port (on loopback). The app's camera discovery reads Services from the API
objects as `get_camera_display` does (docs/facts.md#streaming-app-cameras): every namespace, the
main camera named `<CONFIGURATION_NAME>-svc`, the small ones matching
`<CONFIGURATION_NAME>-[\\da-f]{6}-svc` (a prefix match), each with exactly one port named `grpc`. A
service URL `ip:port` leads, as kube-proxy routes it, to the devices of the ready broker pods behind
that service and port. Faults, both on the app's first start (docs/facts.md#streaming-app-hangs):
`app-wedged` (a stray request for a negative feed id left the camera lock held) and
`stale-camera-list` (the app's camera refresh died and it still holds a service's old address).
"""

from __future__ import annotations

import logging
import random
import re
import socket
import threading
from collections.abc import Callable

from twin.kubeapi.serviceips import SERVICE_CIDR
from twin.machine.frames import DeviceFrames
from twin.streaming.app import Cameras, StreamingApp
from twin.streaming.server import WerkzeugServer

log = logging.getLogger("twin.app")
APP = "akri-video-streaming-app"
NODE_PORTS = range(30000, 32768)
#: a client on the node's network that asked for a feed id below -N (fault `app-wedged`)
STRAY_REQUEST = b"GET /camera_frame_feed/-99 HTTP/1.1\r\nHost: akri-edge-twin\r\n\r\n"
STRAY_CLIENT = ("192.0.2.10", 50123)


class MaxRetryError(Exception):
    """What the app's Kubernetes client (urllib3) raises while the API server restarts."""


class StreamingAppWatcher:
    """Starts/stops the streaming app server following the API objects."""

    def __init__(
        self, store, akri, device: Callable[[str], DeviceFrames | None], faults: frozenset[str]
    ) -> None:
        self.store = store
        self.akri = akri
        self.device = device
        self.faults = faults
        self.server: StreamingApp | None = None
        self._http: WerkzeugServer | None = None
        self._starts = 0
        self._lists = 0
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # The API server picks a free NodePort at random; so does the twin, which also keeps
        # two twins on one machine from both claiming 30000 before either binds it.
        self._next_port = random.randrange(NODE_PORTS.start, NODE_PORTS.stop)

    def start(self) -> None:
        """Follow the store from now on."""
        self.store.subscribe(self._on_change)
        self._thread = threading.Thread(target=self._loop, name="twin-app", daemon=True)
        self._thread.start()
        self._dirty.set()

    def stop(self) -> None:
        """Stop following and stop the server."""
        self._stop.set()
        self._dirty.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.stop_server()

    def stop_server(self) -> None:
        """The app's pod goes away (a reboot); it comes back when the pod is ready again."""
        if self._http is not None:
            self._http.close()
        self.server, self._http = None, None

    def allocate_node_port(self) -> int:
        """A NodePort that is free on this machine's loopback."""
        for _ in NODE_PORTS:
            port = self._next_port
            self._next_port = port + 1 if port + 1 < NODE_PORTS.stop else NODE_PORTS.start
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
        raise RuntimeError("no free NodePort on loopback")

    def _on_change(self, kind_or_type, obj=None) -> None:
        self._dirty.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait()
            self._dirty.clear()
            if self._stop.is_set():
                return
            try:
                self._reconcile()
            except Exception:
                log.exception("streaming app reconcile failed")

    def _serving_port(self) -> int | None:
        service = self.store.get("Service", "default", APP)
        deployment = self.store.get("Deployment", "default", APP)
        if not service or not deployment:
            return None
        if not (deployment.get("status", {}).get("readyReplicas") or 0):
            return None
        ports = [p.get("nodePort") for p in service["spec"].get("ports", []) if p.get("nodePort")]
        return ports[0] if ports else None

    def _reconcile(self) -> None:
        port = self._serving_port()
        if self._http is not None and self._http.port != port:
            self.stop_server()
        if port is None or self._http is not None:
            return
        self._starts += 1
        self._lists = 0
        app = StreamingApp(self._cameras, self._source, self.faults)
        http = WerkzeugServer(app, port)  # bind first: a busy port starts nothing
        app.boot()
        if self._starts == 1 and "app-wedged" in self.faults:
            # one such request is enough on a real node: the app's stream_frames indexes
            # small_cameras[id - 1] between acquire() and release(), with no try/finally
            http.replay(STRAY_REQUEST, STRAY_CLIENT)
        http.start()
        self.server, self._http = app, http
        log.info("streaming app serving on 127.0.0.1:%d", port)

    def _configuration_name(self) -> str:
        deployment = self.store.get("Deployment", "default", APP) or {}
        for container in (
            deployment.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
        ):
            for env in container.get("env", []) or []:
                if env.get("name") == "CONFIGURATION_NAME":
                    return env.get("value", "")
        return ""

    def _services(self) -> list[dict]:
        items, _rv = self.store.list("Service")
        return items

    def _cameras(self) -> Cameras:
        """`get_camera_display`: the app's services list, as the real app filters it."""
        self._lists += 1
        stale = self._starts == 1 and "stale-camera-list" in self.faults
        if stale and self._lists == 2:
            # the first refresh meets an API server that is restarting (MicroK8s restarts its
            # services on addon changes and refreshes, docs/facts.md#microk8s-restarts): the
            # list raises, which ends the app's refresh (docs/facts.md#streaming-app-hangs)
            raise MaxRetryError(
                "HTTPSConnectionPool(host='10.152.183.1', port=443): Max retries exceeded with "
                "url: /api/v1/services?watch=False (Caused by NewConnectionError('Failed to "
                "establish a new connection: [Errno 111] Connection refused'))"
            )
        config = self._configuration_name()
        main, small = None, []
        pattern = re.compile(rf"{re.escape(config)}-[\da-f]{{6}}-svc")
        services = self._services()
        for svc in services:
            name = svc["metadata"]["name"]
            grpc = [p for p in svc["spec"].get("ports", []) if p.get("name") == "grpc"]
            if not config or len(grpc) != 1:
                continue
            url = f"{svc['spec'].get('clusterIP')}:{grpc[0]['port']}"
            if name == f"{config}-svc":
                main = url
            elif pattern.match(name):
                small.append(url)
        if stale and self._lists == 1 and small:
            small[0] = self._old_address(services, small[0])
        return main, sorted(small)

    @staticmethod
    def _old_address(services: list[dict], url: str) -> str:
        """The address a recreated service had before: one no Service holds now.

        The twin cannot replay the app's past (it started before a broker was replaced, whose
        new Service got a new ClusterIP, docs/facts.md#services-follow-brokers); the API server
        picks addresses at random, the twin takes the highest free one.
        """
        used = {(s.get("spec") or {}).get("clusterIP") for s in services}
        port = url.rsplit(":", 1)[1]
        free = (ip for ip in reversed(list(SERVICE_CIDR.hosts())) if str(ip) not in used)
        return f"{next(free, '10.152.183.254')}:{port}"

    def _source(self, url: str) -> list[DeviceFrames]:
        """kube-proxy: the devices of the ready broker pods behind the service at `ip:port`."""
        ip, _, port = url.rpartition(":")
        devices: list[DeviceFrames] = []
        for svc in self._services():
            spec = svc["spec"]
            if spec.get("clusterIP") != ip or not spec.get("selector"):
                continue
            if not any(str(p.get("port")) == port for p in spec.get("ports", [])):
                continue
            label = ",".join(f"{k}={v}" for k, v in sorted(spec["selector"].items()))
            pods, _rv = self.store.list("Pod", svc["metadata"]["namespace"], label_selector=label)
            for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
                ready = any(
                    c.get("type") == "Ready" and c.get("status") == "True"
                    for c in pod.get("status", {}).get("conditions", [])
                )
                meta = pod["metadata"]
                devnode = ready and self.akri.broker_device(meta["namespace"], meta["name"])
                frames = self.device(devnode) if devnode else None
                if frames is not None:
                    devices.append(frames)
        return devices
