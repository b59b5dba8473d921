"""Settings of the response import: ``config/response_import.yaml`` (or ``$CRM_SYNC_RESPONSE_CONFIG``).

A data engineer edits the file, not Python: where the platform puts its response files, how long
it keeps them (the gap detector's limit), what to do with imported files on the server, and which
platform mailings belong to which CRM campaign. Errors name the file and the field.
"""

from __future__ import annotations

import os
import posixpath
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from include.crm_sync.config.paths import PROJECT_ROOT
from include.crm_sync.imports.event_dates import EventDateRules
from include.crm_sync.responses.errors import ResponseConfigError

DEFAULT_SETTINGS_PATH = PROJECT_ROOT / "config" / "response_import.yaml"
SETTINGS_FILE_ENV = "CRM_SYNC_RESPONSE_CONFIG"


class ResponseImportSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: platform name (export watermark ``<platform>:response_files``, list -> consent mapping)
    platform: str = "optimizely"
    #: remote folder of the response files
    remote_dir: str = "/responses"
    #: glob of the response file names in it
    file_pattern: str = "responses_*.csv"
    #: how long the platform keeps response files (days): a longer import gap may have lost data
    file_lifetime_days: float = Field(14, gt=0, le=30)
    #: what happens to imported files on the server: keep (default), delete, or move to ``move_to``
    after_import: Literal["keep", "delete", "move"] = "keep"
    move_to: str | None = None
    #: rows per parsed chunk (memory stays flat whatever the file size)
    chunk_rows: int = Field(50_000, ge=100, le=1_000_000)
    #: an event dated more than this ahead of its receipt cannot be true (issue 12 point 8)
    max_clock_skew_minutes: float = Field(60, ge=0, le=24 * 60)
    #: an event dated before this day cannot have been sent by the platform
    earliest_event_date: date = date(2000, 1, 1)
    #: platform mailing id -> CRM campaign id (closed-loop wave ids in the files add more)
    mailing_campaigns: dict[str, str] = Field(default_factory=dict)

    @field_validator("remote_dir", "move_to")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith("/"):
            raise ValueError("must be an absolute remote path, e.g. /responses")
        return posixpath.normpath(value)

    @field_validator("mailing_campaigns", mode="before")
    @classmethod
    def _strings(cls, value: object) -> object:
        if isinstance(value, dict):
            for mailing, campaign in value.items():
                if campaign is None or str(campaign).strip() == "":
                    raise ValueError(f"mailing {mailing}: empty CRM campaign id")
            return {str(k).strip(): str(v).strip() for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _move_target(self) -> ResponseImportSettings:
        if self.after_import == "move":
            if not self.move_to:
                raise ValueError("after_import: move needs move_to (a remote folder)")
            if self.move_to == self.remote_dir:
                raise ValueError("move_to must differ from remote_dir")
        for campaign in self.mailing_campaigns.values():
            if len(campaign) > 64:
                raise ValueError(f"CRM campaign id {campaign[:20]}... is longer than 64 characters")
        return self

    @property
    def export_name(self) -> str:
        """The ``export_watermark`` row recording the last successful import (gap detection)."""
        return f"{self.platform}:response_files"


def resolve_settings_path(path: Path | str | None = None) -> Path:
    if path is not None:
        return Path(path)
    return Path(os.environ.get(SETTINGS_FILE_ENV) or DEFAULT_SETTINGS_PATH)


def load_response_settings(path: Path | str | None = None) -> ResponseImportSettings:
    """The settings from ``path`` (default: ``$CRM_SYNC_RESPONSE_CONFIG``, else
    config/response_import.yaml)."""
    path = resolve_settings_path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ResponseConfigError(f"{path}: cannot read the response import settings: {exc}") from None
    except yaml.YAMLError as exc:
        raise ResponseConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise ResponseConfigError(f"{path}: expected a mapping of settings at the top level")
    try:
        return ResponseImportSettings(**document)
    except ValidationError as exc:
        problems = "; ".join(
            f"field '{'.'.join(str(p) for p in error['loc']) or '<top>'}': {error['msg']}"
            for error in exc.errors()
        )
        raise ResponseConfigError(f"{path}: invalid response import settings: {problems}") from None


def event_date_rules(settings: ResponseImportSettings) -> EventDateRules:
    """Which event times of the response files can be true (``imports.event_dates``)."""
    return EventDateRules(
        max_skew=timedelta(minutes=settings.max_clock_skew_minutes),
        earliest=datetime.combine(settings.earliest_event_date, time(0), tzinfo=UTC),
    )
