"""HTTP front of the emulator: stdlib ``ThreadingHTTPServer``, HTTP/1.1 keep-alive, one daemon
thread per connection.

Why the stdlib server: clients hold a handful (4-8) of keep-alive connections, so thread-per-
connection means a handful of threads; request handling is CPU-bound XML work under the GIL,
which an asyncio server would not make faster, and the ``drop`` fault needs direct control of
the socket. TCP_NODELAY is set because headers and body go out in separate writes and Nagle's
algorithm would otherwise add ~40 ms to every keep-alive response.

Routes:
  GET  /soap11/Rpc<Name>?wsdl   the WSDL (service address = the Host the client used)
  POST /soap11/Rpc<Name>        SOAP calls (SOAPAction header optional)
  *    /_control/...            control endpoint (control.py), loopback clients only unless
                                allow_remote_control
  GET  /                        a small JSON index of the services
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from include.emulators.optimizely.app import Emulator, Reply
from include.emulators.optimizely.control import CONTROL_PREFIX, ControlApi
from include.emulators.optimizely.services import ALL as ALL_SERVICES

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024 * 1024  # a 1000-recipient addAll3 is ~1 MB; anything this big is abuse


def is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "OptimizelyCampaignEmulator/1.0"
    sys_version = ""
    server: EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    # ------------------------------------------------------------------ routing
    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        path, _, query = self.path.partition("?")
        try:
            body = self._read_body()
        except ValueError as exc:
            self._send(Reply(400, str(exc).encode(), "text/plain; charset=utf-8"), close=True)
            return
        if body is None:
            self._send(Reply(413, b"request body too large", "text/plain; charset=utf-8"), close=True)
            return
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            self._control(method, path, query, body)
            return
        emulator = self.server.emulator
        service = emulator.webservice(path)
        if service is None:
            if path in ("", "/") and method == "GET":
                self._json(200, self._index())
            else:
                self._send(Reply(404, b"Not found", "text/plain; charset=utf-8"))
            return
        if method == "GET":
            if query.lower().split("&")[0] == "wsdl":
                self._send(Reply(200, emulator.wsdl(service, self._base_url()), "text/xml; charset=utf-8"))
            else:
                # What Axis answers on a plain GET of a service URL.
                page = f"<h1>{service.rpc_name}</h1><p>Hi there, this is an AXIS service!</p>"
                self._send(Reply(200, page.encode(), "text/html; charset=utf-8"))
            return
        if method != "POST":
            self._send(Reply(405, b"Method not allowed", "text/plain; charset=utf-8"))
            return
        reply = emulator.handle_soap(service, body)
        if reply.drop:
            self._drop()
        else:
            self._send(reply)

    def _control(self, method: str, path: str, query: str, body: bytes) -> None:
        if not self.server.allow_remote_control and not is_loopback(self.client_address[0]):
            self._json(403, {"error": "the control endpoint answers loopback clients only"})
            return
        status, document = self.server.control.handle(method, path, query, body)
        self._json(status, document)

    def _index(self) -> dict[str, Any]:
        base = self._base_url()
        return {
            "emulator": "Optimizely Campaign SOAP API",
            "services": {s.rpc_name: f"{base}{s.path}?wsdl" for s in ALL_SERVICES},
            "control": f"{base}{CONTROL_PREFIX}",
        }

    # ------------------------------------------------------------------ I/O
    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > MAX_BODY_BYTES:
            return None
        return self.rfile.read(length) if length else b""

    def _base_url(self) -> str:
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        return f"http://{host}"

    def _json(self, status: int, document: Any) -> None:
        body = json.dumps(document, ensure_ascii=False).encode("utf-8")
        self._send(Reply(status, body, "application/json; charset=utf-8"))

    def _send(self, reply: Reply, close: bool = False) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def _drop(self) -> None:
        """Close the TCP connection without a single byte of response."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], emulator: Emulator, allow_remote_control: bool = False
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.emulator = emulator
        self.control = ControlApi(emulator)
        self.allow_remote_control = allow_remote_control
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
