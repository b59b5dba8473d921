"""The README's first command: the whole product on embedded defaults, start to finish.

Starts the platform emulators -- Optimizely Campaign (SOAP over real HTTP, SFTP on loopback),
Spotler Mail+, Flexmail and Mailjet (REST; see scripts/demo_platforms.py, scripts/demo_mailjet.py)
--, creates a SQLite CRM staging database with generated CRM data, then runs the DAGs exactly as
Airflow would run them (`airflow dags test`, a real Airflow metadata DB in .local/demo/airflow):

0. mailjet_initial_import, once per Mailjet list of config/lists.yaml: the Mailjet account's
   existing contacts (the emulator's seed) reach the CRM with the list's consent;
1. crm_campaign_sync: the first night fills the lists of config/lists.yaml on every platform;
2. the Optimizely emulator "sends" a mailing to each of its lists: bounces, unsubscribes, opens and
   clicks appear; a Spotler audience member opts out in Spotler and a Flexmail label carrier
   unsubscribes in Flexmail; in Mailjet someone unsubscribes from the newsletter list, someone is
   excluded from all campaigns and a new address signs up; in the CRM some people opt in again
   (scripts/demo_crm_changes.py);
3. campaign_response_import: the response files on SFTP reach the CRM;
4. crm_campaign_sync again: the feedback is applied first (Mailjet's unsubscribes and its sign-up
   too), and those people are not re-added (and are removed from the Spotler audiences, Flexmail
   labels and Mailjet lists); the people who opted in again are added.

The two nights are the last two 03:00 UTC before now (at least an hour ago), the mailing and the
response import lie between them, and the emulator's clock is set to each of those moments, so
the UI shows a real pair of nights: run ids and logical dates agree, runs last seconds, not days.

Ends with a summary read from the audit tables. Everything lives under .local/demo (wiped at the
start); given the same --contacts and --seed, every run prints the same numbers.
Task logs are under .local/demo/logs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

from include.crm_sync.audit.imported_files import imported_files  # noqa: E402
from include.crm_sync.audit.summary import build_run_summary  # noqa: E402
from include.crm_sync.config.loader import load_lists  # noqa: E402
from include.crm_sync.generate import generate  # noqa: E402
from include.crm_sync.generate.model import GenerationSummary  # noqa: E402
from include.crm_sync.staging.engine import create_staging_engine  # noqa: E402
from include.crm_sync.staging.migrate import upgrade  # noqa: E402
from include.emulators.optimizely.runner import EmulatorServer  # noqa: E402
from scripts import demo_mailjet  # noqa: E402
from scripts import demo_platforms as platforms  # noqa: E402
from scripts.demo_crm_changes import opt_in_again  # noqa: E402

DEMO = ROOT / ".local" / "demo"
#: a long step prints what it runs this often
PROGRESS_EVERY_SECONDS = 5.0
#: `[DAG TEST] starting task_id=sync_list.refill map_index=1` in the log of scripts/dag_test.py
_TASK_STARTED = re.compile(r"\[DAG TEST\] starting task_id=(\S+) map_index=(-?\d+)")


@dataclass(frozen=True)
class DemoTimeline:
    """When each step of the demo happens, on the emulator's clock and as the runs' logical dates."""

    night_1: datetime
    mailing: datetime
    response_import: datetime
    night_2: datetime

    @classmethod
    def before(cls, now: datetime) -> DemoTimeline:
        """The last two nights at 03:00 UTC that lie at least an hour before ``now``; the mailing
        goes out at 10:00 after night 1 and its responses are imported at 18:00."""
        latest = now.astimezone(UTC) - timedelta(hours=1)
        night_2 = latest.replace(hour=3, minute=0, second=0, microsecond=0)
        if night_2 > latest:
            night_2 -= timedelta(days=1)
        night_1 = night_2 - timedelta(days=1)
        return cls(night_1, night_1 + timedelta(hours=7), night_1 + timedelta(hours=15), night_2)


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


def run(cmd: list[str], env: dict[str, str], log_name: str, shown: str) -> None:
    """Run a command, its output to a log file, saying every few seconds which task it is at; on
    failure show the log's tail."""
    log_path = DEMO / "logs" / f"{log_name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    print(f"    $ {shown}", flush=True)
    started = time.monotonic()
    current = "running"
    with log_path.open("w") as out, log_path.open(errors="replace") as follow:
        # unbuffered: the log must show a task when it starts, not when a buffer fills
        proc = subprocess.Popen(
            cmd, env={**env, "PYTHONUNBUFFERED": "1"}, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )
        while True:
            try:
                returncode = proc.wait(timeout=PROGRESS_EVERY_SECONDS)
                break
            except subprocess.TimeoutExpired:
                current = _latest_task(follow.read()) or current
                print(f"    ... {time.monotonic() - started:.0f}s: {current}", flush=True)
    took = time.monotonic() - started
    if returncode != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-60:]
        print("\n".join(tail))
        raise SystemExit(f"`{shown}` failed after {took:.0f}s (exit {returncode}); log: {log_path}")
    print(f"    done in {took:.0f}s (log: {log_path.relative_to(ROOT)})", flush=True)


