"""The twin's Kubernetes API server: real HTTPS and REST semantics over the object store.

A ThreadingHTTPServer on loopback speaking HTTP/1.1 with keep-alive, TLS with a client
certificate required (signed by the twin CA, as MicroK8s' x509 kubeconfig presents), routes
`/api/v1/...` and `/apis/<group>/<version>/...` for namespaced and cluster-scoped resources:
list, get, create, replace, merge-patch, delete, chunked watch streams (`?watch=true` or the
`/watch/` path), the pod `log` and the `status` subresources, discovery, /version, /healthz
and /readyz. Errors are Status objects with the real reasons and codes. The `flaky-api` fault
makes every fifth non-watch request fail, alternately 500 InternalError and 429
TooManyRequests (with Retry-After: 1). Requests are logged at DEBUG only.
"""

from __future__ import annotations

import itertools
import json
import logging
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit

from twin import discovery
from twin.apiroutes import ApiError, Route, merge_patch, parse_route, status_body
from twin.pki import Pki
from twin.selection import Selector
from twin.store import Conflict, Gone, NotFound, ObjectStore
from twin.tlshttp import TlsHttpServer

log = logging.getLogger(__name__)

IDLE_TIMEOUT = 120.0  # a keep-alive connection with no request for this long is closed
DEFAULT_WATCH_SECONDS = 300.0
# kinds whose typed delete_* in the kubernetes client returns the object, not a Status
_DELETE_RETURNS_OBJECT = {"Pod", "Service", "ServiceAccount"}
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
        self._httpd: _ApiHttpServer | None = None
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
        self._httpd = _ApiHttpServer(self, context)
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


