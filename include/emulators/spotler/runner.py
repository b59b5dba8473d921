"""Run the Spotler emulator in-process on a background thread (tests, the demo, the benchmarks).

with SpotlerEmulatorServer(port=0, consumer_key="k", consumer_secret="s") as spotler:
    spotler.api_url                       # http://127.0.0.1:PORT/integrationservice-1.1.0
    spotler.control.set_in_use("top-100")  # a SpotlerControlClient over HTTP
    spotler.state.audiences["top-100"].members   # in-process state for assertions
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from include.emulators.kit.clock import ControllableClock
from include.emulators.kit.runner import HttpRunner
from include.emulators.spotler.app import SpotlerApp
from include.emulators.spotler.config import BASE_PATH, SpotlerConfig
from include.emulators.spotler.control import SpotlerControl, SpotlerControlClient
from include.emulators.spotler.seed import DEFAULT_SEED_PATH
from include.emulators.spotler.state import SpotlerState


class SpotlerEmulatorServer(HttpRunner):
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        consumer_key: str = "demo",
        consumer_secret: str = "demo",
        seed_path: str | Path | None = None,
        automation_product: bool = True,
        allow_remote_control: bool = False,
        max_audiences: int = 100,
        oauth_window_seconds: float = 300.0,
        clock: ControllableClock | None = None,
    ) -> None:
        self.config = SpotlerConfig(
            host=host,
            port=port,
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            seed_path=Path(seed_path) if seed_path else DEFAULT_SEED_PATH,
            automation_product=automation_product,
            allow_remote_control=allow_remote_control,
            max_audiences=max_audiences,
            oauth_window_seconds=oauth_window_seconds,
        )
        self.emulator = SpotlerApp(self.config, clock)
        super().__init__(
            self.emulator,
            SpotlerControl(self.emulator),
            host=host,
            port=port,
            allow_remote_control=allow_remote_control,
            name="spotler-emulator",
            server_name_header="SpotlerMailPlusEmulator/1.0",
        )

    def __enter__(self) -> Self:
        return self.start()

    @property
    def api_url(self) -> str:
        """The base URL a client (and the ``spotler_default`` connection's host) uses."""
        return f"{self.base_url}{BASE_PATH}"

    @property
    def control(self) -> SpotlerControlClient:
        return SpotlerControlClient(self.base_url)

    @property
    def state(self) -> SpotlerState:
        return self.emulator.state

    @property
    def clock(self) -> ControllableClock:
        return self.emulator.clock

    def reset(self) -> None:
        """In-process equivalent of ``POST /_control/reset``."""
        self.emulator.reset()