def _latest_task(new_output: str) -> str | None:
    """The task the run started last, from the log text written since the previous look."""
    started = _TASK_STARTED.findall(new_output)
    if not started:
        return None
    task_id, map_index = started[-1]
    return f"task {task_id}" + (f" (map index {map_index})" if map_index != "-1" else "")


def dags_test(
    env: dict[str, str], dag_id: str, logical_date: datetime, log_name: str, conf: dict | None = None
) -> None:
    """One DAG run as Airflow would run it, its run id and logical date the same moment."""
    when = logical_date.isoformat()
    cmd = [sys.executable, str(ROOT / "scripts" / "dag_test.py"), dag_id, when]
    shown = f"airflow dags test {dag_id} {when}"
    if conf is not None:
        cmd += ["--conf", json.dumps(conf)]
        shown += f" --conf '{json.dumps(conf)}'"
    run(cmd, env, log_name, shown=shown)


def set_emulator_clock(emulator: EmulatorServer, moment: datetime) -> None:
    """The platform's time follows the demo's story (running on from ``moment``)."""
    emulator.control.set_clock(moment.timestamp())


def describe_generation(summary: GenerationSummary) -> str:
    """One readable line for what ``generate`` wrote (its dataclass repr is a wall of fields)."""
    rows = summary.rows
    return (
        f"{summary.contacts:,} contacts, {summary.leads:,} leads, {summary.accounts:,} accounts: "
        f"{rows.get('crm_entity', 0):,} CRM entities, {rows.get('crm_consent', 0):,} consents, "
        f"{rows.get('crm_marketing_list_member', 0):,} marketing list members, "
        f"in {summary.seconds:.1f} s (seed {summary.seed})"
    )


