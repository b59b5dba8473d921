"""What the membership-sync benchmarks (Spotler: ``spotler.py``, Mailjet: ``mailjet.py``) share.

A benchmark night of one list, each step a fresh process (``bench.common.proc.run_step``):

1. ``setup_run_step``: the sync run, its platform feedback marked done (the feedback imports are
   measured by their own scenario; a membership sync only requires that it succeeded);
   ``remember_members_step`` copies the membership record as it stands before the night (the
   limit replays exactly what the night changed, read back against it).
2. ``extract_step``: extract -> validate, the domain functions the DAG's tasks call.
3. ``sync_step``: ``sync_membership`` as ``sync_tasks._membership_sync`` calls it (writer guard,
   the CRM opt-out sink, the list's removal guard); its peak RSS is the sync's own.
4. The platform's ``limit_step``: the same platform calls, pre-built, posted over one keep-alive
   connection (the sync has one call in flight), nothing else timed.
5. ``plan_step``: the fewest calls the night could have made, from the two snapshots
   (``sql/bench/membership_plan.sql``), independent of what the sync decided to send.

Night 2 follows ``churn_step`` (``sql/bench/churn_*.sql``): about 2 % of the list changes -- 0.5 %
consents revoked, 0.5 % bounced, 1 % new consented people -- and 1 % of the members get a changed
uploaded field.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

LISTS_PATH = Path(__file__).with_name("membership_lists.yaml")
#: the record of the list before the night: bench_members_before_<night> in the copy
BEFORE_TABLE = "bench_members_before_{night}"
#: churn: every EVERY-th member revoked (seq % EVERY = 0), every EVERY-th bounced (= EVERY / 2),
#: so 1 % leaves; every FIELDS_EVERY-th gets a changed field; GRANT_SHARE of the list joins
CHURN_EVERY, CHURN_FIELDS_EVERY, CHURN_GRANT_SHARE = 200, 100, 0.01


class PlatformBench(Protocol):
    """What a platform module gives the shared steps."""

    NAME: str

    def open_platform(self, api_url: str, engine: Any) -> AbstractContextManager[Any]: ...

    def target(self, list_def: Any) -> Any: ...


def _engine(url: str):  # noqa: ANN202
    from include.crm_sync.staging.engine import create_staging_engine

    return create_staging_engine(url)


def list_definition(list_name: str):  # noqa: ANN201
    from include.crm_sync.config.loader import load_lists

    return load_lists(LISTS_PATH).get(list_name)


# ---------------------------------------------------------------------- steps (child processes)


def setup_run_step(url: str, run_id: str, platform: str) -> dict:
    """Open the sync run and mark its feedback import of ``platform`` (and the run's) done."""
    from include.crm_sync.audit.runs import mark_feedback_ok, start_sync_run

    engine = _engine(url)
    start_sync_run(engine, run_id, dag_id="bench")
    mark_feedback_ok(engine, run_id, platform=platform)
    mark_feedback_ok(engine, run_id)
    engine.dispose()
    return {}


def remember_members_step(url: str, platform: str, list_id: str, night: int) -> dict:
    """Copy the list's membership record (member, in the list?) into the night's BEFORE table."""
    import sqlalchemy as sa

    table = BEFORE_TABLE.format(night=int(night))
    engine = _engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
        conn.execute(
            sa.text(
                f"CREATE TABLE {table} AS SELECT member_id, in_audience FROM platform_membership "
                "WHERE platform = :platform AND platform_list_id = :list_id"
            ),
            {"platform": platform, "list_id": list_id},
        )
        conn.exec_driver_sql(f"ALTER TABLE {table} ADD PRIMARY KEY (member_id)")
        members = conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE in_audience")).scalar_one()
    engine.dispose()
    return {"members": members}


def extract_step(url: str, run_id: str, list_name: str) -> dict:
    """extract -> validate one list, as the DAG's extract and validate tasks do."""
    from bench.scenarios.extraction import extract_and_validate

    engine = _engine(url)
    try:
        extracted, extract_s, validate_s = extract_and_validate(engine, list_definition(list_name), run_id)
    finally:
        engine.dispose()
    return {
        "list_run_id": extracted.list_run_id,
        "recipients": extracted.snapshot_rows,
        "selected": extracted.selected,
        "extract_s": round(extract_s, 2),
        "validate_s": round(validate_s, 2),
    }


def sync_step(
    url: str, module: str, api_url: str, list_name: str, list_run_id: int, run_id: str, landing_dir: str
) -> dict:
    """``sync_membership`` of one list run, as the DAG's sync task calls it; seconds, report, calls."""
    import importlib

    from include.crm_sync.sync.membership import MembershipOptions, sync_membership
    from include.crm_sync.sync.membership_guard import newest_snapshot_writer_guard
    from include.crm_sync.sync.membership_optouts import crm_opt_out_sink

    bench: PlatformBench = importlib.import_module(module)
    engine = _engine(url)
    list_def = list_definition(list_name)
    with bench.open_platform(api_url, engine) as platform:
        started_at = datetime.now(UTC)
        started = time.perf_counter()
        report = sync_membership(
            engine,
            platform,
            list_run_id,
            bench.target(list_def),
            opt_outs=crm_opt_out_sink(
                engine, platform=list_def.platform, landing_dir=landing_dir, run_id=run_id
            ),
            options=MembershipOptions(max_removal_ratio=list_def.guards.max_drop_ratio),
            writer_guard=newest_snapshot_writer_guard(engine),
        )
        seconds = time.perf_counter() - started
        client_calls = dict(platform.client.calls)
    engine.dispose()
    return {
        "seconds": round(seconds, 3),
        "started_at": started_at.isoformat(),
        "report": report.as_dict(),
        "client_calls": client_calls,
    }


def churn_step(url: str, list_run_id: int, consent: str, language: str) -> dict:
    """About 2 % churn on the CRM copy around the synced snapshot ``list_run_id`` (module docstring)."""
    import sqlalchemy as sa

    from include.crm_sync.imports.sql_files import import_sql

    engine = _engine(url)
    now = datetime.now(UTC)
    done = {}
    with engine.begin() as conn:
        rows = conn.execute(
            sa.text("SELECT count(*) FROM list_snapshot WHERE list_run_id = :id"), {"id": list_run_id}
        ).scalar_one()
        common = {"list_run_id": list_run_id, "now": now}
        done["revoked"] = conn.execute(
            import_sql("bench", "churn_revoke"), {**common, "every": CHURN_EVERY, "consent_id": consent}
        ).rowcount
        done["bounced"] = conn.execute(
            import_sql("bench", "churn_bounce"), {**common, "every": CHURN_EVERY, "offset": CHURN_EVERY // 2}
        ).rowcount
        done["fields_changed"] = conn.execute(
            import_sql("bench", "churn_fields"),
            {**common, "every": CHURN_FIELDS_EVERY, "offset": CHURN_FIELDS_EVERY // 2 + 1},
        ).rowcount
        done["granted"] = conn.execute(
            import_sql("bench", "churn_grant"),
            {
                "now": now,
                "consent_id": consent,
                "language": language,
                "grants": max(1, round(rows * CHURN_GRANT_SHARE)),
            },
        ).rowcount
    engine.dispose()
    return done | {"list_rows": rows}


def plan_step(url: str, before: int | None, after: int) -> dict:
    """Members joining, leaving and changed between two snapshots (``before`` None: a first night)."""
    from include.crm_sync.imports.sql_files import import_sql

    engine = _engine(url)
    with engine.connect() as conn:
        row = conn.execute(
            import_sql("bench", "membership_plan"), {"before": before or -1, "after": after}
        ).one()
    engine.dispose()
    return {"joining": row.joining, "leaving": row.leaving, "changed": row.changed}


# ---------------------------------------------------------------------- what the night sent


@dataclass(frozen=True)
class NightCalls:
    """The membership changes one night confirmed, read back from the record: the limit's input."""

    #: (member id, address, uploaded values) of the contacts upserted, in snapshot order
    upserted: list[tuple[str, str, tuple[str, ...]]]
    #: (member id, address uploaded before) removed, in member-id order (the sync's removal order)
    removed: list[tuple[str, str | None]]
    #: (member id, address) added, in snapshot order (the sync's add order)
    added: list[tuple[str, str]]
    #: the uploaded attribute names (the list run's, technical ones left out)
    names: tuple[str, ...]


def night_calls(
    url: str,
    platform: str,
    list_id: str,
    list_run_id: int,
    night: int,
    started_at: str,
    previous: int | None = None,
) -> NightCalls:
    """What the night's sync changed: upserts confirmed since ``started_at``, and the members whose
    in-list flag changed against the night's BEFORE table (removed members with their address in
    the ``previous`` night's snapshot)."""
    import sqlalchemy as sa

    from include.crm_sync.config.models import TECHNICAL_ATTRIBUTES

    before = BEFORE_TABLE.format(night=int(night))
    params = {
        "platform": platform,
        "list_id": list_id,
        "run": list_run_id,
        "since": started_at,
        "previous": previous or -1,
    }
    mine = "m.platform = :platform AND m.platform_list_id = :list_id"
    engine = _engine(url)
    with engine.connect() as conn:
        names = conn.execute(
            sa.text("SELECT attribute_names FROM list_run WHERE list_run_id = :run"), params
        ).scalar_one()
        columns = [i for i, n in enumerate(names) if n not in TECHNICAL_ATTRIBUTES]
        upserted = [
            (
                r.recipient_id,
                r.email,
                tuple("" if r.attr_values[c] is None else str(r.attr_values[c]) for c in columns),
            )
            for r in conn.execute(
                sa.text(
                    "SELECT s.recipient_id, s.email, s.attr_values FROM list_snapshot s "
                    f"JOIN platform_membership m ON {mine} AND m.member_id = s.recipient_id "
                    "WHERE s.list_run_id = :run AND m.upserted_at >= CAST(:since AS timestamptz) "
                    "ORDER BY s.seq"
                ),
                params,
            )
        ]
        removed = [
            (r.member_id, r.email)
            for r in conn.execute(
                sa.text(
                    "SELECT m.member_id, p.email FROM platform_membership m JOIN "
                    f"{before} b USING (member_id) LEFT JOIN list_snapshot p "
                    "ON p.list_run_id = :previous AND p.recipient_id = m.member_id "
                    f"WHERE {mine} AND b.in_audience AND NOT m.in_audience ORDER BY m.member_id"
                ),
                params,
            )
        ]
        added = [
            (r.recipient_id, r.email)
            for r in conn.execute(
                sa.text(
                    "SELECT s.recipient_id, s.email FROM list_snapshot s "
                    f"JOIN platform_membership m ON {mine} AND m.member_id = s.recipient_id "
                    f"LEFT JOIN {before} b ON b.member_id = s.recipient_id "
                    "WHERE s.list_run_id = :run AND m.in_audience AND NOT coalesce(b.in_audience, FALSE) "
                    "ORDER BY s.seq"
                ),
                params,
            )
        ]
    engine.dispose()
    return NightCalls(upserted, removed, added, tuple(names[i] for i in columns))


def chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def post_all(
    session: Any, requests_: list[Any], check: Any = None, tolerated: frozenset[int] = frozenset()
) -> tuple[float, int]:
    """Send prepared requests back to back on one keep-alive session; (seconds, calls). Any answer
    >= 300 not ``tolerated`` (a lookup's 404 the sync met too) stops it: the limit must do what the
    sync did. ``check(response)`` may send follow-up calls (a job's poll) and returns how many."""
    calls = 0
    started = time.perf_counter()
    for prepared in requests_:
        response = session.send(prepared, timeout=120)
        calls += 1
        if response.status_code >= 300 and response.status_code not in tolerated:
            raise RuntimeError(
                f"pre-built {prepared.method} {prepared.path_url}: HTTP {response.status_code}: "
                f"{response.text[:300]}"
            )
        if check is not None:
            calls += check(response)
    return time.perf_counter() - started, calls
