"""The request handler of the twin's API server: one HTTP request, one Kubernetes answer.

Routes a request (`twin.kubeapi.routes`) to discovery, a list, a watch stream or a write on the
store, and turns the store's refusals into Status objects with the real codes and reasons (404
NotFound, 409 AlreadyExists / Conflict, 422 Invalid with its causes, 400 BadRequest, 415
UnsupportedMediaType). The server it belongs to (`twin.kubeapi.server.KubeApiServer`) holds the
store, the pod log source and the `flaky-api` fault counter.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from twin.kubeapi import discovery, routes
from twin.kubeapi.routes import ApiError, Route, parse_route, status_body
from twin.kubeapi.selection import Selector
from twin.kubeapi.store import Conflict, Gone, Invalid, NotFound
from twin.kubeapi.webhooks import Denied

if TYPE_CHECKING:
    from twin.kubeapi.server import ApiHttpServer

log = logging.getLogger("twin.kubeapi")

IDLE_TIMEOUT = 120.0  # a keep-alive connection with no request for this long is closed
DEFAULT_WATCH_SECONDS = 300.0
# kinds whose typed delete_* in the kubernetes client returns the object, not a Status
_DELETE_RETURNS_OBJECT = {"Pod", "Service", "ServiceAccount"}


class ApiHandler(BaseHTTPRequestHandler):
    """Serves one connection of the twin's API server."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT
    server: ApiHttpServer

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

    def _body(self, method: str) -> object:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        accepted = routes.PATCH_TYPES if method == "PATCH" else routes.BODY_TYPES
        return routes.decode_body(raw, self.headers.get("Content-Type"), accepted)

    def _serve(self, method: str) -> None:
        api = self.server.api
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        try:
            body = self._body(method)
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
        api = self.server.api
        if method != "GET":
            raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed on {path}")
        address = f"{api.host}:{api.port}"
        doc = discovery.document(path, api.store.custom_resources(), address, api.git_version)
        if doc is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return self._send(200, doc)

    # --- resources -------------------------------------------------------------------------

    def _serve_resource(self, method: str, route: Route, query: dict, body: object) -> None:
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
                obj = route.object_for_write(body)
                return self._send(201, store.create(obj, routes.dry_run(query)))
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
                obj = route.object_for_write(body)
                return self._send(200, store.update(obj, routes.dry_run(query)))
            if method == "PUT" and route.sub == "status":
                status = route.object_for_write(body).get("status")
                change = lambda o: o.update(status=status)  # noqa: E731
                return self._send(200, self._patch(route, change, query))
            if method == "PATCH" and route.sub in (None, "status"):
                return self._send(200, self._merge(route, body, query))
            if method == "DELETE" and route.sub is None:
                return self._delete(route, query, body)
        except NotFound as exc:
            raise ApiError(404, "NotFound", str(exc), route.details()) from exc
        except Conflict as exc:
            reason = "AlreadyExists" if method == "POST" else "Conflict"
            raise ApiError(409, reason, str(exc), route.details()) from exc
        except Denied as exc:  # a validating webhook refused it (twin.kubeapi.webhooks)
            raise ApiError(exc.code, exc.reason, str(exc), exc.details) from exc
        except Invalid as exc:
            details = {"name": exc.name or route.name, "group": res.group, "kind": res.kind}
            if exc.causes:
                details["causes"] = exc.causes
            raise ApiError(422, "Invalid", str(exc), details) from exc
        except ValueError as exc:
            code, reason = (400, "BadRequest") if method == "GET" else (422, "Invalid")
            raise ApiError(code, reason, str(exc), route.details()) from exc
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on this path")

    def _delete(self, route: Route, query: dict, body: object) -> None:
        res = route.resource
        options = routes.delete_options(query, body)
        done = self.server.api.store.delete(res.kind, route.namespace, route.name, options)
        # a deletion that waits (grace period, finalizers) answers the object as it now is
        if not done.removed or res.kind in _DELETE_RETURNS_OBJECT:
            return self._send(200, done.obj)
        details = {"name": route.name, "group": res.group, "kind": res.plural}
        details["uid"] = done.obj["metadata"].get("uid")
        return self._send(200, status_body(200, "", "", details, status="Success"))

    def _patch(self, route: Route, change: Callable[[dict], None], query: dict) -> dict:
        store, res = self.server.api.store, route.resource
        return store.patch(res.kind, route.namespace, route.name, change, routes.dry_run(query))

    def _merge(self, route: Route, body: object, query: dict) -> dict:
        ctype = routes.media_type(self.headers.get("Content-Type"))

        def change(obj: dict) -> None:
            if ctype == "application/json-patch+json":
                patched = routes.json_patch(obj, body)
            else:  # strategic merge is served as a JSON merge patch: lists are replaced
                patched = routes.merge_patch(obj, body or {})
            obj.clear()
            obj.update(patched)

        return self._patch(route, change, query)

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
            res.check_field_selector(fields)
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
