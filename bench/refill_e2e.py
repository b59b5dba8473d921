"""Benchmark of one sync night per list: extract → validate → refill, against the Optimizely emulator
running in its own process, on a generated CRM in PostgreSQL (or SQLite).

    .venv/bin/python bench/refill_e2e.py --contacts 1000000                # PostgreSQL, every list
    .venv/bin/python bench/refill_e2e.py --contacts 100000 --profile       # + cProfile of each refill
    .venv/bin/python bench/refill_e2e.py --contacts 1000000 --reuse        # keep the generated CRM

Method
------
1. A fresh staging database (``bench_refill_e2e`` on the server of ``--pg-url``) is migrated and
   filled by the CRM generator (``--contacts`` contacts, 20% leads, 5% accounts, consents, marketing
   lists; seed ``--seed``). ``--reuse`` keeps a database already generated with the same numbers.
2. The emulator is started as ``python -m include.emulators.optimizely`` on a free loopback port:
   its CPU and memory are not the pipeline's (on a 2-core machine both compete for the cores, as
   they would on a small worker next to a busy platform... only faster).
3. One sync run is opened and the feedback import runs once (timed; the emulator's seed feedback).
4. Each list then runs in its own child process -- extract, validate (great-expectations), refill
   with the real zeep client (``--batch-size``, ``--parallel`` calls in flight) -- so its peak RSS
   (``ru_maxrss``) is its own. A list that is already on the platform is refilled again in a second
   night (``--nights 2``): then ``clear`` empties a full list, as every night in production.
5. Reported per list: rows, seconds per step, end-to-end minutes, refill recipients/s, the empty-list
   window (``clear`` to the answer of the last ``addAll3``, as recorded in ``list_run``), peak RSS,
   and the platform's count (must equal the accepted recipients). JSON and a markdown table go to
   ``--out`` (default bench/results/refill_e2e.{json,md}).

Not collected by pytest (no ``test_`` prefix).
"""

from __future__ import annotations

import argparse
import json
import os
import platform as platform_module
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

import sqlalchemy as sa  # noqa: E402

from bench.common import pg  # noqa: E402
from bench.common.emulator import start_emulator  # noqa: E402
from bench.common.proc import log  # noqa: E402
from bench.scenarios.refill import make_platform  # noqa: E402

DEFAULT_PG = pg.DEFAULT_PG_URL
DB_NAME = "bench_refill_e2e"
LIST_CONSENTS = {"1001": "newsletter", "1002": "product_updates", "1003": "events"}


# ------------------------------------------------------------------ preparation


def staging_url(args: argparse.Namespace, workdir: Path) -> str:
    if args.dialect == "sqlite":
        return f"sqlite:///{workdir / 'bench_refill_e2e.db'}"
    return sa.make_url(args.pg_url).set(database=DB_NAME).render_as_string(hide_password=False)


