"""Whole nights of ``crm_campaign_sync`` on a copy of a generated CRM, under a real Airflow.

What runs: a LocalExecutor Airflow (api-server, scheduler, dag-processor: scripts/local_stack.py,
the e2e tests' stack; its metadata in a throw-away PostgreSQL database) with the CRM copy as the
staging database, and one emulator process per platform the lists file uses (Optimizely's is the
bench's own; Spotler, Flexmail, Mailjet from bench/common/platform_emulators.py). Each night is a
triggered run of the nightly DAG over every list of the lists file, played to the end.

What is read back, per night:

* the wall time of the run (the DAG run's start to end, as Airflow records it);
* per list, from the task instances: seconds of ``extract``, ``validate`` and the write task
  (``refill``; Flexmail lists are written by the shared ``sync_labels``), and the peak RSS of each
  task process (bench/common/task_rss.py);
* per list, from the audit: the recipients, and for Optimizely refills the upload seconds (``clear``
  to the last confirmed ``addAll3``: the empty-list window; the rest of the write task is process
  start, login, ``clear``, ``getCount`` and the audit); for membership lists (Spotler, Mailjet) the
  sync's own start and end;
* the disk: ``pg_total_relation_size`` of every staging table before the first night and after
  each, grouped into snapshots, audit and platform state, and the snapshot rows still kept.

Snapshot retention (include/crm_sync/extract/retention.py) runs in the ``report`` task with
``CRM_SYNC_SNAPSHOT_KEEP_RUNS`` set to ``keep_runs``; with more nights than that the disk after
each night shows whether old snapshots stop adding up.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.common import pg
from bench.common.emulator import MANDATOR_ID, PASSWORD, USER, EmulatorProcess
from bench.common.platform_emulators import (
    FLEXMAIL_REQUESTS_PER_MINUTE,
    REST_PLATFORMS,
    RestEmulator,
    start_rest_emulator,
)
from bench.common.proc import log
from bench.common.task_rss import TaskRssSampler

DAG_ID = "crm_campaign_sync"
#: a night that has not ended after this many seconds fails the scenario
NIGHT_TIMEOUT_S = 4 * 3600
#: staging tables a night writes, by what they hold (anything else lands in "other")
TABLE_GROUPS = {
    "snapshots": ("list_snapshot",),
    "audit": (
        "sync_run",
        "sync_run_platform_feedback",
        "list_run",
        "list_batch",
        "list_rejected",
        "file_ledger",
        "rejected_row",
    ),
    "platform_state": (
        "platform_membership",
        "platform_list_sync",
        "flexmail_label_member",
        "flexmail_removal",
        "flexmail_import",
        "flexmail_rate_bucket",
    ),
}


@dataclass(frozen=True)
class NightSetup:
    """What a series of nights runs against."""

    server_url: str
    staging_url: str
    metadata_db: str
    optimizely: EmulatorProcess
    workdir: Path
    parallel: int
    keep_runs: int


def _group(table: str) -> str:
    if table.startswith("list_snapshot_"):  # PostgreSQL: each list run's partition (extract/partitions.py)
        return "snapshots"
    return next((group for group, names in TABLE_GROUPS.items() if table in names), "other")


def _rows(url: str, *queries: str, **params: Any) -> list[list[Any]]:
    """The rows of each query, read on one short-lived connection to ``url``."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        found = [conn.execute(sa.text(query), params).all() for query in queries]
    engine.dispose()
    return found


def table_sizes(url: str) -> dict[str, int]:
    """Bytes (table, indexes, TOAST) of every table in the staging database's public schema."""
    (rows,) = _rows(
        url,
        "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = 'public'",
    )
    return {name: int(size) for name, size in rows}


def disk_report(before: dict[str, int], after: dict[str, int]) -> dict[str, Any]:
    """MB per group after the night, and what the night added (MB) per group and per table."""
    mb = 2**20
    groups: dict[str, dict[str, float]] = {}
    for table, size in after.items():
        group = groups.setdefault(_group(table), {"mb": 0.0, "added_mb": 0.0})
        group["mb"] += size / mb
        group["added_mb"] += (size - before.get(table, 0)) / mb
    tables = {
        table: round((size - before.get(table, 0)) / mb, 1)
        for table, size in sorted(after.items())
        if size != before.get(table, 0)
    }
    written = ("snapshots", "audit", "platform_state")
    return {
        "groups": {g: {k: round(v, 1) for k, v in values.items()} for g, values in sorted(groups.items())},
        "added_mb_by_table": tables,
        # what a night leaves on disk in the tables the sync writes (the CRM's own tables aside)
        "night_tables_mb": round(sum(groups.get(g, {}).get("mb", 0.0) for g in written), 1),
        "night_tables_added_mb": round(sum(groups.get(g, {}).get("added_mb", 0.0) for g in written), 1),
    }


