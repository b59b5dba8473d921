"""Run the Flexmail emulator in-process on a background thread (tests, the demo, the benchmarks).

with FlexmailEmulatorServer(port=0, account_id="1000", token="t") as flexmail:
    flexmail.base_url                     # http://127.0.0.1:PORT (the flexmail_default host)
    flexmail.control.label_members(101)   # a FlexmailControlClient over HTTP
    flexmail.clock                        # the emulated clock (rate limit, imports)
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from include.emulators.flexmail.app import FlexmailApp
from include.emulators.flexmail.config import FlexmailConfig
from include.emulators.flexmail.control import FlexmailControl, FlexmailControlClient
from include.emulators.flexmail.seed import DEFAULT_SEED_PATH
from include.emulators.flexmail.state import FlexmailState
from include.emulators.kit.clock import ControllableClock
from include.emulators.kit.runner import HttpRunner


class FlexmailEmulatorServer(HttpRunner):
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        account_id: str = "1000",
        token: str = "demo-token",
        seed_path: str | Path | None = None,
        requests_per_minute: int = 60,
        allow_remote_control: bool = False,
        clock: ControllableClock | None = None,
        **settings: float,
    ) -> None:
        self.config = FlexmailConfig(
            host=host,
            port=port,
            account_id=str(account_id),
            token=token,
            seed_path=Path(seed_path) if seed_path else DEFAULT_SEED_PATH,
            allow_remote_control=allow_remote_control,
            requests_per_minute=requests_per_minute,
            **settings,  # type: ignore[arg-type]
        )
        self.emulator = FlexmailApp(self.config, clock)
        super().__init__(
            self.emulator,
            FlexmailControl(self.emulator),
            host=host,
            port=port,
            allow_remote_control=allow_remote_control,
            name="flexmail-emulator",
            server_name_header="FlexmailEmulator/1.0",
        )

    def __enter__(self) -> Self:
        return self.start()

    @property
    def control(self) -> FlexmailControlClient:
        return FlexmailControlClient(self.base_url)

    @property
    def state(self) -> FlexmailState:
        return self.emulator.state

    @property
    def clock(self) -> ControllableClock:
        return self.emulator.clock
