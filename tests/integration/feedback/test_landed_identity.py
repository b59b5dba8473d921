"""A landed feedback file is trusted for exactly the bytes the ledger registered (issue 12, point 3, the
feedback side), on SQLite and PostgreSQL: bytes that change between registration and apply never
take effect under the registered sha256."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from include.crm_sync.feedback import LedgerConflictError, apply_feedback_file
from include.crm_sync.feedback import importer as feedback_importer
from tests.integration.feedback.conftest import (
    LIST_CONSENTS,
    bounce,
    crm_state,
    email_of,
    entity_id,
    ledger_rows,
)
from tests.integration.feedback.conftest import write_csv as write_rows

NOW = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)


def test_a_landed_file_rewritten_before_its_apply_is_not_applied(crm, tmp_path, monkeypatch):
    path = write_rows(
        tmp_path / "b.csv", [bounce(entity_id(1), email_of(1), "hardbounce", "2026-01-05T10:00:00Z")]
    )
    other = write_rows(
        tmp_path / "other.csv", [bounce(entity_id(2), email_of(2), "hardbounce", "2026-01-05T10:00:00Z")]
    )
    assert other.stat().st_size == path.stat().st_size
    real_apply = feedback_importer.apply_file

    def rewritten_then_applied(
        conn, file_path, *args, **kwargs
    ):  # someone rewrites the landed file meanwhile
        file_path.write_bytes(other.read_bytes())
        return real_apply(conn, file_path, *args, **kwargs)

    monkeypatch.setattr(feedback_importer, "apply_file", rewritten_then_applied)
    before = crm_state(crm)

    with pytest.raises(LedgerConflictError, match="changed since it was registered"):
        apply_feedback_file(crm, path, "bounces", list_consents=LIST_CONSENTS, now=NOW)

    assert crm_state(crm) == before  # neither the registered nor the rewritten content took effect
    assert [(r.file_name, r.status) for r in ledger_rows(crm)] == [("b.csv", "failed")]