def main() -> None:
    # The in-process SFTP server logs every client disconnect; the demo's output is the story.
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--contacts", type=int, default=20_000, help="CRM contacts to generate (default 20000)"
    )
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir(parents=True)
    staging_url = f"sqlite:///{DEMO / 'crm_staging.db'}"

    timeline = DemoTimeline.before(datetime.now(UTC))
    step(
        f"CRM staging database {DEMO.relative_to(ROOT)}/crm_staging.db: migrate, "
        f"generate {args.contacts:,} contacts"
    )
    upgrade(staging_url)
    print(f"    {describe_generation(generate(staging_url, contacts=args.contacts, seed=args.seed))}")

    # The Spotler, Flexmail and Mailjet lists the DAG will sync (CRM_SYNC_LISTS_FILE or config/lists.yaml).
    config = load_lists()
    platform_lists = platforms.demo_lists(config)
    mailjet_lists = demo_mailjet.mailjet_lists(config)
    nights: list[list[platforms.PlatformNight]] = []
    engine = create_staging_engine(staging_url)
    mailjet_seed = demo_mailjet.write_seed(engine, mailjet_lists, DEMO / "mailjet_seed.yaml")

    with (
        EmulatorServer(
            port=0, sftp_port=0, sftp_root=DEMO / "sftp", host_key_path=DEMO / "sftp_host_key"
        ) as emulator,
        platforms.platform_emulators(mailjet_seed) as more,
    ):
        print(f"    Optimizely Campaign emulator on {emulator.base_url}")
        print(f"    Spotler Mail+ emulator on {more.spotler.api_url}")
        print(
            f"    Flexmail emulator on {more.flexmail.base_url} (rate limit "
            f"{platforms.FLEXMAIL_REQUESTS_PER_MINUTE:,}/min: Flexmail's 60 sped up "
            f"{platforms.FLEXMAIL_SPEED_UP}x for the demo)"
        )
        print(
            f"    Mailjet emulator on {more.mailjet.api_url} (the account's existing contacts: "
            f"{mailjet_seed.relative_to(ROOT)})"
        )
        env = airflow_env(staging_url, emulator)
        env.update(platforms.connections_env(more))

        def platform_night(dag_log: str, night: datetime) -> None:
            """One night of crm_campaign_sync, with what it did on Spotler, Flexmail and Mailjet."""
            before = {lst.name: platforms.members(more, lst) for lst in platform_lists}
            started = datetime.now(UTC)  # the Mailjet tasks write on the real clock
            set_emulator_clock(emulator, night)
            platforms.set_clocks(more, night)
            dags_test(env, "crm_campaign_sync", night, dag_log)
            after = {lst.name: platforms.members(more, lst) for lst in platform_lists}
            nights.append(
                platforms.night_results(
                    engine, _latest_run_id(engine), platform_lists, before, after, started
                )
            )

        step("Airflow metadata database (airflow db migrate)")
        run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            env,
            "airflow-db-migrate",
            shown="airflow db migrate",
        )

        if mailjet_lists:
            step("mailjet_initial_import, once per Mailjet list: the existing Mailjet contacts reach the CRM")
            for index, lst in enumerate(mailjet_lists):
                consents = demo_mailjet.imported_consents(engine, [lst])
                leads = demo_mailjet.leads_from_mailjet(engine)
                conf = {"mailjet_list": lst.mailjet_list, "consent": lst.consent, "dry_run": False}
                when = timeline.night_1 - timedelta(hours=2) + timedelta(minutes=index)
                dags_test(env, "mailjet_initial_import", when, f"mailjet_initial_import-{lst.name}", conf)
                granted = demo_mailjet.imported_consents(engine, [lst])[lst.name] - consents[lst.name]
                made = demo_mailjet.leads_from_mailjet(engine) - leads
                print(
                    f"    {lst.name}: {granted:,} {lst.consent} consents imported from Mailjet list "
                    f"{lst.mailjet_list!r}, {made:,} leads made for addresses the CRM did not know"
                )

        step(f"Night 1 ({_when(timeline.night_1)}): crm_campaign_sync fills the platform lists")
        platform_night("night-1-crm_campaign_sync", timeline.night_1)

        step(
            f"{_when(timeline.mailing)}: the platform sends a mailing to each list: bounces, unsubscribes, "
            "opens, clicks"
        )
        set_emulator_clock(emulator, timeline.mailing)
        platforms.set_clocks(more, timeline.mailing)
        for list_id in (1001, 1002, 1003):
            mailing = emulator.control.send_mailing(
                list_id,
                bounce_rate=0.02,
                soft_bounce_rate=0.02,
                unsubscribe_rate=0.03,
                open_rate=0.3,
                click_rate=0.1,
                seed=args.seed + list_id,
            )
            counts = mailing["counts"]
            print(
                f"    list {list_id}: mailing {mailing['mailing']['id']} to {counts['recipients']} "
                "recipients: "
                f"{counts['hardbounce']} hard / {counts['softbounce']} soft bounces, "
                f"{counts['unsubscribe']} unsubscribes, {counts['open']} opens, {counts['click']} clicks"
            )

        for line in platforms.make_platform_feedback(more, platform_lists):
            print(f"    {line}")
        for line in demo_mailjet.make_mailjet_feedback(more.mailjet, mailjet_lists):
            print(f"    {line}")
        granted = opt_in_again(engine, timeline.mailing)
        print(
            "    CRM: people opt in again on the website: "
            + ", ".join(f"{consent} {count}" for consent, count in granted.items())
        )

        step(
            f"{_when(timeline.response_import)}: campaign_response_import brings the platform's response "
            "files over SFTP into the CRM"
        )
        set_emulator_clock(emulator, timeline.response_import)
        platforms.set_clocks(more, timeline.response_import)
        emulator.control.run_response_job()
        dags_test(env, "campaign_response_import", timeline.response_import, "campaign_response_import")

        step(
            f"Night 2 ({_when(timeline.night_2)}): crm_campaign_sync imports the feedback first (what the "
            "response import applied is known by now), then syncs every list"
        )
        platform_night("night-2-crm_campaign_sync", timeline.night_2)
        engine.dispose()

    print_summary(staging_url, nights)


