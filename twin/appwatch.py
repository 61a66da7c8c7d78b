"""Runs the streaming app's HTTP server when the cluster says its pod serves.

Plays kube-proxy and the app container: once the `akri-video-streaming-app` Deployment has a
ready pod and its NodePort Service exists, the real HTTP server listens on the node port (on
loopback); the app's camera discovery reads Services from the API objects exactly as the app
does (akri-facts 3.2), and a service URL leads to the devices of the broker pods behind it.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
from collections.abc import Callable

from twin.feeders import DeviceFrames
from twin.streaming import StreamingApp

log = logging.getLogger("twin.app")
APP = "akri-video-streaming-app"
NODE_PORTS = range(30000, 32768)


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
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_port = NODE_PORTS.start

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
        """Stop the HTTP server (a reboot); it comes back when the pod is ready again."""
        if self.server is not None:
            self.server.stop()
            self.server = None

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
        if self.server is not None and self.server.port != port:
            self.stop_server()
        if port is not None and self.server is None:
            self.server = StreamingApp(self._cameras, self._source, self.faults)
            self.server.start(port)
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

    def _cameras(self) -> tuple[str | None, list[str]]:
        config = self._configuration_name()
        main, small = None, []
        pattern = re.compile(rf"{re.escape(config)}-[0-9a-f]{{6}}-svc")
        for svc in self._services():
            name = svc["metadata"]["name"]
            grpc = [p for p in svc["spec"].get("ports", []) if p.get("name") == "grpc"]
            if not config or not grpc:
                continue
            url = f"{svc['spec'].get('clusterIP')}:{grpc[0]['port']}"
            if name == f"{config}-svc":
                main = url
            elif pattern.match(name):
                small.append(url)
        return main, sorted(small)

    def _source(self, url: str) -> list[DeviceFrames]:
        ip = url.rsplit(":", 1)[0]
        devices: list[DeviceFrames] = []
        for svc in self._services():
            if svc["spec"].get("clusterIP") != ip:
                continue
            selector = svc["spec"].get("selector") or {}
            if not selector:
                continue
            label = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
            pods, _rv = self.store.list("Pod", svc["metadata"]["namespace"], label_selector=label)
            for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
                ready = any(
                    c.get("type") == "Ready" and c.get("status") == "True"
                    for c in pod.get("status", {}).get("conditions", [])
                )
                devnode = (
                    self.akri.broker_device(pod["metadata"]["namespace"], pod["metadata"]["name"])
                    if ready
                    else None
                )
                frames = self.device(devnode) if devnode else None
                if frames is not None:
                    devices.append(frames)
        return devices
