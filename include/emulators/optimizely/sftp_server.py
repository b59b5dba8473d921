"""The emulator's SFTP server (paramiko): the platform's response files, over real SSH.

* One thread accepts connections; each connection gets its own thread running a paramiko
  ``Transport`` (which runs the SSH protocol on a thread of its own), so downloads are concurrent.
* Authentication: password (``user``/``password``) and public key (``authorized_keys``: keys in
  OpenSSH ``authorized_keys`` form). ``none`` and keyboard-interactive are refused.
* The host key is the one given (see ``host_key.py``): clients pin it.
* The SFTP view is chrooted to the response-file area (``ResponseFileStore.root``): ``/`` is the
  root, ``/responses`` holds the files. Clients may list, stat, read, remove and rename files and
  make or remove folders (to delete or move files they imported); writing files is refused.
  Hidden names (starting with ``.``: files being written) are neither listed nor served.
* Before each listing, stat and open, the store catches up (due response-data jobs run, expired
  files go), so what a client sees always matches the emulator clock.
* Faults (``sftp_faults.py``): a download can be cut off (``drop``: the connection closes) or
  end early (``truncate``) after N bytes.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import os
import socket
import stat
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import paramiko
from paramiko.sftp import SFTP_EOF, SFTP_FAILURE, SFTP_NO_SUCH_FILE, SFTP_OK, SFTP_PERMISSION_DENIED

from include.emulators.optimizely.response_files import ResponseFileStore
from include.emulators.optimizely.sftp_faults import SftpFaultInjector, SftpInjection

log = logging.getLogger(__name__)

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
#: how long a client may take from TCP connect to a session channel
_NEGOTIATION_TIMEOUT = 30.0


def parse_authorized_keys(lines: Iterable[str]) -> list[tuple[str, bytes]]:
    """``(key type, key blob)`` of every key line (``<type> <base64> [comment]``; options unsupported)."""
    keys = []
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) < 2:
            raise ValueError(f"authorized key line {number}: expected '<type> <base64 key> [comment]'")
        try:
            blob = base64.b64decode(parts[1], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"authorized key line {number}: the key is not base64") from None
        keys.append((parts[0], blob))
    return keys


def read_authorized_keys(paths: Sequence[str | Path]) -> list[tuple[str, bytes]]:
    keys: list[tuple[str, bytes]] = []
    for path in paths:
        keys.extend(parse_authorized_keys(Path(path).expanduser().read_text(encoding="utf-8").splitlines()))
    return keys


class _Authenticator(paramiko.ServerInterface):
    def __init__(self, user: str, password: str | None, authorized_keys: Sequence[tuple[str, bytes]]) -> None:
        self.user = user
        self.password = password
        self.authorized_keys = list(authorized_keys)
        self.transport: paramiko.Transport | None = None

    def get_allowed_auths(self, username: str) -> str:
        methods = []
        if self.authorized_keys:
            methods.append("publickey")
        if self.password is not None:
            methods.append("password")
        return ",".join(methods) or "publickey"

    def check_auth_password(self, username: str, password: str) -> int:
        if self.password is None:
            return paramiko.AUTH_FAILED
        user_ok = hmac.compare_digest(username.encode(), self.user.encode())
        password_ok = hmac.compare_digest(password.encode(), self.password.encode())
        return paramiko.AUTH_SUCCESSFUL if user_ok and password_ok else paramiko.AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        if not hmac.compare_digest(username.encode(), self.user.encode()):
            return paramiko.AUTH_FAILED
        blob = key.asbytes()
        for key_type, allowed in self.authorized_keys:
            if key_type == key.get_name() and hmac.compare_digest(blob, allowed):
                return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED


class _Handle(paramiko.SFTPHandle):
    """A file opened for reading, with an optional injected fault."""

    def __init__(
        self,
        readfile: Any,
        injection: SftpInjection | None,
        transport: paramiko.Transport | None,
        remote_path: str,
    ) -> None:
        super().__init__(os.O_RDONLY)
        self.readfile = readfile
        self.injection = injection
        self.transport = transport
        self.remote_path = remote_path

    def read(self, offset: int, length: int) -> bytes | int:
        injection = self.injection
        if injection is not None and offset + length > injection.after_bytes:
            if injection.kind == "truncate":
                if offset >= injection.after_bytes:
                    return SFTP_EOF
                length = injection.after_bytes - offset
            elif injection.kind == "drop":
                log.info(
                    "SFTP fault %s: dropping the connection at byte %d of %s",
                    injection.rule_id,
                    min(offset, injection.after_bytes),
                    self.remote_path,
                )
                if self.transport is not None:
                    self.transport.close()
                return SFTP_FAILURE
        return super().read(offset, length)


class _ChrootSftp(paramiko.SFTPServerInterface):
    """SFTP operations on the response-file area, with ``/`` = the store's root."""

    def __init__(self, server: _Authenticator, context: SftpServer, *args: Any, **kwargs: Any) -> None:
        super().__init__(server, *args, **kwargs)
        self.auth = server
        self.context = context
        self.store: ResponseFileStore = context.store
        self.root = self.store.root

    # paths -----------------------------------------------------------------
    @staticmethod
    def _virtual(path: str | bytes) -> str:
        if isinstance(path, bytes):
            path = path.decode("utf-8")
        parts: list[str] = []
        for part in PurePosixPath("/" + path).parts[1:]:
            if part in ("", "."):
                continue
            if part == "..":
                if parts:
                    parts.pop()
                continue
            parts.append(part)
        return "/" + "/".join(parts)

    def _real(self, path: str | bytes) -> tuple[str, Path]:
        virtual = self._virtual(path)
        return virtual, self.root.joinpath(*virtual.split("/")[1:])

    @staticmethod
    def _relative(virtual: str) -> str:
        return virtual.lstrip("/")

    @staticmethod
    def _hidden(virtual: str) -> bool:
        return any(part.startswith(".") for part in virtual.split("/") if part)

    # operations --------------------------------------------------------------
    def session_started(self) -> None:
        self.store.catch_up()

    def canonicalize(self, path: str | bytes) -> str:
        return self._virtual(path)

    def list_folder(self, path: str | bytes) -> list[paramiko.SFTPAttributes] | int:
        self.store.catch_up()
        virtual, real = self._real(path)
        if self._hidden(virtual):
            return SFTP_NO_SUCH_FILE
        try:
            entries = []
            for name in sorted(os.listdir(real)):
                if name.startswith("."):
                    continue
                attributes = paramiko.SFTPAttributes.from_stat(os.stat(real / name), filename=name)
                entries.append(attributes)
            return entries
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)

    def stat(self, path: str | bytes) -> paramiko.SFTPAttributes | int:
        self.store.catch_up()
        virtual, real = self._real(path)
        if self._hidden(virtual):
            return SFTP_NO_SUCH_FILE
        try:
            return paramiko.SFTPAttributes.from_stat(os.stat(real), filename=real.name)
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)

    lstat = stat

    def open(self, path: str | bytes, flags: int, attr: paramiko.SFTPAttributes) -> paramiko.SFTPHandle | int:
        if flags & _WRITE_FLAGS:
            return SFTP_PERMISSION_DENIED
        self.store.catch_up()
        virtual, real = self._real(path)
        if self._hidden(virtual):
            return SFTP_NO_SUCH_FILE
        try:
            if not stat.S_ISREG(os.stat(real).st_mode):
                return SFTP_PERMISSION_DENIED
            readfile = open(real, "rb")  # noqa: SIM115 - closed by SFTPHandle.close
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)
        injection = self.context.faults.on_open(virtual)
        self.context.count("open")
        return _Handle(readfile, injection, self.auth.transport, virtual)

    def remove(self, path: str | bytes) -> int:
        virtual, real = self._real(path)
        if self._hidden(virtual) or virtual == "/":
            return SFTP_NO_SUCH_FILE
        with self.store.lock:
            try:
                if not stat.S_ISREG(os.lstat(real).st_mode):
                    return SFTP_PERMISSION_DENIED
                os.remove(real)
            except OSError as exc:
                return paramiko.SFTPServer.convert_errno(exc.errno)
            self.store.forget(self._relative(virtual))
        self.context.count("remove")
        return SFTP_OK

    def _rename(self, oldpath: str | bytes, newpath: str | bytes, overwrite: bool) -> int:
        old_virtual, old_real = self._real(oldpath)
        new_virtual, new_real = self._real(newpath)
        if self._hidden(old_virtual) or self._hidden(new_virtual) or "/" in (old_virtual, new_virtual):
            return SFTP_PERMISSION_DENIED
        with self.store.lock:
            if not overwrite and new_real.exists():
                return SFTP_FAILURE  # SFTP v3 rename never overwrites
            try:
                os.replace(old_real, new_real)
            except OSError as exc:
                return paramiko.SFTPServer.convert_errno(exc.errno)
            self.store.moved(self._relative(old_virtual), self._relative(new_virtual))
        self.context.count("rename")
        return SFTP_OK

    def rename(self, oldpath: str | bytes, newpath: str | bytes) -> int:
        return self._rename(oldpath, newpath, overwrite=False)

    def posix_rename(self, oldpath: str | bytes, newpath: str | bytes) -> int:
        return self._rename(oldpath, newpath, overwrite=True)

    def mkdir(self, path: str | bytes, attr: paramiko.SFTPAttributes) -> int:
        virtual, real = self._real(path)
        if self._hidden(virtual):
            return SFTP_PERMISSION_DENIED
        try:
            os.mkdir(real)
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)
        return SFTP_OK

    def rmdir(self, path: str | bytes) -> int:
        virtual, real = self._real(path)
        if self._hidden(virtual) or virtual in ("/", "/responses"):
            return SFTP_PERMISSION_DENIED
        try:
            os.rmdir(real)
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)
        return SFTP_OK

    def chattr(self, path: str | bytes, attr: paramiko.SFTPAttributes) -> int:
        return SFTP_PERMISSION_DENIED

    def symlink(self, target_path: str | bytes, path: str | bytes) -> int:
        return SFTP_PERMISSION_DENIED

    def readlink(self, path: str | bytes) -> int:
        return SFTP_NO_SUCH_FILE


