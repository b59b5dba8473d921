"""The operators' command line for held people: list shows them (addresses masked), resolve
releases them, and the next extraction includes them again (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

from include.crm_sync.extract import extract_snapshot
from include.crm_sync.feedback import apply_feedback_file
from include.crm_sync.feedback.holds import main
from tests.integration.extract.crm_state import add_sync_run, list_def, snapshot_rows
from tests.integration.feedback.conftest import LIST_CONSENTS, bounce, email_of, entity_id, write_csv


def test_list_and_resolve_holds(crm, tmp_path, capsys):
    url = crm.url.render_as_string(hide_password=False)
    path = write_csv(
        tmp_path / "b.csv",
        [
            bounce(entity_id(1), email_of(1), category="bounced-maybe"),
            bounce("", email_of(2) + "\u200b", category="spam"),
        ],
    )
    report = apply_feedback_file(
        crm, path, "bounces", list_consents=LIST_CONSENTS, now=datetime(2026, 2, 1, tzinfo=UTC)
    )
    assert report.held_entities == 2

    assert main(["--url", url, "list"]) == 0
    out = capsys.readouterr().out
    first = f"entity {entity_id(1)} (p***@e***.com), file {report.file_id} (b.csv) line 2: unknown category"
    assert first in out
    assert f"entity {entity_id(2)} (" in out and email_of(2) not in out  # addresses are masked
    assert "2 open hold(s)" in out

    add_sync_run(crm, "night-1")
    night = extract_snapshot(crm, list_def(consent="newsletter-nl"), run_id="night-1")
    assert night.excluded["feedback_held"] == 2

    assert main(["--url", url, "resolve", "--entity", entity_id(1), "--by", "ops: checked, no bounce"]) == 0
    assert "1 hold(s) resolved" in capsys.readouterr().out
    assert main(["--url", url, "resolve", "--entity", entity_id(1), "--by", "again"]) == 2
    assert main(["--url", url, "list", "--all"]) == 0
    out = capsys.readouterr().out
    assert "by ops: checked, no bounce]" in out and "1 open hold(s)" in out

    add_sync_run(crm, "night-2")
    night = extract_snapshot(crm, list_def(consent="newsletter-nl"), run_id="night-2")
    assert night.excluded["feedback_held"] == 1
    assert entity_id(1) in {row[1] for row in snapshot_rows(crm, night.list_run_id)}
