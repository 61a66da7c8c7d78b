"""The Werkzeug development server the sample app runs on (`app.run(threaded=True)`), real HTTP.

Modelled on werkzeug/serving.py (`WSGIRequestHandler.run_wsgi`, the same in 2.2 and 3.1) and
on Flask 2.2.5's error handling:
* HTTP/1.1: a threaded server switches the handler to it. Status lines carry Werkzeug's upper
  case reasons (`200 OK`, `404 NOT FOUND`, `500 INTERNAL SERVER ERROR`), then `Server` and
  `Date`, then the view's headers.
* A body of known length gets `Content-Length`; a streamed body (the feeds) gets
  `Transfer-Encoding: chunked`, one chunk per yielded part. Every response carries `Connection:
  close` (Werkzeug turns keep-alive off), so one request per connection.
* The status line and headers go out with the first body chunk: a feed whose queue never
  fills sends nothing at all, not even its status line (docs/facts.md#streaming-app-framing).
* An exception in a view is logged ("Exception on <path> [GET]" and the traceback) and answered
  with Werkzeug's InternalServerError page; access log lines follow Werkzeug's format.
* The image pins only Flask==2.2.5, so its Werkzeug is the newest at build time: 3.1.6 for a
  build from examples@44e75a6 (2026-03-03) on python:3.11-slim-bookworm. Both versions are an
  inference, not a fact (a question for the facts): the header set does not depend on them.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from twin.streaming.app import AppStopped, Reply, StreamingApp

SERVER_VERSION = "Werkzeug/3.1.6"
PYTHON_VERSION = "Python/3.11.14"
REASONS = {200: "OK", 404: "NOT FOUND", 500: "INTERNAL SERVER ERROR"}
INTERNAL_ERROR = (
    "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n"
    "<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and was "
    "unable to complete your request. Either the server is overloaded or there is an error in "
    "the application.</p>\n"
)
NOT_FOUND = (
    "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n"
    "<p>The requested URL was not found on the server. If you entered the URL manually please "
    "check your spelling and try again.</p>\n"
)
_JOIN = 3.0


class WerkzeugServer:
    """The app's HTTP server on host:port; binding happens at construction (a busy port fails)."""

    def __init__(self, app: StreamingApp, port: int, host: str = "127.0.0.1") -> None:
        self._httpd = _Server((host, port), _Handler)
        self._httpd.app = app
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.1,), name="werkzeug", daemon=True
        )

    @property
    def port(self) -> int:
        """The TCP port it listens on."""
        return self._httpd.server_address[1]

    def start(self) -> None:
        """Accept connections, one thread per request."""
        self._thread.start()

    def replay(self, request: bytes, client: tuple[str, int]) -> bytes:
        """Serve one request that came before the suite looked (a stray client); its answer."""
        ours, theirs = socket.socketpair()
        with theirs:
            with ours:
                theirs.sendall(request)
                _Handler(ours, client, self._httpd)  # handles the request in the constructor
            return b"".join(iter(lambda: theirs.recv(65536), b""))

    def close(self) -> None:
        """The pod goes away: the port closes, the app stops, every open connection drops."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(_JOIN)
        self._httpd.app.stop()
        with self._httpd.lock:
            clients = list(self._httpd.clients)
        for client in clients:
            # a client that stopped reading would pin its thread in a blocked write
            with contextlib.suppress(OSError):
                client.connection.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + _JOIN
        for client in clients:
            client.thread.join(max(0.0, deadline - time.monotonic()))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # as BaseWSGIServer
    app: StreamingApp

    def __init__(self, address: tuple[str, int], handler: type[_Handler]) -> None:
        self.lock = threading.Lock()
        self.clients: set[_Handler] = set()
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    """GET routed to the app's views, answered with Werkzeug's framing."""

    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = SERVER_VERSION
    sys_version = PYTHON_VERSION

    def do_GET(self) -> None:
        app = self.server.app
        path = unquote(urlsplit(self.path).path)
        try:
            reply = app.request(path)
        except AppStopped:  # the pod went away while the view waited for the camera lock
            self.close_connection = True
            return
        except Exception as exc:
            app.say(
                f"Exception on {path} [GET]\nTraceback (most recent call last):\n  ...\n"
                f"{type(exc).__name__}: {exc}"
            )
            reply = Reply(500, body=INTERNAL_ERROR.encode())
        if reply is None:  # no route matched: Werkzeug's NotFound
            reply = Reply(404, body=NOT_FOUND.encode())
        if reply.stream is None:
            self._start(reply.status, reply.content_type, ("Content-Length", str(len(reply.body))))
            self.wfile.write(reply.body)
            return
        self._stream(reply)

    def _stream(self, reply: Reply) -> None:
        assert reply.stream is not None
        started = False
        try:
            for chunk in reply.stream:
                if not started:
                    self._start(reply.status, reply.content_type, ("Transfer-Encoding", "chunked"))
                    started = True
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
        finally:
            reply.stream.close()
        # the stream ends only when the app goes away: the connection drops, no last chunk
        self.close_connection = True

    def _start(self, status: int, content_type: str, length: tuple[str, str]) -> None:
        self.send_response(status, REASONS.get(status, "UNKNOWN"))
        self.send_header("Content-Type", content_type)
        self.send_header(*length)
        self.send_header("Connection", "close")
        self.end_headers()

    def setup(self) -> None:
        super().setup()
        self.thread = threading.current_thread()
        with self.server.lock:
            self.server.clients.add(self)

    def handle(self) -> None:
        with contextlib.suppress(OSError):  # the client went away
            super().handle()

    def finish(self) -> None:
        with self.server.lock:
            self.server.clients.discard(self)
        with contextlib.suppress(OSError):
            super().finish()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Werkzeug's access line: `<addr> - - [<date>] "GET <path> HTTP/1.1" <code> -`."""
        request = f"{self.command} {self.path} {self.request_version}"
        self.log_message('"%s" %s %s', request, code, size)

    def log_message(self, format: str, *args: object) -> None:
        line = f"{self.address_string()} - - [{self.log_date_time_string()}] {format % args}"
        self.server.app.say(line)
