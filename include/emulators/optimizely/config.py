"""Settings of one emulator instance (the CLI flags), shared by the server and the runner."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_SEED_PATH = Path(__file__).with_name("seed.yaml")


@dataclass(frozen=True)
class EmulatorConfig:
    host: str = "127.0.0.1"
    port: int = 8089
    mandator_id: int = 1
    user: str = "demo"
    password: str = "demo"
    seed_path: Path = DEFAULT_SEED_PATH
    session_ttl_seconds: float = 1200.0
    max_concurrent_per_session: int = 10
    allow_remote_control: bool = False
    # The platform's documented ceilings; tests may lower them to keep data small.
    max_batch_size: int = 1000
    max_export_rows: int = 1000
    # The response-data job and its SFTP area (response_files.py); the SFTP server itself is
    # started by the runner (sftp_server.py). sftp_root None = a temporary folder.
    response_file_lifetime_days: float = 30
    response_job_interval_seconds: float = 86400.0
    sftp_root: Path | None = None