def kept_snapshots(url: str) -> list[dict[str, Any]]:
    """The list runs whose snapshot rows are still there, and how many rows each keeps."""
    (rows,) = _rows(
        url,
        "SELECT r.run_id, r.list_name, count(*) AS rows FROM list_snapshot s "
        "JOIN list_run r ON r.list_run_id = s.list_run_id "
        "GROUP BY r.run_id, r.list_name ORDER BY r.run_id, r.list_name",
    )
    return [dict(row._mapping) for row in rows]


def _seconds(start: Any, end: Any) -> float | None:
    if not start or not end:
        return None
    return round((_when(end) - _when(start)).total_seconds(), 2)


def _when(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def list_audit(url: str, run_id: str) -> dict[str, dict[str, Any]]:
    """Per list of the run: recipients, status, and the upload/verify seconds its audit rows give."""
    runs, sync_rows = _rows(
        url,
        "SELECT list_name, platform, platform_list_id, status, selected, snapshot_rows, uploaded, accepted, "
        "rejected, platform_count, cleared_at, last_batch_at, started_at, finished_at "
        "FROM list_run WHERE run_id = :run_id",
        "SELECT platform, platform_list_id, mode, started_at, finished_at FROM platform_list_sync",
        run_id=run_id,
    )
    syncs = {(row.platform, row.platform_list_id): row for row in sync_rows}
    out = {}
    for row in runs:
        item = {
            "platform": row.platform,
            "status": row.status,
            "selected": row.selected,
            "recipients": row.snapshot_rows,
            "uploaded": row.uploaded,
            "accepted": row.accepted,
            "rejected": row.rejected,
            "platform_count": row.platform_count,
            "audit_s": _seconds(row.started_at, row.finished_at),
        }
        if row.cleared_at is not None:  # an Optimizely refill: clear, addAll3 batches, getCount
            item["upload_s"] = _seconds(row.cleared_at, row.last_batch_at)
            item["window_s"] = item["upload_s"]
            # no verify figure here: the audit stamps the run's end at the last batch, before getCount
        elif (sync := syncs.get((row.platform, row.platform_list_id))) is not None:
            item["upload_s"] = _seconds(sync.started_at, sync.finished_at)
            item["sync_mode"] = sync.mode
        out[row.list_name] = item
    return out


def _task_rows(tis: list[dict[str, Any]], peaks: dict[str, float]) -> list[dict[str, Any]]:
    rows = []
    for ti in tis:
        rows.append(
            {
                "task_id": ti["task_id"],
                "map_index": ti.get("map_index", -1),
                # the list's name (map_index_template) is rendered when the task ends
                "list": ti.get("rendered_map_index") if ti.get("map_index", -1) >= 0 else None,
                "state": ti["state"],
                "try_number": ti.get("try_number"),
                "seconds": _seconds(ti.get("start_date"), ti.get("end_date")),
                "peak_rss_mb": peaks.get(ti["id"]),
            }
        )
    return sorted(rows, key=lambda r: (r["task_id"], r["list"] or ""))


def per_list(tasks: list[dict[str, Any]], audit: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per list: its tasks' seconds and peak RSS next to its audit figures."""
    by_key = {(t["task_id"], t["list"]): t for t in tasks}
    labels = by_key.get(("sync_labels", None), {})
    rows = []
    for name, item in sorted(audit.items()):
        extract = by_key.get(("sync_list.extract", name), {})
        validate = by_key.get(("sync_list.validate", name), {})
        write = by_key.get(("sync_list.refill", name), {})
        if item["platform"] == "flexmail":  # the refill task only hands over; sync_labels writes
            write = {
                "seconds": (write.get("seconds") or 0) + (labels.get("seconds") or 0),
                "peak_rss_mb": max(write.get("peak_rss_mb") or 0, labels.get("peak_rss_mb") or 0) or None,
            }
        rows.append(
            {
                "list": name,
                **item,
                "extract_s": extract.get("seconds"),
                "validate_s": validate.get("seconds"),
                "write_s": write.get("seconds"),
                "extract_rss_mb": extract.get("peak_rss_mb"),
                "validate_rss_mb": validate.get("peak_rss_mb"),
                "write_rss_mb": write.get("peak_rss_mb"),
            }
        )
    return rows


@contextmanager
def platform_emulators(platforms: set[str], workdir: Path) -> Iterator[dict[str, RestEmulator]]:
    """The REST emulators the lists need, stopped at the end."""
    with ExitStack() as stack:
        started = {}
        for platform in sorted(platforms & set(REST_PLATFORMS)):
            emulator = start_rest_emulator(platform, workdir)
            stack.callback(emulator.stop)
            log(f"{platform} emulator {emulator.api_url} (pid {emulator.pid})")
            started[platform] = emulator
        yield started


def airflow_env(setup: NightSetup, rest: dict[str, RestEmulator]) -> dict[str, str]:
    env = {
        "AIRFLOW_CONN_CRM_STAGING_DEFAULT": json.dumps(
            {"conn_type": "crm_staging", "extra": {"sqlalchemy_url": setup.staging_url}}
        ),
        "AIRFLOW_CONN_OPTIMIZELY_CAMPAIGN_DEFAULT": json.dumps(
            {
                "conn_type": "optimizely_campaign",
                "host": setup.optimizely.base_url,
                "login": USER,
                "password": PASSWORD,
                "extra": {"mandator_id": MANDATOR_ID, "max_parallel_calls": setup.parallel},
            }
        ),
        "CRM_SYNC_LANDING_DIR": str(setup.workdir / "landing"),
        "CRM_SYNC_SNAPSHOT_KEEP_RUNS": str(setup.keep_runs),
        "GX_ANALYTICS_ENABLED": "false",
    }
    for emulator in rest.values():
        env.update(emulator.connection_env)
    return env


def run_nights(setup: NightSetup, nights: int) -> dict[str, Any]:
    """``nights`` runs of the DAG over every list, one after the other; their figures."""
    from include.crm_sync.config.loader import load_lists
    from scripts.local_stack import LocalAirflowStack

    lists = load_lists()
    platforms = {item.platform for item in lists.lists}
    results: dict[str, Any] = {
        "lists": lists.names,
        "platforms": sorted(platforms),
        "keep_runs": setup.keep_runs,
        "flexmail_requests_per_minute": FLEXMAIL_REQUESTS_PER_MINUTE,
        "executor": "LocalExecutor",
        "nights": [],
    }
    metadata_url = pg.create_database(setup.server_url, setup.metadata_db)
    try:
        with platform_emulators(platforms, setup.workdir) as rest:
            stack = LocalAirflowStack(
                home=setup.workdir / "airflow",
                metadata_url=metadata_url,
                executor="LocalExecutor",
                extra_env=airflow_env(setup, rest),
            )
            results["parallelism"] = stack.parallelism
            log(f"night: Airflow LocalExecutor stack (parallelism {stack.parallelism}), logs {stack.log_dir}")
            with stack:
                stack.wait_until_healthy(timeout=600)
                stack.wait_for_dag(DAG_ID, timeout=600)
                stack.unpause(DAG_ID)
                before = table_sizes(setup.staging_url)
                results["disk_before_mb"] = round(sum(before.values()) / 2**20, 1)
                for number in range(1, nights + 1):
                    progress = setup.workdir / f"night_{number}_progress.json"
                    night = one_night(stack, setup.staging_url, number, before, progress)
                    results["nights"].append(night)
                    before = night.pop("_sizes")
            results["emulator_peak_rss_mb"] = {"optimizely": setup.optimizely.rss_mb().get("peak_rss_mb")} | {
                name: emulator.peak_rss_mb() for name, emulator in rest.items()
            }
    finally:
        pg.drop_database(setup.server_url, setup.metadata_db)
    return results


def _patient(call: Any, *args: Any, attempts: int = 20, **kwargs: Any) -> Any:
    """``call(*args)`` to the api-server, again after a timeout or a refused connection: on a
    loaded 2-core machine one request may take longer than the stack's 30 s."""
    import requests

    for attempt in range(1, attempts + 1):
        try:
            return call(*args, **kwargs)
        except requests.RequestException as exc:
            if attempt == attempts:
                raise
            log(f"api-server: {type(exc).__name__}; asking again ({attempt}/{attempts})")
            time.sleep(5)
    raise AssertionError("unreachable")


#: while a night runs, what its tasks did so far is written this often to ``progress.json`` (a
#: night cut short -- a 10M night on a busy machine -- still leaves its figures)
PROGRESS_EVERY_S = 60


def _wait_for_run(stack: Any, run_id: str, rss: TaskRssSampler, progress: Path) -> str:
    deadline = time.monotonic() + NIGHT_TIMEOUT_S
    written = time.monotonic()
    while (state := _patient(stack.run_state, DAG_ID, run_id)) not in ("success", "failed"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{DAG_ID} {run_id} still {state} after {NIGHT_TIMEOUT_S} s")
        if time.monotonic() - written > PROGRESS_EVERY_S:
            tasks = _task_rows(_patient(stack.task_instances, DAG_ID, run_id), rss.peaks)
            progress.write_text(json.dumps({"run_id": run_id, "state": state, "tasks": tasks}, indent=2))
            written = time.monotonic()
        time.sleep(5)
    return state


def one_night(
    stack: Any, staging_url: str, number: int, sizes_before: dict[str, int], progress: Path
) -> dict[str, Any]:
    log(f"night {number}: triggering {DAG_ID} over every list")
    started = time.perf_counter()
    with TaskRssSampler() as rss:
        run_id = _patient(stack.trigger, DAG_ID, conf={}, attempts=1)
        state = _wait_for_run(stack, run_id, rss, progress)
    driver_s = round(time.perf_counter() - started, 1)
    dag_run = _patient(stack.dag_run, DAG_ID, run_id)
    tasks = _task_rows(_patient(stack.task_instances, DAG_ID, run_id), rss.peaks)
    sizes = table_sizes(staging_url)
    night = {
        "night": number,
        "run_id": run_id,
        "state": state,
        "seconds": _seconds(dag_run.get("start_date"), dag_run.get("end_date")),
        "driver_s": driver_s,
        "lists": per_list(tasks, list_audit(staging_url, run_id)),
        "tasks": tasks,
        "max_task_rss_mb": max((t["peak_rss_mb"] or 0 for t in tasks), default=None),
        "disk": disk_report(sizes_before, sizes),
        "kept_snapshots": kept_snapshots(staging_url),
        "_sizes": sizes,
    }
    log(
        f"night {number}: {state} in {night['seconds']} s; task peak RSS {night['max_task_rss_mb']} MB; "
        f"sync tables {night['disk']['night_tables_mb']} MB (+{night['disk']['night_tables_added_mb']} MB)"
    )
    for item in night["lists"]:
        log(
            f"  {item['list']} ({item['platform']}): {item['recipients']} recipients, extract "
            f"{item['extract_s']} s, validate {item['validate_s']} s, write {item['write_s']} s, "
            f"window {item.get('window_s')} s, RSS {item['extract_rss_mb']}/{item['validate_rss_mb']}/"
            f"{item['write_rss_mb']} MB"
        )
    if state != "success":
        log(f"night {number} ended {state}: " + stack.log_tails(lines=20)[-3000:])
    return night


def cut_short(
    staging_url: str, template_url: str, progress: Path, argv: str, started_at: str, size: int
) -> dict[str, Any]:
    """The figures of a night still running, as ``bench/run.py`` would have written them had it
    ended: the tasks (seconds, peak RSS) from the night's progress file, the lists and the disk
    from its staging database (the disk before = the generated CRM it was copied from). Its state
    says how far it got."""
    from bench.common.machine import git_sha, machine
    from bench.report import size_label
    from include.crm_sync.config.loader import load_lists

    seen = json.loads(progress.read_text())
    tasks = seen["tasks"]
    lists = load_lists()
    for task in tasks:  # a running mapped task shows its map index; the list's name comes at its end
        if task["task_id"].startswith("sync_list.") and (task["list"] or "").isdigit():
            task["list"] = lists.names[int(task["list"])]
    done = sum(1 for t in tasks if t["state"] == "success")
    night = {
        "night": 1,
        "run_id": seen["run_id"],
        "state": f"cut short ({done} of {len(tasks)} task instances done)",
        "seconds": None,
        # how long it had run when cut short (the sync run's start to now)
        "elapsed_s": _rows(
            staging_url,
            "SELECT extract(epoch FROM now() - started_at) FROM sync_run WHERE run_id = :run_id",
            run_id=seen["run_id"],
        )[0][0][0],
        "lists": per_list(tasks, list_audit(staging_url, seen["run_id"])),
        "tasks": tasks,
        "max_task_rss_mb": max((t["peak_rss_mb"] or 0 for t in tasks), default=None),
        "disk": disk_report(table_sizes(template_url), table_sizes(staging_url)),
        "kept_snapshots": kept_snapshots(staging_url),
    }
    return {
        "argv": argv,
        "started_at": started_at,
        "machine": machine(),
        "git_sha": git_sha(),
        "night_sizes": [size],
        "night": {
            size_label(size): {
                "lists": lists.names,
                "platforms": sorted({item.platform for item in lists.lists}),
                "keep_runs": 1,
                "flexmail_requests_per_minute": FLEXMAIL_REQUESTS_PER_MINUTE,
                "executor": "LocalExecutor",
                "parallelism": 2,
                "nights": [night],
            }
        },
    }
