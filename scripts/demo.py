"""The README's first command: the whole product on embedded defaults, start to finish.

Starts the Optimizely Campaign emulator (SOAP over real HTTP, SFTP on loopback), creates a SQLite
CRM staging database with generated CRM data, then runs the DAGs exactly as Airflow would run them
(`airflow dags test`, a real Airflow metadata DB in .local/demo/airflow):

1. crm_campaign_sync: the first night fills the three example lists;
2. the emulator "sends" a mailing to each list: bounces, unsubscribes, opens and clicks appear;
3. campaign_response_import: the response files on SFTP reach the CRM;
4. crm_campaign_sync again: the feedback is applied first, and those people are not re-added.

Ends with a summary read from the audit tables. Everything lives under .local/demo (wiped at the
start, so the demo always tells the same story); task logs are under .local/demo/logs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

from include.crm_sync.audit.summary import build_run_summary  # noqa: E402
from include.crm_sync.generate import generate  # noqa: E402
from include.crm_sync.staging.engine import create_staging_engine  # noqa: E402
from include.crm_sync.staging.migrate import upgrade  # noqa: E402
from include.emulators.optimizely.runner import EmulatorServer  # noqa: E402

DEMO = ROOT / ".local" / "demo"


def step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def airflow_env(staging_url: str, emulator: EmulatorServer) -> dict[str, str]:
    env = os.environ.copy()
    env.update(
        {
            "AIRFLOW_HOME": str(DEMO / "airflow"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(DEMO / "logs"),
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins")]),
            "GX_ANALYTICS_ENABLED": "false",
            "CRM_SYNC_LANDING_DIR": str(DEMO / "landing"),
            "AIRFLOW_CONN_CRM_STAGING_DEFAULT": json.dumps(
                {"conn_type": "crm_staging", "extra": {"sqlalchemy_url": staging_url}}
            ),
            "AIRFLOW_CONN_OPTIMIZELY_CAMPAIGN_DEFAULT": json.dumps(
                {
                    "conn_type": "optimizely_campaign",
                    "host": emulator.base_url,
                    "login": "demo",
                    "password": "demo",
                    "extra": {"mandator_id": 1, "max_parallel_calls": 4},
                }
            ),
        }
    )
    env.update(sftp_env(emulator))
    return env


def sftp_env(emulator: EmulatorServer) -> dict[str, str]:
    """The SFTP connection of the response import, with the emulator's host key pinned."""
    return {
        "AIRFLOW_CONN_OPTIMIZELY_SFTP_DEFAULT": json.dumps(
            {
                "conn_type": "sftp",
                "host": "127.0.0.1",
                "port": emulator.sftp_port,
                "login": "demo",
                "password": "demo",
                "extra": {"host_key": emulator.sftp_host_key_line, "look_for_keys": "false"},
            }
        )
    }


def run(cmd: list[str], env: dict[str, str], log_name: str) -> None:
    """Run an Airflow command, its output to a log file; on failure show the log's tail."""
    log_path = DEMO / "logs" / f"{log_name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log_path.open("w") as out:
        result = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    took = time.monotonic() - started
    if result.returncode != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-60:]
        print("\n".join(tail))
        raise SystemExit(f"`{' '.join(cmd[2:])}` failed after {took:.0f}s (exit {result.returncode}); log: {log_path}")
    print(f"    done in {took:.0f}s (log: {log_path.relative_to(ROOT)})")


def dags_test(env: dict[str, str], dag_id: str, logical_date: str, log_name: str, conf: dict | None = None) -> None:
    cmd = [sys.executable, "-m", "airflow", "dags", "test", dag_id, logical_date]
    if conf:
        cmd += ["--conf", json.dumps(conf)]
    run(cmd, env, log_name)


