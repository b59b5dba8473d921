"""Benchmark of the feedback import: rows/s and peak RSS of applying a landed CSV (and optionally of
the whole import through the Optimizely emulator over real HTTP), on SQLite and PostgreSQL.

    .venv/bin/python bench/feedback_import.py --rows 1000000 --contacts 1000000 --dialect both
    .venv/bin/python bench/feedback_import.py --rows 100000 --emulator-rows 100000 --dialect sqlite

Method: a fresh staging database per dialect is migrated and filled by the CRM generator
(``--contacts`` contacts + leads + accounts, consents); a landing CSV of ``--rows`` feedback rows is
written with recipient ids drawn from the CRM (mix: 88% by recipient id, 5% by e-mail only, 5%
unknown recipients, 2% duplicate lines). Each measured step runs in a child process, so its peak
RSS (``VmHWM``) is its own: (1) bounces file applied fresh, (2) the same rows again plus one
(an overlapping window: all known), (3) an unsubscribes file. With ``--emulator-rows``, that many
events are injected into an emulator (a process of its own) and ``import_feedback`` runs
through the real zeep client (paging 1000 rows per call). Results: JSON and a markdown table under ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from include.crm_sync.feedback.csv_schema import COLUMN_NAMES, TIMESTAMP_FORMAT  # noqa: E402

DEFAULT_PG = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
#: the generator's consent ids; list ids as the emulator's seed lists
LIST_CONSENTS = {"1001": "newsletter", "1002": "product_updates", "1003": "events"}
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ preparation


def fresh_database(dialect: str, workdir: Path, pg_url: str) -> str:
    if dialect == "sqlite":
        path = workdir / "bench_feedback.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    name = "bench_feedback_import"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return sa.make_url(pg_url).set(database=name).render_as_string(hide_password=False)


def entities(url: str) -> list[tuple[str, str | None]]:
    from include.crm_sync.staging.engine import create_staging_engine

    engine = create_staging_engine(url)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT entity_id, email FROM crm_entity ORDER BY entity_id").fetchall()
    engine.dispose()
    return [(r[0], r[1]) for r in rows]


def feedback_rows(kind: str, n: int, people: list[tuple[str, str | None]], seed: int, offset_s: int = 0):
    rng = random.Random(seed)
    previous = None
    for i in range(n):
        r = rng.random()
        if previous is not None and r < 0.02:
            yield previous  # a duplicate line
            continue
        eid, email = people[rng.randrange(len(people))]
        at = (T0 + timedelta(seconds=offset_s + i, microseconds=rng.randrange(1000) * 1000)).strftime(
            TIMESTAMP_FORMAT
        )
        if r < 0.07 and email:
            rid = ""  # e-mail only
        elif r < 0.12:
            rid, email = f"UNKNOWN{i:09d}", f"nobody{i}@example.invalid"
        else:
            rid = eid
        if kind == "bounces":
            category = rng.choices(("hardbounce", "softbounce", "overflow"), (60, 35, 5))[0]
            row = [rid, email or "", category, at, rng.choice(("1001", "1002", "1003")), str(7000 + i % 50)]
        else:
            list_id = rng.choice(("1001", "1002", "1003", ""))
            row = [rid, email or "", "unsubscribe", at, list_id, str(7000 + i % 50) if list_id else ""]
        previous = row
        yield row


def write_csv(path: Path, rows) -> int:
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMN_NAMES)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


# ------------------------------------------------------------------ measured steps (child processes)


def child_apply(url: str, path: str, kind: str) -> dict:
    from include.crm_sync.feedback import apply_feedback_file
    from include.crm_sync.staging.engine import create_staging_engine

    engine = create_staging_engine(url)
    started = time.perf_counter()
    report = apply_feedback_file(engine, path, kind, list_consents=LIST_CONSENTS)
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"seconds": seconds, "counts": report.as_dict(), "rows": report.counts.read}


def child_emulator(url: str, base_url: str, workdir: str) -> dict:
    from include.crm_sync.feedback import import_feedback
    from include.crm_sync.platforms.optimizely.client import OptimizelyCampaignClient
    from include.crm_sync.platforms.optimizely.platform import OptimizelyCampaignPlatform
    from include.crm_sync.staging.engine import create_staging_engine

    engine = create_staging_engine(url)
    client = OptimizelyCampaignClient(base_url, 1, "demo", "demo", timeout=120)
    platform = OptimizelyCampaignPlatform(client)
    started = time.perf_counter()
    report = import_feedback(
        engine, platform, landing_dir=Path(workdir) / "landing", run_id="bench", list_consents=LIST_CONSENTS
    )
    seconds = time.perf_counter() - started
    calls = dict(client.call_counts)
    platform.close()
    engine.dispose()
    return {
        "seconds": seconds,
        "rows": report.totals.read,
        "soap_calls": sum(calls.values()),
        "calls": calls,
        "counts": report.as_dict(),
    }


def start_emulator(workdir: Path) -> tuple[subprocess.Popen, str]:
    """The emulator in a process of its own, so the measured child's RSS is the importer's alone."""
    import socket

    from include.emulators.optimizely import ControlClient, ControlError

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "include.emulators.optimizely",
            "--port",
            str(port),
            "--no-sftp",
            "--log-level",
            "WARNING",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / "emulator.log", "w"),
        env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'plugins'}"},
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:  # wait until it answers (start-up imports zeep, lxml, ...)
        try:
            ControlClient(base_url, timeout=2).clock()
            return process, base_url
        except (OSError, ControlError):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"emulator did not start; see {workdir / 'emulator.log'}") from None
            time.sleep(0.2)


def inject_events(base_url: str, rows: int, people: list[tuple[str, str | None]]) -> tuple[int, float]:
    """``rows`` events (half bounces, half unsubscribes) over recipient ids of the CRM, two days old."""
    from include.emulators.optimizely import ControlClient

    control = ControlClient(base_url, timeout=300)
    control.reset()
    now = datetime.fromisoformat(control.clock()["now"].replace("Z", "+00:00"))
    rng = random.Random(7)
    batch: list[dict] = []
    injected = 0
    started = time.perf_counter()
    for i in range(rows):
        eid, email = people[rng.randrange(len(people))]
        at = (now - timedelta(days=2) + timedelta(milliseconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        common = {"recipient_id": eid, "email": email or f"{eid.lower()}@example.com", "occurred_at": at}
        if i % 2:
            batch.append(
                {
                    "kind": "bounce",
                    "category": rng.choice(("hardbounce", "softbounce")),
                    "list_id": 1001,
                    **common,
                }
            )
        else:
            batch.append({"kind": "unsubscribe", "list_id": rng.choice((1001, 1002, 1003, None)), **common})
        if len(batch) == 5000:
            injected += control.add_feedback_events(batch)["created"]
            batch = []
    if batch:
        injected += control.add_feedback_events(batch)["created"]
    return injected, time.perf_counter() - started


def peak_rss_mb() -> float:
    """This process's peak RSS. ``VmHWM`` restarts at exec; ``ru_maxrss`` would still carry the
    high-water mark of the forking parent (which held the CRM ids while writing the files)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(*args: str) -> dict:
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "_child", *args], check=True, capture_output=True, text=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall_seconds"] = time.perf_counter() - started
    return result


