"""Run the emulator in-process on a background thread (tests, the demo, the benchmarks): the
shared kit's HTTP runner (include/emulators/kit/runner.py) plus this emulator's SFTP server.

with EmulatorServer(port=0) as emulator:          # port 0 = an ephemeral port
    wsdl = f"{emulator.base_url}/soap11/RpcSession?wsdl"
    emulator.control.add_fault("addAll3", "drop", when="after")
    emulator.state.lists[1001].recipients          # in-process state for assertions

with EmulatorServer(port=0, sftp_port=0) as emulator:   # also serve the response files over SFTP
    emulator.sftp_port, emulator.sftp_host_key_line     # what a client connects to and pins
    emulator.control.run_response_job()                 # the platform's response-data job, now
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

from include.emulators.kit.runner import HttpRunner
from include.emulators.optimizely.app import Emulator
from include.emulators.optimizely.clock import ControllableClock
from include.emulators.optimizely.config import DEFAULT_SEED_PATH, EmulatorConfig
from include.emulators.optimizely.control import ControlApi, ControlClient
from include.emulators.optimizely.host_key import fingerprint, load_or_create_host_key, public_key_line
from include.emulators.optimizely.response_files import ResponseFileStore
from include.emulators.optimizely.server import SERVER_NAME, SoapHttpApp
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
        *,
        sftp_port: int | None = None,
        sftp_user: str = "demo",
        sftp_password: str | None = "demo",
        sftp_authorized_keys: list[str | Path] | tuple[str | Path, ...] = (),
        host_key_path: str | Path | None = None,
        sftp_root: str | Path | None = None,
        response_file_lifetime_days: float = 30,
        response_job_interval_seconds: float = 86400.0,
    ) -> None:
        """``sftp_port``: None = no SFTP server, 0 = an ephemeral port. ``host_key_path``: the
        host key file (generated there once if missing); None = a key in memory only."""
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
            response_file_lifetime_days=response_file_lifetime_days,
            response_job_interval_seconds=response_job_interval_seconds,
            sftp_root=Path(sftp_root) if sftp_root else None,
        )
        self.emulator = Emulator(self.config, clock)
        self._http = HttpRunner(
            SoapHttpApp(self.emulator),
            ControlApi(self.emulator),
            host=host,
            port=port,
            allow_remote_control=allow_remote_control,
            name="optimizely-emulator",
            server_name_header=SERVER_NAME,
        )
        self._sftp: Any = None
        if sftp_port is not None:
            # Imported here: paramiko is only needed when the SFTP side runs.
            from include.emulators.optimizely.sftp_server import SftpServer, read_authorized_keys

            self._sftp = SftpServer(
                self.emulator.response_files,
                self.emulator.sftp_faults,
                load_or_create_host_key(host_key_path),
                host=host,
                port=sftp_port,
                user=sftp_user,
                password=sftp_password,
                authorized_keys=read_authorized_keys(list(sftp_authorized_keys)),
            )
            self.emulator.sftp = self._sftp

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> EmulatorServer:
        """Bind, listen and serve on a daemon thread; returns once connections are accepted."""
        if self._http.running:
            return self
        self._http.bind()
        if self._sftp is not None:
            try:
                self._sftp.start()
            except OSError as exc:
                self._http.stop()
                raise OSError(
                    exc.errno,
                    f"SFTP server on {self.config.host}:{self._sftp.requested_port}: {exc.strerror or exc}",
                ) from exc
        self._http.start()
        return self

    def stop(self) -> None:
        if not self._http.running:
            return
        if self._sftp is not None:
            self._sftp.stop()
        self._http.stop()

    def serve_forever(self) -> None:
        """Serve on the calling thread until ``stop()`` is called from elsewhere (used by the CLI)."""
        self.start()
        self._http.serve_forever()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- access
    @property
    def running(self) -> bool:
        return self._http.running

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def base_url(self) -> str:
        return self._http.base_url

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

    def close(self) -> None:
        """Stop, and remove the temporary SFTP area (if the emulator made one)."""
        self.stop()
        self.emulator.response_files.close()

    # ---------------------------------------------------------------- SFTP side
    @property
    def response_files(self) -> ResponseFileStore:
        """The response-data job and its files (in-process; ``control.run_response_job()`` over HTTP)."""
        return self.emulator.response_files

    @property
    def sftp(self) -> Any:
        """The running ``SftpServer`` (``host``, ``port``, ``user``, ``host_key_public``), or None."""
        return self._sftp if self._sftp is not None and self._sftp.running else None

    @property
    def sftp_port(self) -> int:
        if self._sftp is None or not self._sftp.running:
            raise RuntimeError(
                "the SFTP server is not running (start the emulator with sftp_port=0 or a port)"
            )
        return self._sftp.port

    @property
    def sftp_host_key_line(self) -> str:
        """``ssh-ed25519 AAAA...``: the host key a client pins (Airflow connection extra ``host_key``)."""
        if self._sftp is None:
            raise RuntimeError("the emulator has no SFTP server")
        return public_key_line(self._sftp.host_key)

    @property
    def sftp_fingerprint(self) -> str:
        if self._sftp is None:
            raise RuntimeError("the emulator has no SFTP server")
        return fingerprint(self._sftp.host_key)
