"""Settings of one Mailjet emulator instance (the CLI flags)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REST_PATH = "/v3/REST"
DATA_PATH = "/v3/DATA"


@dataclass(frozen=True)
class MailjetConfig:
    host: str = "127.0.0.1"
    port: int = 0
    api_key: str = "demo"
    secret_key: str = "demo"
    seed_path: Path | None = None
    allow_remote_control: bool = False
    #: requests per second per API key before 429 (None: no limit). Mailjet does not publish its
    #: numbers; the window is one second of the emulator clock, so a frozen clock makes it exact.
    requests_per_second: int | None = None
    #: emulated seconds a bulk job / CSV import takes from Allocated to Completed (0: at once)
    job_seconds: float = 0.0
    #: contacts one managemanycontacts call accepts (Mailjet does not publish it; a setting)
    max_contacts_per_job: int = 10_000
    max_limit: int = 1000
    default_limit: int = 10