def main() -> None:
    # The in-process SFTP server logs every client disconnect; the demo's output is the story.
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=20_000, help="CRM contacts to generate (default 20000)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir(parents=True)
    staging_url = f"sqlite:///{DEMO / 'crm_staging.db'}"

    step(f"CRM staging database {DEMO.relative_to(ROOT)}/crm_staging.db: migrate, generate {args.contacts:,} contacts")
    upgrade(staging_url)
    summary = generate(staging_url, contacts=args.contacts, seed=args.seed)
    print(f"    {summary}")

    with EmulatorServer(port=0, sftp_port=0, sftp_root=DEMO / "sftp", host_key_path=DEMO / "sftp_host_key") as emulator:
        print(f"    Optimizely Campaign emulator on {emulator.base_url}")
        env = airflow_env(staging_url, emulator)

        step("Airflow metadata database (airflow db migrate)")
        run([sys.executable, "-m", "airflow", "db", "migrate"], env, "airflow-db-migrate")

        step("Night 1: crm_campaign_sync fills the platform lists")
        dags_test(env, "crm_campaign_sync", "2026-11-24T03:00:00+00:00", "night-1-crm_campaign_sync")

        step("The platform sends a mailing to each list: bounces, unsubscribes, opens, clicks")
        for list_id in (1001, 1002, 1003):
            mailing = emulator.control.send_mailing(
                list_id, bounce_rate=0.02, soft_bounce_rate=0.02, unsubscribe_rate=0.03,
                open_rate=0.3, click_rate=0.1, seed=args.seed + list_id,
            )
            counts = mailing["counts"]
            print(
                f"    list {list_id}: mailing {mailing['mailing']['id']} to {counts['recipients']} recipients: "
                f"{counts['hardbounce']} hard / {counts['softbounce']} soft bounces, "
                f"{counts['unsubscribe']} unsubscribes, {counts['open']} opens, {counts['click']} clicks"
            )

        step("campaign_response_import: the platform's response files over SFTP into the CRM")
        emulator.control.run_response_job()
        dags_test(env, "campaign_response_import", "2026-11-25T06:00:00+00:00", "campaign_response_import")

        step("Night 2: crm_campaign_sync applies the feedback first, then refills")
        dags_test(env, "crm_campaign_sync", "2026-11-25T03:00:00+00:00", "night-2-crm_campaign_sync")

    print_summary(staging_url)


def print_summary(staging_url: str) -> None:
    from sqlalchemy import func, select

    from include.crm_sync.staging.tables import file_ledger, sync_run

    engine = create_staging_engine(staging_url)
    with engine.connect() as conn:
        run_ids = conn.execute(select(sync_run.c.run_id).order_by(sync_run.c.started_at)).scalars().all()
        files = conn.execute(
            select(file_ledger.c.kind, func.count(), func.sum(file_ledger.c.rows_read),
                   func.sum(file_ledger.c.rows_applied), func.sum(file_ledger.c.rows_known),
                   func.sum(file_ledger.c.rows_ignored), func.sum(file_ledger.c.rows_rejected))
            .group_by(file_ledger.c.kind).order_by(file_ledger.c.kind)
        ).all()
    step("Summary")
    for night, run_id in enumerate(run_ids, start=1):
        summary = build_run_summary(engine, run_id)
        print(f"\nNight {night} ({run_id}):")
        print(summary.as_table())
    # read = applied + known + ignored + rejected: every row is accounted for
    print("\nFiles imported into the CRM (rows read = applied + already known + ignored + rejected):")
    for kind, n, read, applied, known, ignored, rejected in files:
        print(f"    {kind:<13} {n} file(s): {read or 0} = {applied or 0} + {known or 0} + {ignored or 0} + {rejected or 0}")
    print("    (ignored: opens/clicks of mailings that map to no CRM campaign, autoresponders)")
    print(f"\nAudit and CRM data: {DEMO.relative_to(ROOT)}/crm_staging.db (tables sync_run, list_run, list_batch, ...)")
    print(f"Task logs:          {DEMO.relative_to(ROOT)}/logs")
    engine.dispose()


if __name__ == "__main__":
    main()
