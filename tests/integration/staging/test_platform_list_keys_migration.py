"""Migration 0005: list runs stored under an old spelling of an Optimizely id join the list's history."""

from __future__ import annotations

import sqlalchemy as sa

from include.crm_sync.staging.engine import create_staging_engine
from include.crm_sync.staging.migrate import upgrade

_RUN = (
    "INSERT INTO list_run (list_run_id, run_id, list_name, platform, platform_list_id, optin_process_id,"
    " consent_id, attribute_names, status, snapshot_rows, started_at)"
    " VALUES (:id, 'r1', :name, :platform, :list_id, :optin, 'newsletter', '[]', 'synced', 10, :at)"
)


def test_stored_optimizely_ids_are_rewritten_in_canonical_form(fresh_url: str) -> None:
    upgrade(fresh_url, "0004")
    engine = create_staging_engine(fresh_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO sync_run (run_id, status, feedback_ok, started_at)"
                    " VALUES ('r1', 'done', true, :at)"
                ),
                {"at": "2026-12-01 00:00:00+00:00"},
            )
            for i, (name, platform, list_id, optin) in enumerate(
                [
                    ("a", "optimizely", "01001", "02001"),
                    ("b", "optimizely", " 1002 ", "0"),
                    ("c", "optimizely", "not-a-number", "2001"),
                    ("d", "spotler", "007-audience", ""),
                ]
            ):
                conn.execute(
                    sa.text(_RUN),
                    {
                        "id": i + 1,
                        "name": name,
                        "platform": platform,
                        "list_id": list_id,
                        "optin": optin,
                        "at": "2026-12-01 00:00:00+00:00",
                    },
                )
        engine.dispose()

        upgrade(fresh_url)

        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT list_name, platform_list_id, optin_process_id FROM list_run ORDER BY list_name"
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            ("a", "1001", "2001"),
            ("b", "1002", "0"),
            ("c", "not-a-number", "2001"),  # nothing can be guessed about it: left as it was
            ("d", "007-audience", ""),  # not Optimizely: Spotler ids are exact
        ]
        long_id = "x" * 255  # a Spotler audience external id may be this long
        with engine.begin() as conn:
            conn.execute(
                sa.text(_RUN),
                {
                    "id": 9,
                    "name": "e",
                    "platform": "spotler",
                    "list_id": long_id,
                    "optin": "",
                    "at": "2026-12-01 00:00:00+00:00",
                },
            )
            assert (
                conn.execute(sa.text("SELECT platform_list_id FROM list_run WHERE list_run_id = 9")).scalar()
                == long_id
            )
    finally:
        engine.dispose()
