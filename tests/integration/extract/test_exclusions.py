"""Every exclusion reason is applied and counted, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from include.crm_sync.config import SQL_ROOT, parse_lists
from include.crm_sync.extract import ExclusionReason, ExtractionError, extract_snapshot
from include.crm_sync.staging import tables as t
from tests.integration.extract.crm_state import CrmState, list_def, snapshot_rows


def _excluded(**counts: int) -> dict[str, int]:
    return {reason.value: counts.get(reason.value, 0) for reason in ExclusionReason}


def test_each_reason_is_counted_once_and_the_rest_is_kept(staging_engine: sa.Engine) -> None:
    state = (
        CrmState()
        .entity("C01", "keep@example.com")
        .entity("C02", "no.row@example.com", consent=None)
        .entity("C03", "pending@example.com", consent="pending")
        .entity("C04", "other.consent@example.com", consent_id="events")  # holds a different consent only
        .entity("C05", "revoked@example.com", consent="revoked")
        .entity("C06", "unsub.address@example.com")
        .unsubscribe("unsub.address@example.com", consent_id="newsletter")
        .entity("C07", "unsub.global@example.com")
        .unsubscribe("unsub.global@example.com", consent_id=None)
        .entity("C08", "unsub.by.id@example.com")
        .unsubscribe(entity_id="C08", consent_id="newsletter")
        .entity("C09", "unsub.by.recipient@example.com")
        .unsubscribe(recipient_id="C09", consent_id=None)
        .entity("C10", "unsub.other@example.com")
        .unsubscribe("unsub.other@example.com", consent_id="events")
        .entity("C11", "bounced.entity@example.com", is_bounced=True)
        .entity("C12", "hard@example.com")
        .bounce("hard@example.com", "hardbounce")
        .entity("C13", "overflow@example.com")
        .bounce("overflow@example.com", "overflow")
        .entity("C14", "soft@example.com")
        .bounce("soft@example.com", "softbounce")
        .entity("C15", "blocked@example.com")
        .block("blocked@example.com")
        .entity("C16", "anyone@blocked.example")
        .block("*@blocked.example", is_pattern=True)
        .entity("C17", "spam@good.example")
        .block("spa?@*", is_pattern=True)
        .entity("C18", "under_score@example.com")
        .block("under%score@*", is_pattern=True)
        .entity("C19", None)
        .entity("C20", "   ")
        .entity("C21", "not-an-address")
        .entity("C22", "two@@example.com")
        .entity("C23", "  Mixed.Case@Example.COM ")
        .entity("C24", "shared@example.com")
        .entity("C25", "shared@example.com")
    )
    state.write(staging_engine)

    report = extract_snapshot(staging_engine, list_def(), run_id="run-1")

    assert report.selected == 25
    assert report.excluded == _excluded(
        no_consent=3,  # C02 no row, C03 pending, C04 only another consent
        unsubscribed=5,  # C05 revoked, C06 address, C07 global, C08 entity id, C09 recipient id
        entity_bounced=1,  # C11
        address_bounced=2,  # C12 hard, C13 overflow (C14 soft bounce is kept)
        blocklisted=3,  # C15 exact, C16 and C17 by pattern (C18: '%' in a pattern is literal)
        missing_address=2,  # C19 NULL, C20 blank
        invalid_address=2,  # C21, C22
        duplicate_address=1,  # C25 shares C24's address
    )
    kept = {row[1]: row[2] for row in snapshot_rows(staging_engine, report.list_run_id)}
    assert kept == {
        "C01": "keep@example.com",
        "C10": "unsub.other@example.com",
        "C14": "soft@example.com",
        "C18": "under_score@example.com",
        "C23": "mixed.case@example.com",
        "C24": "shared@example.com",
    }
    assert report.snapshot_rows == 6
    assert report.selected == report.snapshot_rows + report.excluded_total

    with staging_engine.connect() as conn:
        row = (
            conn.execute(sa.select(t.list_run).where(t.list_run.c.list_run_id == report.list_run_id))
            .mappings()
            .one()
        )
    assert row["status"] == "extracted"
    assert (row["selected"], row["snapshot_rows"], row["excluded"]) == (25, 6, report.excluded)
    assert (row["consent_id"], row["optin_process_id"], row["platform_list_id"]) == (
        "newsletter",
        "2001",
        "1001",
    )


def test_blocklist_wildcards_follow_the_platform(staging_engine: sa.Engine) -> None:
    state = (
        CrmState()
        .entity("C1", "spam@good.example")
        .entity("C2", "spax@good.example")
        .entity("C3", "sp@good.example")
        .entity("C4", "a@sub.blocked.example")
        .entity("C5", "a@blocked.example.org")
        .block("spa?@good.example", is_pattern=True)
        .block("*@*.blocked.example", is_pattern=True)
    )
    state.write(staging_engine)
    report = extract_snapshot(staging_engine, list_def(), run_id="run-1")
    assert report.excluded["blocklisted"] == 3  # spam, spax (? = one char), a@sub.blocked.example
    assert {r[1] for r in snapshot_rows(staging_engine, report.list_run_id)} == {"C3", "C5"}


def test_global_unsubscribe_does_not_revoke_a_service_consent(staging_engine: sa.Engine) -> None:
    # feedback_unsubscribe.consent_id NULL means "every marketing consent"; 'service' is not one.
    state = (
        CrmState()
        .entity("C1", "a@example.com", consent_id="service")
        .unsubscribe("a@example.com", consent_id=None)
        .entity("C2", "b@example.com", consent_id="service")
        .unsubscribe("b@example.com", consent_id="service")
    )
    state.write(staging_engine)
    report = extract_snapshot(staging_engine, list_def(consent="service"), run_id="run-1")
    assert report.excluded["unsubscribed"] == 1
    assert [r[1] for r in snapshot_rows(staging_engine, report.list_run_id)] == ["C1"]


def test_selection_filters_and_sql_file(staging_engine: sa.Engine) -> None:
    state = (
        CrmState()
        .entity("C1", "c1@example.com", language="nl")
        .entity("C2", "c2@example.com", language="FR")
        .entity("L1", "l1@example.com", entity_type="lead", language="fr")
        .entity("A1", "a1@example.com", entity_type="account", language="fr")
        .member("webinar_attendees", "C2")
        .member("webinar_attendees", "A1")
        .member("vip_accounts", "A1")
    )
    state.write(staging_engine)

    def kept(name: str, **overrides: object) -> list[str]:
        report = extract_snapshot(staging_engine, list_def(name=name, **overrides), run_id="run-1")
        return [r[1] for r in snapshot_rows(staging_engine, report.list_run_id)]

    assert kept("by_language", selection={"filter": {"languages": ["fr"]}}) == ["A1", "C2", "L1"]
    assert kept(
        "by_type", selection={"filter": {"entity_types": ["lead", "account"], "languages": ["FR"]}}
    ) == ["A1", "L1"]
    assert kept("by_list", selection={"filter": {"marketing_list": "webinar_attendees"}}) == ["A1", "C2"]
    assert kept("by_country", selection={"filter": {"countries": ["be"]}}) == ["A1", "C1", "C2", "L1"]
    assert kept("nobody", selection={"filter": {"countries": ["NL"]}}) == []
    # The shipped product_updates.sql: contacts and accounts, minus the vip_accounts members.
    assert kept(
        "by_sql",
        selection={"sql": "lists/product_updates.sql", "params": {"excluded_marketing_list": "vip_accounts"}},
    ) == ["C1", "C2"]


def test_snapshot_rows_carry_the_configured_attributes(staging_engine: sa.Engine) -> None:
    state = (
        CrmState()
        .entity("C1", "  Jane@Example.com", first_name="Zoë 中文")
        .entity("L1", "l@example.com", entity_type="lead", language=None)
    )
    state.write(staging_engine)
    definition = list_def(description="Dutch newsletter", optin_process_id="2003")
    report = extract_snapshot(staging_engine, definition, run_id="run-1")
    rows = snapshot_rows(staging_engine, report.list_run_id)
    assert rows == [
        (
            0,
            "C1",
            "jane@example.com",
            ("2003", "Dutch newsletter", "email", "contact", "C1", "Zoë 中文", "Last C1", "nl", "Gent"),
        ),
        (
            1,
            "L1",
            "l@example.com",
            ("2003", "Dutch newsletter", "email", "lead", "L1", "First L1", "Last L1", "", "Gent"),
        ),
    ]
    with staging_engine.connect() as conn:
        names = conn.execute(sa.select(t.list_run.c.attribute_names)).scalar_one()
    assert names == list(definition.attribute_names)


def test_refused_without_successful_feedback_import(staging_engine: sa.Engine) -> None:
    CrmState().entity("C1", "a@example.com").write(staging_engine, feedback_ok=False)
    with pytest.raises(ExtractionError, match="feedback import of run 'run-1' has not succeeded"):
        extract_snapshot(staging_engine, list_def(), run_id="run-1")
    with staging_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.list_run)).scalar_one() == 0
    # Tools may opt out explicitly (a dry run against the CRM as it is).
    report = extract_snapshot(staging_engine, list_def(), run_id="run-1", require_feedback=False)
    assert report.snapshot_rows == 1


def test_refused_for_unknown_run_or_consent(staging_engine: sa.Engine) -> None:
    CrmState().entity("C1", "a@example.com").write(staging_engine)
    with pytest.raises(ExtractionError, match="sync run 'other' does not exist"):
        extract_snapshot(staging_engine, list_def(), run_id="other")
    with pytest.raises(ExtractionError, match="consent 'newsleter' does not exist in crm_consent_type"):
        extract_snapshot(staging_engine, list_def(consent="newsleter"), run_id="run-1")


def test_a_failing_selection_marks_the_list_run_failed_without_leaking_addresses(
    staging_engine: sa.Engine, tmp_path: Path
) -> None:
    CrmState().entity("C1", "a@example.com").write(staging_engine)
    sql_root = tmp_path / "sql"
    shutil.copytree(SQL_ROOT / "queries", sql_root / "queries")
    (sql_root / "lists").mkdir()
    # The database's error message quotes the (address-like) table name.
    (sql_root / "lists" / "broken.sql").write_text('SELECT entity_id FROM "jane.doe@example.com"')
    definition = parse_lists(
        "lists:\n  - name: broken\n    platform_list_id: 1\n    optin_process_id: 1\n"
        "    consent: newsletter\n"
        "    selection: {sql: lists/broken.sql}\n",
        sql_root=sql_root,
    ).lists[0]
    masked = re.escape("j***@e***.com")
    with pytest.raises(ExtractionError, match=f"list broken: extraction failed: .*{masked}") as info:
        extract_snapshot(staging_engine, definition, run_id="run-1", sql_root=sql_root)
    assert "jane.doe@example.com" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    with staging_engine.connect() as conn:
        status, error = conn.execute(sa.select(t.list_run.c.status, t.list_run.c.error)).one()
    assert status == "failed"
    assert error.startswith("extraction failed: ") and "j***@e***.com" in error
    assert "jane.doe@example.com" not in error
