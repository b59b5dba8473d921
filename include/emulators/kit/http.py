"""HTTP front shared by the emulators: stdlib ``ThreadingHTTPServer``, HTTP/1.1 keep-alive, one
daemon thread per connection, and a loopback-only ``/_control`` prefix.

Why the stdlib server: clients hold a handful (4-8) of keep-alive connections, so thread-per-
connection means a handful of threads; request handling is CPU-bound work under the GIL, which
an asyncio server would not make faster, and the ``drop`` fault needs direct control of the
socket. TCP_NODELAY is set because headers and body go out in separate writes and Nagle's
algorithm would otherwise add ~40 ms to every keep-alive response.

The server knows nothing about a platform: every request outside ``/_control`` goes to the
``App`` as a ``Request`` and comes back as a ``Reply``; ``/_control`` requests go to the
``ControlHandler`` (kit/control.py), but only from loopback clients unless the server was started
with ``allow_remote_control``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

log = logging.getLogger(__name__)

CONTROL_PREFIX = "/_control"
MAX_BODY_BYTES = 64 * 1024 * 1024  # the largest legitimate request is a few MB; anything this big is abuse
TEXT = "text/plain; charset=utf-8"
JSON = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Request:
    """One HTTP request as the application sees it. ``has_body`` tells an absent body (no
    Content-Length, or 0, and not chunked) from an empty one: a DELETE without a body can mean
    something else than a DELETE with one."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes
    has_body: bool
    client_address: str
    base_url: str

    @property
    def url(self) -> str:
        """The absolute URL the client used (what an OAuth 1.0a signature covers)."""
        return f"{self.base_url}{self.path}" + (f"?{self.query}" if self.query else "")


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = TEXT
    drop: bool = False  # close the connection without sending anything
    headers: tuple[tuple[str, str], ...] = field(default=())


def json_reply(status: int, document: Any, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    body = b"" if document is None else json.dumps(document, ensure_ascii=False).encode("utf-8")
    return Reply(status, body, JSON if document is not None else TEXT, headers=headers)


class App(Protocol):
    def handle(self, request: Request) -> Reply: ...


class ControlHandler(Protocol):
    def handle(self, method: str, path: str, query: str, body: bytes) -> tuple[int, Any]: ...


def is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sys_version = ""
    server: KitHTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @property
    def server_version(self) -> str:  # type: ignore[override]
        return self.server.server_name_header

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def _dispatch(self) -> None:
        path, _, query = self.path.partition("?")
        try:
            body, has_body = self._read_body()
        except ValueError as exc:
            self._send(Reply(400, str(exc).encode()), close=True)
            return
        if body is None:
            self._send(Reply(413, b"request body too large"), close=True)
            return
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            if not self.server.allow_remote_control and not is_loopback(self.client_address[0]):
                self._send(json_reply(403, {"error": "the control endpoint answers loopback clients only"}))
                return
            status, document = self.server.control.handle(self.command, path, query, body)
            self._send(json_reply(status, document))
            return
        request = Request(
            method=self.command,
            path=path,
            query=query,
            headers={k: v for k, v in self.headers.items()},
            body=body,
            has_body=has_body,
            client_address=self.client_address[0],
            base_url=self._base_url(),
        )
        try:
            reply = self.server.app.handle(request)
        except Exception:  # a bug in the emulator: answer 500 and keep serving
            log.exception("unhandled error on %s %s", self.command, path)
            reply = Reply(500, b"internal error in the emulator")
        if reply.drop:
            self._drop()
        else:
            self._send(reply)

    def _read_body(self) -> tuple[bytes | None, bool]:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks), True
                total += size
                if total > MAX_BODY_BYTES:
                    return None, True
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        raw_length = self.headers.get("Content-Length")
        length = int(raw_length or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > MAX_BODY_BYTES:
            return None, True
        return (self.rfile.read(length) if length else b""), length > 0

    def _base_url(self) -> str:
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        return f"http://{host}"

    def _send(self, reply: Reply, close: bool = False) -> None:
        self.send_response(reply.status)
        if reply.status != 204:
            self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD" and reply.body:
            self.wfile.write(reply.body)

    def _drop(self) -> None:
        """Close the TCP connection without a single byte of response."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class KitHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        app: App,
        control: ControlHandler,
        allow_remote_control: bool = False,
        server_name_header: str = "Emulator/1.0",
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        self.control = control
        self.allow_remote_control = allow_remote_control
        self.server_name_header = server_name_header
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    # Track open connections so stop() can close keep-alive connections too: otherwise their
    # threads would keep answering after the server "stopped".
    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
