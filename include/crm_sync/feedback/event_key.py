"""Deterministic identity of a feedback event, so overlapping export windows store each event once.

The platform selects exports by file time, not event time, so consecutive windows overlap and the
same event arrives several times. Its identity is the hash of its normalised fields:

* ``event_key``: sha256 over kind, recipient id, normalised e-mail, category, UTC time (µs),
  list id and mailing id. Equal keys within one file are duplicates of one event.
* ``row_key``: what ``feedback_bounce``/``feedback_unsubscribe.event_key`` store. An event matched
  by e-mail may concern several CRM entities (a contact and a lead with one address): one row per
  (event, entity), keyed ``sha256(event_key || '|' || entity_id)`` (``entity_id`` empty when no
  entity matched). ``sql/feedback/match.sql`` computes it with PostgreSQL's built-in
  ``encode(sha256(convert_to(..., 'UTF8')), 'hex')``; SQLite gets those three functions
  registered from here (``register_sqlite_functions``), so one SQL text serves both.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable

KEY_VERSION = "v1"


def event_keys(
    kind: str,
    recipient_ids: Iterable[str],
    emails: Iterable[str],
    categories: Iterable[str],
    times: Iterable[str],
    list_ids: Iterable[str],
    mailing_ids: Iterable[str],
) -> list[str]:
    """Keys of many events at once; every input is a normalised string ('' for missing)."""
    sha = hashlib.sha256
    prefix = f"{KEY_VERSION}\x1f{kind}"
    return [
        sha("\x1f".join((prefix, r, e, c, t, li, m)).encode()).hexdigest()
        for r, e, c, t, li, m in zip(
            recipient_ids, emails, categories, times, list_ids, mailing_ids, strict=True
        )
    ]


def row_key(event_key: str, entity_id: str | None) -> str:
    """``sha256(event_key || '|' || coalesce(entity_id, ''))``, the same as the PostgreSQL SQL."""
    return hashlib.sha256(f"{event_key}|{entity_id or ''}".encode()).hexdigest()


def register_sqlite_functions(connection: sqlite3.Connection) -> None:
    """PostgreSQL's ``convert_to(text, 'UTF8')``, ``sha256(bytea)`` and ``encode(bytea, 'hex')``."""

    def convert_to(text: str, encoding: str) -> bytes:
        if encoding.upper().replace("-", "") != "UTF8":
            raise ValueError(f"convert_to: only UTF8 is supported, got {encoding!r}")
        return text.encode("utf-8")

    def encode(data: bytes, fmt: str) -> str:
        if fmt != "hex":
            raise ValueError(f"encode: only hex is supported, got {fmt!r}")
        return data.hex()

    connection.create_function("convert_to", 2, convert_to, deterministic=True)
    connection.create_function("sha256", 1, lambda data: hashlib.sha256(data).digest(), deterministic=True)
    connection.create_function("encode", 2, encode, deterministic=True)
