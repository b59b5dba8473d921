"""Settings of one Spotler emulator instance (the CLI flags)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from include.emulators.spotler.seed import DEFAULT_SEED_PATH

BASE_PATH = "/integrationservice-1.1.0"


@dataclass(frozen=True)
class SpotlerConfig:
    host: str = "127.0.0.1"
    port: int = 0
    consumer_key: str = "demo"
    consumer_secret: str = "demo"
    seed_path: Path = DEFAULT_SEED_PATH
    # False: the account has neither the Automation nor the eCommerce product (every audience call 403).
    automation_product: bool = True
    allow_remote_control: bool = False
    # The documented limits; the audience maximum is not published, so it is a setting.
    max_audiences: int = 100
    max_contacts_per_upsert: int = 100
    max_ids_per_call: int = 2500
    max_page_size: int = 1000
    oauth_window_seconds: float = 300.0
