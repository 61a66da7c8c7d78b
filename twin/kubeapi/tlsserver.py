"""A threading HTTPS server whose TLS handshakes happen off the accept loop, and stop cleanly.

The standard recipe (wrapping the listening socket) performs every handshake in the accept
thread, so one silent client stalls everybody. Here each connection's thread does its own
handshake under a timeout. Every open connection is tracked so `stop` can shut them down:
handler threads blocked on a keep-alive read or a watch write return at once, and the
server's `server_close` can join them all.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT = 10.0
LINGER = 2.0  # how long a refused client may keep sending before its connection is closed
POLL_INTERVAL = 0.1  # how long stop() may wait for the accept loop to notice


class TlsHttpServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with per-connection TLS and a stop that ends every connection."""

    daemon_threads = False
    block_on_close = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        context: ssl.SSLContext,
    ) -> None:
        self.context = context
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        super().__init__(address, handler)

    def start(self, name: str) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL},
            name=name,
            daemon=True,  # stop() joins it; daemon only so a forgotten stop cannot hang exit
        )
        self._thread.start()

    def stop(self, before_drop=None) -> None:
        """Stop accepting, run before_drop (wake what handlers wait on), end all connections."""
        self.stopping.set()
        self.shutdown()
        if before_drop is not None:
            before_drop()
        self._drop_connections()
        self.server_close()  # joins the handler threads (block_on_close)
        if self._thread is not None:
            self._thread.join()

    def finish_request(self, request, client_address) -> None:
        """Handshake, then serve the connection's requests (keep-alive) until it closes."""
        self._track(request)
        try:
            if self.stopping.is_set():
                return
            request.settimeout(HANDSHAKE_TIMEOUT)
            # Handshake by hand: wrap_socket's own handshake closes the socket on failure.
            tls = self.context.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
            try:
                tls.do_handshake()
            except (ssl.SSLError, OSError) as exc:
                log.debug("TLS handshake with %s failed: %s", client_address, exc)
                _linger(tls)
                tls.close()
                return
            self._track(tls)
            try:
                self.RequestHandlerClass(tls, client_address, self)
            finally:
                self._untrack(tls)
                tls.close()
        finally:
            self._untrack(request)

    def _track(self, conn: socket.socket) -> None:
        with self._conn_lock:
            self._connections.add(conn)

    def _untrack(self, conn: socket.socket) -> None:
        with self._conn_lock:
            self._connections.discard(conn)

    def _drop_connections(self) -> None:
        with self._conn_lock:
            connections = list(self._connections)
        for conn in connections:
            # the plain socket call: SSLSocket.shutdown would also drop the TLS state under
            # a thread that is still reading
            with contextlib.suppress(OSError):
                socket.socket.shutdown(conn, socket.SHUT_RDWR)


def _linger(conn: socket.socket) -> None:
    """Close a refused connection the careful way: FIN after the TLS alert, then drain.

    With TLS 1.3 the client has already sent its request when the server refuses its
    certificate; closing with those bytes unread makes the kernel answer with a reset, which
    can destroy the alert before the client reads it ("certificate required" becomes an EOF).
    """
    deadline = time.monotonic() + LINGER
    with contextlib.suppress(OSError):
        # the plain socket calls: the TLS layer is dead, the bytes below it are not
        socket.socket.shutdown(conn, socket.SHUT_WR)
        while (left := deadline - time.monotonic()) > 0:
            conn.settimeout(left)
            if not socket.socket.recv(conn, 65536):
                return
