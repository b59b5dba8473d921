"""Run the emulator in-process on a background thread (tests, the demo, the benchmarks).

with EmulatorServer(port=0) as emulator:          # port 0 = an ephemeral port
    wsdl = f"{emulator.base_url}/soap11/RpcSession?wsdl"
    emulator.control.add_fault("addAll3", "drop", when="after")
    emulator.state.lists[1001].recipients          # in-process state for assertions
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Self

from include.emulators.optimizely.app import Emulator
from include.emulators.optimizely.clock import ControllableClock
from include.emulators.optimizely.config import DEFAULT_SEED_PATH, EmulatorConfig
from include.emulators.optimizely.control import ControlClient
from include.emulators.optimizely.server import EmulatorHTTPServer
from include.emulators.optimizely.state import EmulatorState


class EmulatorServer:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        mandator_id: int = 1,
        user: str = "demo",
        password: str = "demo",
        seed_path: str | Path | None = None,
        session_ttl_seconds: float = 1200.0,
        max_concurrent_per_session: int = 10,
        allow_remote_control: bool = False,
        max_batch_size: int = 1000,
        max_export_rows: int = 1000,
        clock: ControllableClock | None = None,
    ) -> None:
        self.config = EmulatorConfig(
            host=host,
            port=port,
            mandator_id=mandator_id,
            user=user,
            password=password,
            seed_path=Path(seed_path) if seed_path else DEFAULT_SEED_PATH,
            session_ttl_seconds=session_ttl_seconds,
            max_concurrent_per_session=max_concurrent_per_session,
            allow_remote_control=allow_remote_control,
            max_batch_size=max_batch_size,
            max_export_rows=max_export_rows,
        )
        self.emulator = Emulator(self.config, clock)
        self._httpd: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> EmulatorServer:
        """Bind, listen and serve on a daemon thread; returns once connections are accepted."""
        if self._httpd is not None:
            return self
        httpd = EmulatorHTTPServer(
            (self.config.host, self.config.port), self.emulator, self.config.allow_remote_control
        )
        thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="optimizely-emulator", daemon=True
        )
        thread.start()
        self._httpd, self._thread = httpd, thread
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = self._thread = None

    def serve_forever(self) -> None:
        """Serve on the calling thread until ``stop()`` is called from elsewhere (used by the CLI)."""
        self.start()
        assert self._thread is not None
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- access
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

    def wsdl_url(self, service: str) -> str:
        """``wsdl_url("Recipient")`` -> ``http://127.0.0.1:PORT/soap11/RpcRecipient?wsdl``."""
        return f"{self.base_url}/soap11/Rpc{service}?wsdl"

    def endpoint(self, service: str) -> str:
        return f"{self.base_url}/soap11/Rpc{service}"

    @property
    def control(self) -> ControlClient:
        return ControlClient(self.base_url)

    @property
    def state(self) -> EmulatorState:
        return self.emulator.state

    @property
    def clock(self) -> ControllableClock:
        return self.emulator.clock

    def reset(self) -> None:
        """In-process equivalent of ``POST /_control/reset``."""
        self.emulator.reset()