def generated_contacts(url: str) -> int | None:
    """Contacts in an existing staging database, or None if there is none."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                return conn.execute(
                    sa.text("SELECT count(*) FROM crm_entity WHERE entity_type = 'contact'")
                ).scalar()
        except Exception:  # noqa: BLE001 - no database / no table
            return None
        finally:
            engine.dispose()
    return pg.generated_contacts(url)


def prepare_database(args: argparse.Namespace, url: str, workdir: Path) -> dict:
    from include.crm_sync.generate import generate

    if args.reuse and generated_contacts(url) == args.contacts:
        log(f"reusing the generated CRM ({args.contacts:,} contacts); emptying the audit tables")
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            for table in (
                "list_rejected",
                "list_batch",
                "list_snapshot",
                "list_run",
                "rejected_row",
                "feedback_bounce",
                "feedback_unsubscribe",
                "export_watermark",
                "file_ledger",
                "sync_run",
            ):
                conn.execute(sa.text(f"DELETE FROM {table}"))
            conn.execute(sa.text("DELETE FROM crm_blocklist"))
        engine.dispose()
        return {"generated": False}
    if args.dialect == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{workdir / 'bench_refill_e2e.db'}{suffix}").unlink(missing_ok=True)
    else:
        pg.create_database(args.pg_url, DB_NAME)
    log(f"generating {args.contacts:,} contacts (seed {args.seed})")
    summary = generate(url, args.contacts, args.seed, migrate=True)
    if args.dialect == "postgresql":
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
        engine.dispose()
    return {"generated": True, "generate_seconds": round(summary.seconds, 1), "rows": summary.rows}


# ------------------------------------------------------------------ the measured steps (child processes)


def child_feedback(url: str, base_url: str, run_id: str, workdir: str) -> dict:
    from include.crm_sync.audit.runs import mark_feedback_ok, start_sync_run
    from include.crm_sync.feedback.importer import import_feedback
    from include.crm_sync.staging.engine import create_staging_engine

    engine = create_staging_engine(url)
    start_sync_run(engine, run_id, dag_id="bench")
    started = time.perf_counter()
    with make_platform(base_url, 4, 1000) as platform:
        report = import_feedback(
            engine,
            platform,
            landing_dir=Path(workdir) / "landing",
            run_id=run_id,
            list_consents=LIST_CONSENTS,
        )
    mark_feedback_ok(engine, run_id)
    return {"seconds": round(time.perf_counter() - started, 2), "rows": report.totals.read}


def child_list(
    url: str, base_url: str, run_id: str, list_name: str, parallel: int, batch_size: int, profile: str | None
) -> dict:
    import logging

    from include.crm_sync.config.loader import load_lists
    from include.crm_sync.extract import extract_snapshot
    from include.crm_sync.staging.engine import create_staging_engine
    from include.crm_sync.staging.tables import list_run
    from include.crm_sync.sync.refill import RefillOptions, refill_list
    from include.crm_sync.validate.snapshot_validation import validate_snapshot

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engine = create_staging_engine(url)
    list_def = load_lists().get(list_name)
    timings = {}

    started = time.perf_counter()
    extracted = extract_snapshot(engine, list_def, run_id=run_id)
    timings["extract_s"] = time.perf_counter() - started
    rss_after_extract = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    step = time.perf_counter()
    validation = validate_snapshot(engine, list_def, extracted.list_run_id)
    timings["validate_s"] = time.perf_counter() - step
    if not validation.passed:
        raise SystemExit(f"{list_name}: validation {validation.status}")
    rss_after_validate = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    platform = make_platform(base_url, parallel, batch_size)
    step = time.perf_counter()
    options = RefillOptions(batch_size=batch_size, max_parallel_calls=parallel, progress_every_seconds=15)
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        report = profiler.runcall(refill_list, engine, platform, extracted.list_run_id, options)
        profiler.dump_stats(profile)
    else:
        report = refill_list(engine, platform, extracted.list_run_id, options)
    timings["refill_s"] = time.perf_counter() - step
    platform.close()
    total = time.perf_counter() - started
    with engine.connect() as conn:
        row = (
            conn.execute(sa.select(list_run).where(list_run.c.list_run_id == extracted.list_run_id))
            .mappings()
            .one()
        )
    window = (row["last_batch_at"] - row["cleared_at"]).total_seconds()
    return {
        "list": list_name,
        "selected": extracted.selected,
        "snapshot_rows": extracted.snapshot_rows,
        "accepted": report.accepted,
        "rejected": report.rejected,
        "codes": {str(k): v for k, v in report.result_codes.items()},
        "platform_count": report.platform_count,
        "previous_count": report.previous_count,
        **{k: round(v, 2) for k, v in timings.items()},
        "end_to_end_s": round(total, 2),
        "end_to_end_min": round(total / 60, 2),
        "refill_recipients_per_s": round(report.uploaded / timings["refill_s"])
        if timings["refill_s"]
        else None,
        "end_to_end_recipients_per_s": round(extracted.snapshot_rows / total) if total else None,
        "window_s": round(window, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_after_extract_mb": round(rss_after_extract, 1),
        "rss_after_validate_mb": round(rss_after_validate, 1),
    }


def run_child(function: str, *args: object) -> dict:
    """Run one measured step in a fresh interpreter; its JSON result is the last stdout line."""
    code = (
        f"import json, sys; sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'plugins')!r}]; "
        f"from bench.refill_e2e import {function} as f; "
        "print(json.dumps(f(*json.loads(sys.argv[1]))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, json.dumps(list(args))],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    if result.returncode != 0:
        raise RuntimeError(f"{function}{args[3:4]} failed with exit code {result.returncode}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ main


def markdown(results: dict) -> str:
    lines = [
        f"# Refill end to end ({results['dialect']}, {results['contacts']:,} contacts)",
        "",
        f"{results['started_at']} on {results['machine']}; batch size {results['batch_size']}, "
        f"{results['parallel']} calls in flight; emulator in its own process. Feedback import: "
        f"{results['feedback']['seconds']} s.",
        "",
        "| night | list | snapshot rows | extract s | validate s | refill s | "
        "end to end min | refill rec/s | "
        "end-to-end rec/s | empty-list window s | peak RSS MB | on platform |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["lists"]:
        lines.append(
            f"| {r['night']} | {r['list']} | {r['snapshot_rows']:,} | {r['extract_s']} | {r['validate_s']} | "
            f"{r['refill_s']} | {r['end_to_end_min']} | {r['refill_recipients_per_s']:,} | "
            f"{r['end_to_end_recipients_per_s']:,} | {r['window_s']} | "
            f"{r['peak_rss_mb']} | {r['platform_count']:,} |"
        )
    lines += ["", f"Emulator RSS at the end: {results['emulator_rss_mb']:.0f} MB.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--dialect", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--pg-url", default=os.environ.get("CRM_SYNC_TEST_PG_URL", DEFAULT_PG))
    parser.add_argument(
        "--lists", nargs="*", default=None, help="list names (default: all in config/lists.yaml)"
    )
    parser.add_argument("--parallel", type=int, default=4, help="addAll3 calls in flight (default 4)")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument(
        "--nights", type=int, default=1, help="refill each list this many times (night 2+: full list cleared)"
    )
    parser.add_argument("--reuse", action="store_true", help="reuse a CRM generated with the same --contacts")
    parser.add_argument("--profile", action="store_true", help="cProfile each refill into --workdir")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".local" / "bench_refill_e2e")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "refill_e2e")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)

    from include.crm_sync.config.loader import load_lists

    names = args.lists or load_lists().names
    url = staging_url(args, args.workdir)
    results: dict = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": (
            f"{platform_module.machine()}, {os.cpu_count()} CPUs, Python {platform_module.python_version()}"
        ),
        "dialect": args.dialect,
        "contacts": args.contacts,
        "seed": args.seed,
        "batch_size": args.batch_size,
        "parallel": args.parallel,
    }
    results["database"] = prepare_database(args, url, args.workdir)
    emulator = start_emulator(args.workdir / "emulator")
    base_url = emulator.base_url
    log(f"emulator {base_url} (pid {emulator.pid})")
    try:
        results["lists"] = []
        for night in range(1, args.nights + 1):
            run_id = f"bench-night-{night}-{int(time.time())}"
            feedback = run_child("child_feedback", url, base_url, run_id, str(args.workdir))
            results.setdefault("feedback", feedback)
            log(f"night {night}: feedback import {feedback}")
            for name in names:
                profile = str(args.workdir / f"refill_{name}_night{night}.prof") if args.profile else None
                log(f"night {night}: {name}: extract, validate, refill")
                row = run_child(
                    "child_list", url, base_url, run_id, name, args.parallel, args.batch_size, profile
                )
                row["night"] = night
                results["lists"].append(row)
                log(f"night {night}: {name}: {row}")
        results["emulator_rss_mb"] = emulator.rss_mb().get("rss_mb", float("nan"))
    finally:
        emulator.stop()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.out}.json").write_text(json.dumps(results, indent=2) + "\n")
    Path(f"{args.out}.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
