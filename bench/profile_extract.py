"""Profile one list's extraction on a generated PostgreSQL CRM: seconds per statement, and the plans.

    PYTHONPATH=.:plugins .venv/bin/python bench/profile_extract.py --explain [--list product_updates]

Works on a throw-away copy of the generated database (``CREATE DATABASE ... TEMPLATE``), opens a
sync run with the feedback precondition met (no feedback import: the CRM's own exclusions only),
then times ``extract_snapshot`` as the task calls it, and prints ``EXPLAIN (ANALYZE, BUFFERS)`` of
the classification and the snapshot insert run on their own (each rolled back), and the time of
building the keys and attaching the partition (PostgreSQL: extract/partitions.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.common import pg  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default="crm_sync_bench_1m")
    parser.add_argument("--list", default="product_updates")
    parser.add_argument("--pg-url", default=pg.DEFAULT_PG_URL)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()

    from include.crm_sync.audit.runs import mark_feedback_ok, start_sync_run
    from include.crm_sync.config.loader import load_lists
    from include.crm_sync.extract import extract_snapshot
    from include.crm_sync.extract.partitions import drop_run_partition
    from include.crm_sync.extract.queries import build_queries
    from include.crm_sync.staging.engine import create_staging_engine
    from include.crm_sync.staging.migrate import upgrade

    copy = f"{args.db}_prof_{os.getpid()}"  # the process id: two profiles on one server do not collide
    url = pg.create_database(args.pg_url, copy, template=args.db)
    upgrade(url)  # the generated CRM may be older than the schema head
    engine = create_staging_engine(url)
    list_def = load_lists().get(args.list)
    try:
        for i in range(args.repeat):
            run_id = f"prof-{i}"
            start_sync_run(engine, run_id, dag_id="bench")
            mark_feedback_ok(engine, run_id)
            started = time.perf_counter()
            report = extract_snapshot(engine, list_def, run_id=run_id)
            seconds = time.perf_counter() - started
            print(
                f"extract {args.list}: {report.selected:,} selected, {report.snapshot_rows:,} rows "
                f"in {seconds:.2f} s = {report.selected / seconds:,.0f} selected rows/s"
            )
        if args.explain:
            queries = build_queries(
                list_def,
                dialect_name="postgresql",
                list_run_id=report.list_run_id,
                global_unsubscribe_applies=True,
            )
            with engine.connect() as conn, conn.begin():
                conn.execute(sa.text("SET LOCAL enable_nestloop = off"))
                conn.execute(sa.text("SET LOCAL work_mem = '64MB'"))
                drop_run_partition(conn, report.list_run_id)
                stage = queries.stage.replace("CREATE TEMPORARY TABLE crm_sync_classified AS", "")
                plan = conn.execute(
                    sa.text("EXPLAIN (ANALYZE, BUFFERS) " + stage), queries.stage_params
                ).all()
                print("\n".join(r[0] for r in plan))
                conn.execute(sa.text(queries.stage), queries.stage_params)
                if queries.create_target is not None:
                    conn.exec_driver_sql(queries.create_target)
                plan = conn.execute(
                    sa.text("EXPLAIN (ANALYZE, BUFFERS) " + queries.insert), queries.insert_params
                ).all()
                print("\n".join(r[0] for r in plan))
                if queries.attach is not None:
                    started = time.perf_counter()
                    conn.exec_driver_sql(queries.attach)
                    print(f"keys built and partition attached in {time.perf_counter() - started:.2f} s")
                conn.rollback()
    finally:
        engine.dispose()
        pg.drop_database(args.pg_url, copy)


if __name__ == "__main__":
    main()