# ------------------------------------------------------------------ driver


def bench_dialect(dialect: str, args: argparse.Namespace, workdir: Path) -> list[dict]:
    from include.crm_sync.generate import generate

    url = fresh_database(dialect, workdir, args.pg_url)
    log(f"{dialect}: generating {args.contacts:,} contacts")
    summary = generate(url, contacts=args.contacts, seed=42, migrate=True)
    people = entities(url)
    log(f"{dialect}: {len(people):,} CRM entities; writing {args.rows:,}-row files")
    bounces = workdir / f"bounces_{args.rows}.csv"
    overlap = workdir / f"bounces_{args.rows}_overlap.csv"
    unsubs = workdir / f"unsubscribes_{args.rows}.csv"
    write_csv(bounces, feedback_rows("bounces", args.rows, people, seed=1))
    write_csv(
        overlap,
        [
            *feedback_rows("bounces", args.rows, people, seed=1),
            ["C-EXTRA", "extra@example.com", "softbounce", "2026-02-01T00:00:00.000000Z", "", ""],
        ],
    )
    write_csv(unsubs, feedback_rows("unsubscribes", args.rows, people, seed=2))
    results = []
    for step, path, kind in (
        ("bounces, fresh", bounces, "bounces"),
        ("bounces, overlapping re-import (all known)", overlap, "bounces"),
        ("unsubscribes, fresh", unsubs, "unsubscribes"),
    ):
        log(f"{dialect}: {step}")
        result = run_child("apply", url, str(path), kind)
        result.update(
            dialect=dialect,
            step=step,
            crm_entities=len(people),
            file_mb=path.stat().st_size / 1e6,
            crm_rows=summary.total_rows,
        )
        results.append(result)
        log(
            f"{dialect}: {step}: {result['rows']:,} rows in {result['seconds']:.1f} s = "
            f"{result['rows'] / result['seconds']:,.0f} rows/s, peak RSS {result['peak_rss_mb']:.0f} MB"
        )
    if args.emulator_rows:
        url = fresh_database(dialect, workdir, args.pg_url)
        generate(url, contacts=args.contacts, seed=42, migrate=True)
        process, base_url = start_emulator(workdir)
        try:
            injected, inject_seconds = inject_events(base_url, args.emulator_rows, people)
            log(
                f"{dialect}: emulator holds {injected:,} events "
                f"(injected in {inject_seconds:.0f} s); importing"
            )
            result = run_child("emulator", url, base_url, str(workdir))
        finally:
            process.terminate()
            process.wait(timeout=30)
        result.update(
            dialect=dialect,
            step="import_feedback via emulator (SOAP paging + landing + load + apply)",
            crm_entities=len(people),
            file_mb=None,
            crm_rows=summary.total_rows,
            events_injected=injected,
        )
        results.append(result)
        log(
            f"{dialect}: emulator: {result['rows']:,} rows in {result['seconds']:.1f} s, "
            f"{result['soap_calls']} SOAP calls, peak RSS {result['peak_rss_mb']:.0f} MB"
        )
    return results


