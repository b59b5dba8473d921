"""Run an emulator's HTTP front in-process on a background thread (tests, the demo, benchmarks).

Each emulator's ``EmulatorServer`` builds its application and control router and hands them to
``HttpRunner``; ``start()`` returns once the socket listens (port 0 = an ephemeral port), so a
test can use ``base_url`` at once; ``stop()`` also closes keep-alive connections.
"""

from __future__ import annotations

import threading
from typing import Self

from include.emulators.kit.http import App, ControlHandler, KitHTTPServer


class HttpRunner:
    def __init__(
        self,
        app: App,
        control: ControlHandler,
        host: str = "127.0.0.1",
        port: int = 0,
        allow_remote_control: bool = False,
        name: str = "emulator",
        server_name_header: str = "Emulator/1.0",
    ) -> None:
        self.app = app
        self.control_handler = control
        self.host = host
        self.requested_port = port
        self.allow_remote_control = allow_remote_control
        self.name = name
        self.server_name_header = server_name_header
        self._httpd: KitHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def bind(self) -> KitHTTPServer:
        """Bind and listen without serving yet (so a caller can start other parts in between)."""
        if self._httpd is None:
            self._httpd = KitHTTPServer(
                (self.host, self.requested_port),
                self.app,
                self.control_handler,
                self.allow_remote_control,
                self.server_name_header,
            )
        return self._httpd

    def start(self) -> Self:
        """Bind, listen and serve on a daemon thread; returns once connections are accepted."""
        if self._thread is not None:
            return self
        httpd = self.bind()
        thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name=self.name, daemon=True
        )
        thread.start()
        self._thread = thread
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        if thread is not None:
            httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = self._thread = None

    def serve_forever(self) -> None:
        """Serve on the calling thread until ``stop()`` is called from elsewhere."""
        self.start()
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the emulator is not running")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the emulator is not running")
        return self._httpd.base_url