class _ApiHttpServer(TlsHttpServer):
    """The TLS server of one KubeApiServer (handlers reach it as self.server.api)."""

    def __init__(self, api: KubeApiServer, context: ssl.SSLContext) -> None:
        self.api = api
        super().__init__((api.host, api._requested_port), _Handler, context)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT
    server: _ApiHttpServer

    def log_message(self, format: str, *args) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    # --- plumbing --------------------------------------------------------------------------

    def _send(self, code: int, body: dict | str, headers: dict[str, str] | None = None) -> None:
        if isinstance(body, str):
            data, ctype = body.encode(), "text/plain; charset=utf-8"
        else:
            data, ctype = json.dumps(body).encode(), "application/json"
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict | None:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return None
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError as exc:
            raise ApiError(400, "BadRequest", f"invalid JSON body: {exc}") from exc
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body must be a JSON object")
        return body

    def _serve(self, method: str) -> None:
        api = self.server.api
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        try:
            body = self._body()
            route = parse_route(url.path, query, api.store)
            if route is None or not route.watch:
                failure = api.injected_failure()
                if failure is not None:
                    raise _injected(failure)
            if route is None:
                return self._serve_meta(method, url.path)
            if route.watch and method == "GET" and route.name is None:
                return self._watch(route, query)
            return self._serve_resource(method, route, query, body)
        except ApiError as err:
            headers = {"Retry-After": "1"} if err.code == 429 else None
            self._send(
                err.code, status_body(err.code, err.reason, err.message, err.details), headers
            )
        except OSError:  # the client went away (reset, timeout, TLS close) mid-answer
            self.close_connection = True
        except Exception as exc:  # a bug in the twin must not look like a network problem
            log.exception("kube API %s %s failed", method, self.path)
            self._send(500, status_body(500, "InternalError", f"twin API server error: {exc}"))

    def _serve_meta(self, method: str, path: str) -> None:
        api, store = self.server.api, self.server.api.store
        path = path.rstrip("/") or "/"
        custom = store.custom_resources()
        if method != "GET":
            raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed on {path}")
        if path in ("/healthz", "/readyz", "/livez"):
            return self._send(200, "ok")
        if path == "/version":
            return self._send(200, discovery.version_info(api.git_version))
        if path == "/api":
            return self._send(200, discovery.api_versions(f"{api.host}:{api.port}"))
        if path == "/apis":
            return self._send(200, discovery.api_group_list(custom))
        parts = path.strip("/").split("/")
        doc = None
        if parts == ["api", "v1"]:
            doc = discovery.api_resource_list("", "v1", custom)
        elif parts[0] == "apis" and len(parts) == 2:
            doc = discovery.api_group(parts[1], custom)
        elif parts[0] == "apis" and len(parts) == 3:
            doc = discovery.api_resource_list(parts[1], parts[2], custom)
        if doc is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return self._send(200, doc)

    # --- resources -------------------------------------------------------------------------

    def _serve_resource(self, method: str, route: Route, query: dict, body: dict | None) -> None:
        store, res = self.server.api.store, route.resource
        try:
            if method == "GET" and route.name is None:
                items, rv = store.list(
                    res.kind,
                    route.namespace,
                    query.get("labelSelector"),
                    query.get("fieldSelector"),
                )
                meta = {"resourceVersion": rv}
                doc = {"kind": f"{res.kind}List", "apiVersion": res.api_version, "metadata": meta}
                return self._send(200, {**doc, "items": items})
            if method == "POST" and route.name is None and route.sub is None:
                return self._send(201, store.create(route.object_for_write(body)))
            if route.name is None:
                raise ApiError(405, "MethodNotAllowed", f"{method} needs an object name")
            if method == "GET" and route.sub == "log":
                return self._pod_log(route, query)
            if method == "GET" and route.sub in (None, "status"):
                obj = store.get(res.kind, route.namespace, route.name)
                if obj is None:
                    raise NotFound(f'{res.plural} "{route.name}" not found')
                return self._send(200, obj)
            if method == "PUT" and route.sub is None:
                return self._send(200, store.update(route.object_for_write(body)))
            if method == "PUT" and route.sub == "status":
                status = route.object_for_write(body).get("status")
                return self._send(200, self._patch(route, lambda o: o.update(status=status)))
            if method == "PATCH" and route.sub in (None, "status"):
                return self._send(200, self._merge(route, body))
            if method == "DELETE" and route.sub is None:
                gone = store.delete(res.kind, route.namespace, route.name)
                if res.kind in _DELETE_RETURNS_OBJECT:
                    return self._send(200, gone)
                details = {"name": route.name, "group": res.group, "kind": res.plural}
                details["uid"] = gone["metadata"].get("uid")
                return self._send(200, status_body(200, "", "", details, status="Success"))
        except NotFound as exc:
            raise ApiError(404, "NotFound", str(exc), route.details()) from exc
        except Conflict as exc:
            reason = "AlreadyExists" if method == "POST" else "Conflict"
            raise ApiError(409, reason, str(exc), route.details()) from exc
        except ValueError as exc:
            code, reason = (400, "BadRequest") if method == "GET" else (422, "Invalid")
            raise ApiError(code, reason, str(exc), route.details()) from exc
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on this path")

    def _patch(self, route: Route, change: Callable[[dict], None]) -> dict:
        return self.server.api.store.patch(route.resource.kind, route.namespace, route.name, change)

    def _merge(self, route: Route, body: dict | None) -> dict:
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype not in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            raise ApiError(415, "UnsupportedMediaType", f"the twin does not support {ctype!r}")

        def change(obj: dict) -> None:
            merged = merge_patch(obj, body or {})
            obj.clear()
            obj.update(merged)

        # strategic merge is served as a JSON merge patch: lists are replaced, not merged
        return self._patch(route, change)

    def _pod_log(self, route: Route, query: dict) -> None:
        api = self.server.api
        if route.resource.kind != "Pod":
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if api.store.get("Pod", route.namespace, route.name) is None:
            raise NotFound(f'pods "{route.name}" not found')
        previous = query.get("previous") == "true"
        text = ""
        if api.pod_log is not None:
            text = api.pod_log(route.namespace, route.name, query.get("container"), previous)
        if "tailLines" in query:
            lines = text.splitlines(keepends=True)
            tail = int(query["tailLines"])
            text = "".join(lines[-tail:]) if tail > 0 else ""
        self._send(200, text)

    def _watch(self, route: Route, query: dict) -> None:
        api, res = self.server.api, route.resource
        labels, fields = query.get("labelSelector"), query.get("fieldSelector")
        rv = query.get("resourceVersion", "")
        try:
            Selector.parse(labels, fields)
            if rv not in ("", "0"):
                int(rv)
            timeout = float(query.get("timeoutSeconds") or DEFAULT_WATCH_SECONDS)
        except ValueError as exc:
            raise ApiError(400, "BadRequest", str(exc), route.details()) from exc
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        events = api.store.watch(
            res.kind, route.namespace, labels, fields, rv, timeout, api.stopping
        )
        try:
            for etype, obj in events:
                self._chunk({"type": etype, "object": obj})
        except Gone as exc:
            self._chunk({"type": "ERROR", "object": status_body(410, "Expired", str(exc))})
        except NotFound as exc:  # the CRD went away between routing and the first event
            self._chunk({"type": "ERROR", "object": status_body(404, "NotFound", str(exc))})
        self.wfile.write(b"0\r\n\r\n")

    def _chunk(self, event: dict) -> None:
        data = json.dumps(event).encode() + b"\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


def _injected(code: int) -> ApiError:
    if code == 429:
        return ApiError(
            429,
            "TooManyRequests",
            "the twin's flaky-api fault: rate limited",
            {"retryAfterSeconds": 1},
        )
    return ApiError(500, "InternalError", "the twin's flaky-api fault: internal error")
