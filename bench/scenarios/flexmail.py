"""Flexmail interest labels (issue 15): two nights of the label sync on a copy of a generated CRM,
against the Flexmail emulator in its own process under its 60 requests/minute limit.

* ``night_step`` is one night as the ``crm_campaign_sync`` tasks run it for Flexmail: the sync
  run, the feedback import (Flexmail's blacklist back to the CRM), then per Flexmail list of
  ``config/lists.yaml`` (nieuwsbrief_flexmail, honden_flexmail) extract → validate, then ONE
  ``sync_flexmail_labels`` for both: removals first, then one contacts import. Night 1 imports
  every label; ``churn_step`` then changes the status of 2 % of those lists' consent rows
  (``sql/bench/flexmail_churn.sql``), and night 2 is the churn night measured.
* **Requests**: from the emulator's call log (every request it received), per 1,000 label
  changes, where the changes are counted on the emulator too (the label members before and after
  the night). The minimum possible: 1 read of the blacklist + 1 read of the labels + one DELETE
  per label removed (contact ids known) + for the adds one import: create, ⌈addresses / 500⌉
  record calls, queue, one poll.
* **Time, accelerated**: the emulator's clock is frozen and moves only when the client waits (the
  token bucket, tenacity, the import poll), by ``/_control/clock/advance`` -- the tests' clock
  (tests/integration/flexmail/conftest.py) with the emulator in another process. So a wait costs
  no wall time, and the rate limit still holds in emulated time (the emulator refuses a 61st
  request in any 60 emulated seconds). The night at real speed is exactly the wall time measured
  plus the emulated seconds waited (the client is sequential: it works or it waits).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.common.emulator import RestEmulator, start_rest_emulator

ACCOUNT, TOKEN = "1000", "bench-token"
#: the Flexmail lists of config/lists.yaml
LISTS = ("nieuwsbrief_flexmail", "honden_flexmail")
#: the account's limit the emulator enforces; the client allows itself the connection default (55)
EMULATOR_REQUESTS_PER_MINUTE = 60
CHURN_PER_MILLION = 20_000  # 2 % of the lists' consent rows change status
#: what the label sync gives removals in one night (LabelSyncOptions' default): the bench says
#: plainly when the churn night needs longer at real speed
NIGHT_REMOVAL_BUDGET_S = 4 * 3600.0
START = "2026-12-07T03:00:00Z"


class EmulatedTime:
    """The client's clock and sleep on the emulator's frozen clock: ``sleep`` advances it."""

    def __init__(self, control) -> None:  # noqa: ANN001 - a FlexmailControlClient
        self.control = control
        self.now_s = control.clock()["epoch_ms"] / 1000.0
        self.control.set_clock(self.now_s, frozen=True)
        self.waited_s = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return self.now_s

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._lock:
            self.now_s = self.control.advance_clock(seconds)["epoch_ms"] / 1000.0
            self.waited_s += seconds


# ---------------------------------------------------------------------------- the emulator


@dataclass
class FlexmailEmulator(RestEmulator):
    """The Flexmail emulator's process; its control client also moves the emulated clock."""

    def control(self, timeout: float = 600):  # noqa: ANN201 - a FlexmailControlClient
        from include.emulators.flexmail.control import FlexmailControlClient

        return FlexmailControlClient(self.base_url, timeout=timeout)


def start_flexmail(workdir: Path) -> FlexmailEmulator:
    """``python -m include.emulators.flexmail`` on a free loopback port, at Flexmail's 60/min."""
    options = ["--account-id", ACCOUNT, "--token", TOKEN]
    options += ["--requests-per-minute", str(EMULATOR_REQUESTS_PER_MINUTE)]
    started = start_rest_emulator("include.emulators.flexmail", options, workdir)
    return FlexmailEmulator(started.process, base_url=started.base_url, api_url=started.api_url)


# ---------------------------------------------------------------------------- steps (child processes)


