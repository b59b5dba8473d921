"""Run the Mailjet emulator in-process on a background thread (tests, the demo, the benchmarks).

with MailjetEmulatorServer(port=0, api_key="k", secret_key="s") as mailjet:
    mailjet.api_url             # http://127.0.0.1:PORT/  (mailjet_rest.Client(api_url=...))
    mailjet.control.signup("Newsletter", "a@example.com")
    mailjet.state.memberships   # in-process state for assertions
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from include.emulators.kit.clock import ControllableClock
from include.emulators.kit.runner import HttpRunner
from include.emulators.mailjet.app import MailjetApp
from include.emulators.mailjet.config import MailjetConfig
from include.emulators.mailjet.control import MailjetControl, MailjetControlClient
from include.emulators.mailjet.state import MailjetState


class MailjetEmulatorServer(HttpRunner):
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str = "demo",
        secret_key: str = "demo",
        seed_path: str | Path | None = None,
        allow_remote_control: bool = False,
        requests_per_second: int | None = None,
        job_seconds: float = 0.0,
        max_contacts_per_job: int = 10_000,
        clock: ControllableClock | None = None,
    ) -> None:
        self.config = MailjetConfig(
            host=host,
            port=port,
            api_key=api_key,
            secret_key=secret_key,
            seed_path=Path(seed_path) if seed_path else None,
            allow_remote_control=allow_remote_control,
            requests_per_second=requests_per_second,
            job_seconds=job_seconds,
            max_contacts_per_job=max_contacts_per_job,
        )
        self.emulator = MailjetApp(self.config, clock)
        super().__init__(
            self.emulator,
            MailjetControl(self.emulator),
            host=host,
            port=port,
            allow_remote_control=allow_remote_control,
            name="mailjet-emulator",
            server_name_header="MailjetEmulator/1.0",
        )

    def __enter__(self) -> Self:
        return self.start()

    @property
    def api_url(self) -> str:
        """What ``mailjet_rest.Client(api_url=...)`` and the ``mailjet_default`` connection's host take."""
        return f"{self.base_url}/"

    @property
    def control(self) -> MailjetControlClient:
        return MailjetControlClient(self.base_url)

    @property
    def state(self) -> MailjetState:
        return self.emulator.state
