"""Property (issue 12 point 0): whatever check a bounce or unsubscribe row fails, the person it names
by a usable field is never extracted again, on SQLite and PostgreSQL: the row is applied (an id or
address identifies them, a bad date is replaced by the time of receipt) or it holds them.

A row may damage its recipient id and its address (blank, a non-printable character, longer than
its column, a spreadsheet-formula-like start of an address the CRM really has), its category and
its date; it always names its person by at least one value the CRM can recognise once cleaned.
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import count

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

from include.crm_sync.extract import extract_snapshot
from include.crm_sync.feedback import apply_feedback_file
from tests.integration.extract.crm_state import add_sync_run, list_def, snapshot_rows
from tests.integration.feedback.conftest import (
    LIST_CONSENTS,
    bounce,
    reset_feedback,
    seed_crm,
    unsubscribe,
    write_csv,
)

NOW = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
#: addresses may legally start with - + = (and the CRM has such people)
PEOPLE = [
    (f"P{i}", address)
    for i, address in enumerate(
        ["a@example.com", "-b@example.com", "+c@example.com", "=d@example.com", "e@example.com"]
    )
]
#: how one identifying value arrives; "clean" and "invisible" still name the person once cleaned
USABLE = ("clean", "invisible")
BROKEN = ("blank", "too_long")
DATES = {
    "ok": "2026-01-05T10:00:00.000000Z",
    "future": "2099-01-01T00:00:00.000000Z",
    "ancient": "1970-01-01T00:00:00.000000Z",
    "garbage": "yesterday",
}

row = st.fixed_dictionaries(
    {
        "who": st.integers(0, len(PEOPLE) - 1),
        "kind": st.sampled_from(["bounces", "unsubscribes"]),
        "id": st.sampled_from(USABLE + BROKEN),
        "email": st.sampled_from(USABLE + BROKEN),
        "category": st.sampled_from(["ok", "ok", "unknown"]),
        "date": st.sampled_from(sorted(DATES)),
        "list_id": st.sampled_from(["1001", "", "9" * 70]),
    }
).filter(lambda r: r["id"] in USABLE or r["email"] in USABLE)  # named by at least one usable value

_runs = count(1)


def _damage(value: str, how: str) -> str:
    return {"clean": value, "invisible": value + "\u200b", "blank": "", "too_long": value + "x" * 400}[how]


def _line(spec: dict) -> list[str]:
    entity_id, address = PEOPLE[spec["who"]]
    rid, email = _damage(entity_id, spec["id"]), _damage(address, spec["email"])
    at = DATES[spec["date"]]
    if spec["kind"] == "bounces":
        return bounce(
            rid, email, "bogus" if spec["category"] == "unknown" else "hardbounce", at, spec["list_id"]
        )
    line = unsubscribe(rid, email, at, spec["list_id"])
    line[2] = "unsubscribed-maybe" if spec["category"] == "unknown" else "unsubscribe"
    return line


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row, min_size=1, max_size=6))
def test_nobody_whose_no_was_received_is_extracted_again(staging_engine, tmp_path, rows):
    engine = staging_engine  # one database for all examples: each starts from the seeded CRM
    if not getattr(engine, "_failsafe_seeded", False):
        seed_crm(engine, PEOPLE)
        engine._failsafe_seeded = True  # type: ignore[attr-defined]
    reset_feedback(engine)
    run = next(_runs)
    for kind in ("bounces", "unsubscribes"):
        lines = [_line(r) for r in rows if r["kind"] == kind]
        if lines:
            apply_feedback_file(
                engine,
                write_csv(tmp_path / f"{kind}-{run}.csv", lines),
                kind,
                list_consents=LIST_CONSENTS,
                now=NOW,
            )
    add_sync_run(engine, f"night-{run}")
    night = extract_snapshot(engine, list_def(consent="newsletter-nl"), run_id=f"night-{run}")
    kept = {r[1] for r in snapshot_rows(engine, night.list_run_id)}
    said_no = {PEOPLE[r["who"]][0] for r in rows}
    assert not said_no & kept, (rows, night.excluded)
    assert {p for p, _ in PEOPLE} - said_no <= kept