def _when(moment: datetime) -> str:
    return moment.strftime("%a %Y-%m-%d %H:%M UTC")


def _latest_run_id(engine) -> str:  # noqa: ANN001 - a SQLAlchemy Engine
    from sqlalchemy import select

    from include.crm_sync.staging.tables import sync_run

    with engine.connect() as conn:
        latest = select(sync_run.c.run_id).order_by(sync_run.c.started_at.desc())
        return conn.execute(latest).scalars().first()


def print_summary(staging_url: str, platform_nights: list[list[platforms.PlatformNight]]) -> None:
    from sqlalchemy import select

    from include.crm_sync.staging.tables import sync_run

    engine = create_staging_engine(staging_url)
    with engine.connect() as conn:
        run_ids = conn.execute(select(sync_run.c.run_id).order_by(sync_run.c.started_at)).scalars().all()
    step("Summary")
    for night, run_id in enumerate(run_ids, start=1):
        summary = build_run_summary(engine, run_id)
        print(f"\nNight {night} ({run_id}):")
        print(summary.as_table())
        if night <= len(platform_nights) and platform_nights[night - 1]:
            print("  On Spotler, Flexmail and Mailjet (read back from the platforms):")
            for result in platform_nights[night - 1]:
                print(result.line())
    print(
        "(excluded: left out of the snapshot, e.g. no consent, unsubscribed, bounced; codes 0-7: the\n"
        " platform's answer per recipient; empty list: seconds from clear to the last addAll3)"
    )
    # read = applied + known + ignored + rejected: every row is accounted for
    print("\nFiles imported into the CRM (rows read = applied + already known + ignored + rejected):")
    for kind in imported_files(engine):
        print(
            f"    {kind.kind:<13} {kind.files} file(s): {kind.read} = {kind.applied} + {kind.known} + "
            f"{kind.ignored} + {kind.rejected}"
        )
    print(
        "    (known: already in the CRM, e.g. night 2's export repeats the bounces and unsubscribes the\n"
        "     response import applied; ignored: opens/clicks of mailings that map to no CRM campaign,\n"
        "     autoresponders)"
    )
    print(
        f"\nAudit and CRM data: {DEMO.relative_to(ROOT)}/crm_staging.db "
        "(tables sync_run, list_run, list_batch, ...)"
    )
    print(f"Task logs:          {DEMO.relative_to(ROOT)}/logs")
    engine.dispose()


if __name__ == "__main__":
    main()
