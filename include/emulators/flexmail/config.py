"""Settings of one Flexmail emulator instance (the CLI flags)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from include.emulators.flexmail.seed import DEFAULT_SEED_PATH


@dataclass(frozen=True)
class FlexmailConfig:
    host: str = "127.0.0.1"
    port: int = 0
    account_id: str = "1000"
    token: str = "demo-token"
    seed_path: Path = DEFAULT_SEED_PATH
    allow_remote_control: bool = False
    #: requests per account per 60 emulated seconds (a third-party connector states ~60)
    requests_per_minute: int = 60
    #: HAL paging: the largest ``limit`` accepted
    max_page_size: int = 500
    #: records one ``POST /contacts/imports/{id}/records`` takes (not documented; a choice)
    max_import_records: int = 500
    #: emulated seconds an import takes: queued -> processing after 1 s, completed after
    #: ``import_base_seconds + records / import_records_per_second``
    import_base_seconds: float = 5.0
    import_records_per_second: float = 1000.0