def night_step(url: str, base_url: str, run_id: str, landing_dir: str) -> dict:
    """One night of the Flexmail lists; seconds, the sync's report, the emulated seconds waited."""
    import sqlalchemy as sa

    from include.crm_sync.audit.runs import mark_feedback_ok, start_sync_run
    from include.crm_sync.config.loader import load_lists
    from include.crm_sync.extract import extract_snapshot
    from include.crm_sync.platforms.flexmail.client import FlexmailClient
    from include.crm_sync.platforms.flexmail.feedback import blacklisted_feedback
    from include.crm_sync.platforms.flexmail.rate_limit import DEFAULT_REQUESTS_PER_MINUTE, TokenBucket
    from include.crm_sync.staging.engine import create_staging_engine
    from include.crm_sync.staging.tables import list_run
    from include.crm_sync.sync.label_sync import LabelSyncOptions, LabelSyncReport, sync_flexmail_labels
    from include.crm_sync.sync.membership_optouts import crm_opt_out_sink
    from include.crm_sync.validate.snapshot_validation import validate_snapshot
    from include.emulators.flexmail.control import FlexmailControlClient

    engine = create_staging_engine(url)
    clock = EmulatedTime(FlexmailControlClient(base_url, timeout=600))
    bucket = TokenBucket(
        engine,
        f"flexmail:{ACCOUNT}",
        requests_per_minute=DEFAULT_REQUESTS_PER_MINUTE,
        clock=clock.now,
        sleep=clock.sleep,
    )
    client = FlexmailClient(base_url, ACCOUNT, TOKEN, limiter=bucket, sleep=clock.sleep)
    started = time.perf_counter()
    start_sync_run(engine, run_id, dag_id="bench")
    rows = list(blacklisted_feedback(client, datetime.fromtimestamp(clock.now(), UTC)))
    crm_opt_out_sink(engine, platform="flexmail", landing_dir=Path(landing_dir), run_id=run_id)(rows)
    mark_feedback_ok(engine, run_id, platform="flexmail")
    feedback_s = time.perf_counter() - started
    lists, ids = load_lists(), []
    for name in LISTS:
        list_def = lists.get(name)
        list_run_id = extract_snapshot(engine, list_def, run_id=run_id).list_run_id
        validate_snapshot(engine, list_def, list_run_id)
        ids.append(list_run_id)
    extract_s = time.perf_counter() - started - feedback_s
    with engine.connect() as conn:
        snapshots = dict(
            conn.execute(
                sa.select(list_run.c.list_name, list_run.c.snapshot_rows).where(
                    list_run.c.list_run_id.in_(ids)
                )
            ).all()
        )
    sync_started = time.perf_counter()
    options = LabelSyncOptions(
        source_id=1,
        requests_per_minute=DEFAULT_REQUESTS_PER_MINUTE,
        removal_budget_seconds=NIGHT_REMOVAL_BUDGET_S,
        max_drain_seconds=float("inf"),  # the bench reports the backlog; it does not fail on it
    )
    report: LabelSyncReport = sync_flexmail_labels(
        engine, client, ids, run_id=run_id, options=options, clock=clock.now, sleep=clock.sleep
    )
    sync_s = time.perf_counter() - sync_started
    seconds = time.perf_counter() - started
    client.close()
    engine.dispose()
    return {
        "run_id": run_id,
        "seconds": round(seconds, 2),
        "feedback_s": round(feedback_s, 2),
        "extract_validate_s": round(extract_s, 2),
        "sync_s": round(sync_s, 2),
        "waited_emulated_s": round(clock.waited_s, 1),
        "real_s": round(seconds + clock.waited_s, 1),
        "blacklisted": len(rows),
        "snapshots": snapshots,
        "report": report.as_dict(),
    }


def churn_step(url: str, seed: str, per_million: int = CHURN_PER_MILLION) -> dict:
    """Change the status of ``per_million`` of the Flexmail lists' consent rows (bench churn SQL)."""
    import sqlalchemy as sa

    from include.crm_sync.config.loader import load_lists
    from include.crm_sync.imports.sql_files import import_sql
    from include.crm_sync.staging.engine import create_staging_engine

    lists = load_lists()
    consents = sorted({lists.get(name).consent for name in LISTS})
    engine = create_staging_engine(url)
    with engine.begin() as conn:
        changed = conn.execute(
            import_sql("bench", "flexmail_churn"),
            {
                "consent_ids": consents,
                "per_million": per_million,
                "seed": seed,
                "changed_at": datetime.now(UTC),
            },
        ).rowcount
        total = conn.execute(
            sa.text("SELECT count(*) FROM crm_consent WHERE consent_id = ANY(:c)"), {"c": consents}
        ).scalar_one()
    engine.dispose()
    return {"consents": consents, "rows": total, "changed": changed}


# ---------------------------------------------------------------------------- figures


def label_members(control, labels: dict[str, int]) -> dict[str, set[str]]:  # noqa: ANN001
    return {name: set(control.label_members(label_id)) for name, label_id in labels.items()}


def minimum_requests(removed: int, addresses_gaining: int) -> int:
    """The fewest requests a night with these changes can cost (see the module docstring)."""
    imports = 3 + -(-addresses_gaining // 500) + 1 if addresses_gaining else 0
    return 2 + removed + imports


def night_figures(before: dict[str, set[str]], after: dict[str, set[str]], calls: dict[str, int]) -> dict:
    added = {name: after[name] - before[name] for name in after}
    removed = {name: before[name] - after[name] for name in after}
    changes = sum(map(len, added.values())) + sum(map(len, removed.values()))
    gaining = len(set().union(*added.values()))
    requests = sum(calls.values())
    least = minimum_requests(sum(map(len, removed.values())), gaining)
    return {
        "labels_added": {k: len(v) for k, v in added.items()},
        "labels_removed": {k: len(v) for k, v in removed.items()},
        "label_changes": changes,
        "addresses_gaining": gaining,
        "requests": requests,
        "calls": calls,
        "requests_min": least,
        "requests_per_1000_changes": round(requests * 1000 / changes, 1) if changes else None,
        "requests_min_per_1000": round(least * 1000 / changes, 1) if changes else None,
    }


def calls_between(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0)}
