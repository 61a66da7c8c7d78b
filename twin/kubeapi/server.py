"""The twin's Kubernetes API server: real HTTPS and REST semantics over the object store.

A ThreadingHTTPServer on loopback speaking HTTP/1.1 with keep-alive, TLS with a client
certificate required (signed by the twin CA, as MicroK8s' x509 kubeconfig presents), routes
`/api/v1/...` and `/apis/<group>/<version>/...` for namespaced and cluster-scoped resources:
list, get, create, replace, merge and JSON patches, delete with DeleteOptions, chunked watch
streams (`?watch=true` or the `/watch/` path), the pod `log` and the `status` subresources,
discovery (shortNames, categories), /version, /healthz and /readyz. Writes have the store's
kube-apiserver semantics (admission, graceful deletion, finalizers) and honour `dryRun=All`.
Errors are Status objects with the real reasons and codes: 422 Invalid with its causes, 400 for
an unsupported field selector, 409, 404, 415 for a body it cannot read. The `flaky-api` fault
makes every fifth non-watch request fail, alternately 500 InternalError and 429
TooManyRequests (with Retry-After: 1). Requests are handled by `twin.kubeapi.handler` and logged
at DEBUG only.
"""

from __future__ import annotations

import itertools
import logging
import ssl
import threading
from collections.abc import Callable

from twin.kubeapi.handler import ApiHandler
from twin.kubeapi.pki import Pki
from twin.kubeapi.store import ObjectStore
from twin.kubeapi.tlsserver import TlsHttpServer

log = logging.getLogger("twin.kubeapi")
PodLog = Callable[[str, str, str | None, bool], str]


class KubeApiServer:
    """An HTTPS Kubernetes API server over an ObjectStore, for the twin."""

    def __init__(
        self,
        store: ObjectStore,
        pki: Pki,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: set[str] | frozenset[str] = frozenset(),
        git_version: str = "v1.34.2",
    ) -> None:
        self.store = store
        self.pki = pki
        self.host = host
        self.faults = set(faults)
        self.git_version = git_version
        #: (namespace, pod, container or None, previous) -> log text; may raise NotFound or
        #: ValueError (answered 404 / 400). None: every log is empty.
        self.pod_log: PodLog | None = None
        self._requested_port = port
        self._httpd: ApiHttpServer | None = None
        self._requests = itertools.count(1)
        self._faults_sent = itertools.count()

    @property
    def port(self) -> int:
        """The bound port (0 before start)."""
        return self._httpd.server_address[1] if self._httpd else 0

    def start(self) -> int:
        """Bind, start serving in a thread, return the port."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.pki.server_cert, self.pki.server_key)
        context.load_verify_locations(cafile=self.pki.ca_cert)
        context.verify_mode = ssl.CERT_REQUIRED
        self._httpd = ApiHttpServer(self, context)
        self._httpd.start("twin-kubeapi")
        log.debug("kube API server on https://%s:%d", self.host, self.port)
        return self.port

    def stop(self) -> None:
        """Stop accepting, end watches and open connections, join every thread."""
        if self._httpd is not None:
            self._httpd.stop(before_drop=self.store.wake_watchers)
            self._httpd = None

    @property
    def stopping(self) -> threading.Event | None:
        """Set while the server stops (watches end when they see it)."""
        return self._httpd.stopping if self._httpd else None

    def injected_failure(self) -> int | None:
        """With `flaky-api`: 500 or 429 for every fifth non-watch request, else None."""
        if "flaky-api" not in self.faults or next(self._requests) % 5:
            return None
        return 500 if next(self._faults_sent) % 2 == 0 else 429


class ApiHttpServer(TlsHttpServer):
    """The TLS server of one KubeApiServer (handlers reach it as self.server.api)."""

    def __init__(self, api: KubeApiServer, context: ssl.SSLContext) -> None:
        self.api = api
        super().__init__((api.host, api._requested_port), ApiHandler, context)