def markdown(results: list[dict], args: argparse.Namespace) -> str:
    lines = [
        f"# Feedback import benchmark ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs)",
        "",
        f"CRM from the generator: {args.contacts:,} contacts (+ leads, accounts); "
        "see bench/feedback_import.py.",
        "",
        "| dialect | step | rows | seconds | rows/s | importer CPU s | load avg "
        "| peak RSS MB | applied | known "
        "| rejected |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        totals = r["counts"].get("totals") or r["counts"]
        cpu = f"{r['cpu_seconds']:.0f}" if "cpu_seconds" in r else "-"
        load = f"{r['load_avg']:.1f}" if "load_avg" in r else "-"
        lines.append(
            f"| {r['dialect']} | {r['step']} | {r['rows']:,} | {r['seconds']:.1f} "
            f"| {r['rows'] / r['seconds']:,.0f} "
            f"| {cpu} | {load} | {r['peak_rss_mb']:.0f} | {totals['applied']:,} | {totals['known']:,} "
            f"| {totals['rejected']:,} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        step, *rest = sys.argv[2:]
        result = child_apply(*rest) if step == "apply" else child_emulator(*rest)
        result["peak_rss_mb"] = peak_rss_mb()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        result["cpu_seconds"] = usage.ru_utime + usage.ru_stime  # this process only (not the PG server)
        result["load_avg"] = os.getloadavg()[0]
        print(json.dumps(result, default=str))
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--dialect", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--emulator-rows", type=int, default=0)
    parser.add_argument("--pg-url", default=os.environ.get("CRM_SYNC_TEST_PG_URL", DEFAULT_PG))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/crm_sync_bench_feedback"))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "feedback_import")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    dialects = ("sqlite", "postgresql") if args.dialect == "both" else (args.dialect,)
    results = [r for d in dialects for r in bench_dialect(d, args, args.workdir)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    table = markdown(results, args)
    args.out.with_suffix(".md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