class SftpServer:
    """``SftpServer(store, faults, host_key, port=0).start()``; ``stop()`` closes every connection."""

    def __init__(
        self,
        store: ResponseFileStore,
        faults: SftpFaultInjector,
        host_key: paramiko.PKey,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        user: str = "demo",
        password: str | None = "demo",
        authorized_keys: Sequence[tuple[str, bytes]] = (),
    ) -> None:
        if password is None and not authorized_keys:
            raise ValueError("the SFTP server needs a password or at least one authorized key")
        self.store = store
        self.faults = faults
        self.host_key = host_key
        self.host = host
        self.requested_port = port
        self.user = user
        self.password = password
        self.authorized_keys = list(authorized_keys)
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._transports: set[paramiko.Transport] = set()
        self._workers: set[threading.Thread] = set()
        self._counts: dict[str, int] = {}

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> SftpServer:
        if self._socket is not None:
            return self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.requested_port))
            sock.listen(64)
        except OSError:
            sock.close()
            raise
        sock.settimeout(0.2)  # so the accept loop notices stop()
        self._socket = sock
        self._stopping.clear()
        self._thread = threading.Thread(target=self._accept_loop, name="optimizely-sftp-accept", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        sock, thread = self._socket, self._thread
        if sock is None:
            return
        self._stopping.set()
        if thread is not None:
            thread.join(timeout=5)
        sock.close()
        with self._lock:
            transports, workers = list(self._transports), list(self._workers)
        for transport in transports:
            transport.close()
        for worker in workers:
            worker.join(timeout=5)
        self._socket = self._thread = None

    @property
    def port(self) -> int:
        if self._socket is None:
            raise RuntimeError("the SFTP server is not running")
        return self._socket.getsockname()[1]

    @property
    def running(self) -> bool:
        return self._socket is not None

    @property
    def host_key_public(self) -> str:
        """``ssh-ed25519 AAAA...``: what clients pin (Airflow connection extra ``host_key``)."""
        return f"{self.host_key.get_name()} {self.host_key.get_base64()}"

    def count(self, what: str) -> None:
        with self._lock:
            self._counts[what] = self._counts.get(what, 0) + 1

    def summary(self) -> dict[str, Any]:
        with self._lock:
            return {
                "host": self.host,
                "port": self.port,
                "user": self.user,
                "auth": [
                    m
                    for m, on in (
                        ("password", self.password is not None),
                        ("publickey", bool(self.authorized_keys)),
                    )
                    if on
                ],
                "connections": len(self._transports),
                "calls": dict(sorted(self._counts.items())),
            }

    # ------------------------------------------------------------------ connections
    def _accept_loop(self) -> None:
        assert self._socket is not None
        while not self._stopping.is_set():
            try:
                conn, address = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                raise
            conn.settimeout(None)
            worker = threading.Thread(
                target=self._serve, args=(conn, address), name=f"optimizely-sftp-{address[1]}", daemon=True
            )
            with self._lock:
                self._workers.add(worker)
            worker.start()

    def _serve(self, conn: socket.socket, address: Any) -> None:
        transport = paramiko.Transport(conn)
        with self._lock:
            self._transports.add(transport)
            self._counts["connections"] = self._counts.get("connections", 0) + 1
        try:
            transport.add_server_key(self.host_key)
            transport.set_subsystem_handler("sftp", paramiko.SFTPServer, _ChrootSftp, self)
            auth = _Authenticator(self.user, self.password, self.authorized_keys)
            auth.transport = transport
            try:
                transport.start_server(server=auth)
            except (paramiko.SSHException, EOFError, OSError) as exc:
                log.debug("SFTP negotiation with %s failed: %s", address, exc)
                return
            deadline = time.monotonic() + _NEGOTIATION_TIMEOUT
            channel = None
            while channel is None and transport.is_active() and not self._stopping.is_set():
                if time.monotonic() > deadline:
                    log.debug("SFTP client %s opened no session in time; closing", address)
                    return
                channel = transport.accept(timeout=0.2)  # short waits: notices a client that left
            if channel is None:
                return
            while transport.is_active() and not self._stopping.is_set():
                # Further channels are served by the transport itself; this only keeps the
                # connection's thread until the client leaves.
                transport.join(timeout=1.0)
        except Exception:  # a broken client must never take the server down
            log.exception("SFTP connection from %s failed", address)
        finally:
            transport.close()
            with self._lock:
                self._transports.discard(transport)
                self._workers.discard(threading.current_thread())
