"""Benchmark of the response import: events/s and peak RSS for one big response file, on PostgreSQL
and SQLite, fetched from the emulator's real SFTP server on loopback.

    .venv/bin/python bench/response_import.py --events 1000000 --entities 300000 --dialect both
    .venv/bin/python bench/response_import.py --events 100000 --dialect sqlite

Method: per dialect a fresh staging database is migrated and filled with ``--entities`` CRM contacts
(every consent granted). One response file of ``--events`` lines is written in the emulator's
layout (its own writer) with a fixed mix: 60% opens, 15% clicks, 3% hard and 5% soft bounces, 1%
autoresponders, 1% unsubscribes, 1% unknown recipients, 2% duplicate lines, 13% opens of mailings
without a CRM campaign; 20 mailings, 8 mapped in the settings, 4 by closed-loop wave ids. The
emulator (in this, the parent, process) serves it over SFTP; each measured step runs in a child
process so its peak RSS (``VmHWM``) is the importer's own:

1. ``download``: atomic landing over SFTP (paramiko, prefetch) with sha256 and UTF-8 check;
2. ``import``: ``import_response_files`` end to end (listing, ledger, structure check, parse,
   load, classify, campaign responses, bounces/unsubscribes through the feedback apply, counts),
   reusing the landed copy;
3. ``re-import``: the same file again with a re-import date range: everything is known.

Results: JSON and a markdown table under ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_PG = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
CONSENTS = {"newsletter": True, "product_updates": True, "events": True, "service_mail": False}
LIST_CONSENTS = {"1001": "newsletter", "1002": "product_updates", "1003": "events"}
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
SFTP_USER, SFTP_PASSWORD = "bench", "bench-password"
MAILINGS = [str(8001 + i) for i in range(20)]
MAPPED = {m: f"CMP-{m}" for m in MAILINGS[:8]}
WAVES = {m: f"WAVE-{m}" for m in MAILINGS[8:12]}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ preparation


def fresh_database(dialect: str, workdir: Path, pg_url: str) -> str:
    from include.crm_sync.staging.migrate import upgrade

    if dialect == "sqlite":
        path = workdir / "bench_responses.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        name = "bench_response_import"
        admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        url = sa.make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    return url


def load_crm(url: str, n: int) -> list[str]:
    from include.crm_sync.staging.engine import create_staging_engine

    ids = [f"C{i:07d}" for i in range(n)]
    stamp = "2025-06-01 00:00:00+00"
    engine = create_staging_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM crm_consent_type")
        for consent, marketing in CONSENTS.items():
            conn.exec_driver_sql(
                "INSERT INTO crm_consent_type (consent_id, name, is_marketing) VALUES (?, ?, ?)"
                if engine.dialect.name == "sqlite"
                else "INSERT INTO crm_consent_type (consent_id, name, is_marketing) VALUES (%s, %s, %s)",
                (consent, consent, marketing),
            )
        entities = [
            (i, "contact", f"{i.lower()}@example.com", f"{i.lower()}@example.com", False, stamp, stamp)
            for i in ids
        ]
        consents = [(i, c, "granted", stamp, "crm", stamp) for i in ids for c in CONSENTS]
        if engine.dialect.name == "postgresql":
            cursor = conn.connection.dbapi_connection.cursor()
            for table, columns, rows in (
                (
                    "crm_entity",
                    "entity_id, entity_type, email, email_normalized, is_bounced, created_at, updated_at",
                    entities,
                ),
                ("crm_consent", "entity_id, consent_id, status, granted_at, source, updated_at", consents),
            ):
                buffer = io.StringIO()
                csv.writer(buffer, lineterminator="\n").writerows(rows)
                buffer.seek(0)
                cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)", buffer)
            cursor.close()
        else:
            naive = stamp[:19]
            conn.exec_driver_sql(
                "INSERT INTO crm_entity (entity_id, entity_type, email, email_normalized, is_bounced, "
                "created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(*e[:5], naive, naive) for e in entities],
            )
            conn.exec_driver_sql(
                "INSERT INTO crm_consent (entity_id, consent_id, status, granted_at, source, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(c[0], c[1], c[2], naive, c[4], naive) for c in consents],
            )
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE crm_entity")
            conn.exec_driver_sql("ANALYZE crm_consent")
    engine.dispose()
    return ids


def write_response_file(path: Path, events: int, ids: list[str], seed: int = 1) -> dict[str, int]:
    """A response file in the emulator's layout (written by the emulator's own writer)."""
    from include.emulators.optimizely.response_files import write_rows

    rng = random.Random(seed)
    mix: dict[str, int] = {}

    def rows():
        previous = None
        for i in range(events):
            r = rng.random()
            if previous is not None and r < 0.02:
                mix["duplicate line"] = mix.get("duplicate line", 0) + 1
                yield previous
                continue
            at = (NOW - timedelta(hours=20) + timedelta(milliseconds=i * 50)).strftime("%Y-%m-%dT%H:%M:%SZ")
            rid = ids[rng.randrange(len(ids))] if r >= 0.03 else f"UNKNOWN{i:08d}"
            kind = rng.choices(
                (
                    "open",
                    "click",
                    "hardbounce",
                    "softbounce",
                    "autoresponder",
                    "unsubscribe",
                    "open-unmapped",
                ),
                (60, 15, 3, 5, 1, 1, 13),
            )[0]
            mailing = rng.choice(MAILINGS[12:]) if kind == "open-unmapped" else rng.choice(MAILINGS[:12])
            event_type = "open" if kind == "open-unmapped" else kind
            list_id = rng.choice(("1001", "1002", "1003"))
            link = (
                "https://www.example.com/offers?utm_source=newsletter&utm_medium=email"
                if kind == "click"
                else ""
            )
            row = [rid, "contact", rid, list_id, mailing, WAVES.get(mailing, ""), event_type, at, link]
            mix[kind] = mix.get(kind, 0) + 1
            previous = row
            yield row

    with open(path, "wb") as out:
        write_rows(out, rows())
    return mix


# ------------------------------------------------------------------ measured steps (child processes)


def _settings():
    from include.crm_sync.responses import ResponseImportSettings

    return ResponseImportSettings(mailing_campaigns=MAPPED, file_lifetime_days=14)


def _client(port: int, host_key: str):
    import base64

    import paramiko

    ssh = paramiko.SSHClient()
    key_type, blob = host_key.split()[:2]
    ssh.get_host_keys().add(f"[127.0.0.1]:{port}", key_type, paramiko.Ed25519Key(data=base64.b64decode(blob)))
    ssh.connect(
        "127.0.0.1",
        port=port,
        username=SFTP_USER,
        password=SFTP_PASSWORD,
        look_for_keys=False,
        allow_agent=False,
    )
    return ssh, ssh.open_sftp()


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process on this machine (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _backend_cpu(engine) -> float | None:
    """CPU seconds of this database's PostgreSQL backends (they run on this machine here)."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        pids = (
            conn.exec_driver_sql("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            .scalars()
            .all()
        )
    try:
        return sum(_cpu_seconds(pid) for pid in pids)
    except OSError:
        return None


def child(step: str, url: str, port: int, host_key: str, landing: str) -> dict:
    from include.crm_sync.responses import ReimportRange, import_response_files
    from include.crm_sync.responses.download import download
    from include.crm_sync.responses.remote import list_remote_files
    from include.crm_sync.staging.engine import create_staging_engine

    ssh, sftp = _client(port, host_key)
    try:
        if step == "download":
            remote = list_remote_files(sftp, "/responses", "responses_*.csv")[0]
            started = time.perf_counter()
            facts = download(sftp, remote, Path(landing))
            return {"seconds": time.perf_counter() - started, "bytes": facts.size, "rows": None}
        import logging

        timings: list[str] = []

        class Keep(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                if "SQL seconds per step" in record.getMessage():
                    timings.append(record.getMessage().split(": ", 2)[-1])

        logging.getLogger("include.crm_sync.responses.apply").addHandler(Keep())
        logging.getLogger("include.crm_sync.responses.apply").setLevel(logging.INFO)
        engine = create_staging_engine(url, pool_size=2)
        reimport = ReimportRange(NOW.date(), NOW.date()) if step == "reimport" else None
        cpu_before = time.process_time()
        started = time.perf_counter()
        report = import_response_files(
            engine,
            sftp,
            settings=_settings(),
            landing_dir=landing,
            run_id=f"bench-{step}",
            list_consents=LIST_CONSENTS,
            now=NOW + timedelta(minutes=5),
            reimport=reimport,
        )
        seconds = time.perf_counter() - started
        importer_cpu = time.process_time() - cpu_before
        database_cpu = _backend_cpu(engine)
        engine.dispose()
        totals = report.totals
        return {
            "seconds": seconds,
            "rows": totals.read,
            "counts": totals.as_dict(),
            "importer_cpu_seconds": importer_cpu,
            "database_cpu_seconds": database_cpu,
            "sql_seconds": timings[-1] if timings else None,
            "statuses": report.as_dict()["files_by_status"],
            "campaign_responses": report.as_dict()["campaign_responses"],
        }
    finally:
        ssh.close()


def peak_rss_mb() -> float:
    """This process's peak RSS. ``VmHWM`` of /proc (the high-water mark of the process's own memory
    since exec); ``ru_maxrss`` would also count the parent's pages of the fork before exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(*args: str) -> dict:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "_child", *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"child {args[0]} failed:\n{out.stderr[-4000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall_seconds"] = time.perf_counter() - started
    return result


# ------------------------------------------------------------------ driver


def bench_dialect(
    dialect: str, args: argparse.Namespace, workdir: Path, source: Path, mix: dict
) -> list[dict]:
    from include.emulators.optimizely import EmulatorServer

    url = fresh_database(dialect, workdir, args.pg_url)
    log(f"{dialect}: loading {args.entities:,} CRM contacts")
    load_crm(url, args.entities)
    landing = workdir / f"landing-{dialect}"
    if landing.exists():
        for path in sorted(landing.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
    results = []
    with EmulatorServer(
        port=0, sftp_port=0, sftp_user=SFTP_USER, sftp_password=SFTP_PASSWORD, response_job_interval_seconds=0
    ) as emulator:
        emulator.control.set_clock(NOW.isoformat(), frozen=True)
        emulator.response_files.put_raw("responses_1_20260301T120000Z_000001.csv", source.read_bytes())
        for step in ("download", "import", "reimport"):
            log(f"{dialect}: {step}")
            result = run_child(step, url, str(emulator.sftp_port), emulator.sftp_host_key_line, str(landing))
            result.update(
                dialect=dialect,
                step=step,
                events=args.events,
                entities=args.entities,
                file_mb=source.stat().st_size / 1e6,
                mix=mix,
            )
            results.append(result)
            rate = (
                f"{args.events / result['seconds']:,.0f} events/s"
                if step != "download"
                else f"{result['bytes'] / result['seconds'] / 1e6:.1f} MB/s"
            )
            log(
                f"{dialect}: {step}: {result['seconds']:.1f} s, {rate}, "
                f"peak RSS {result['peak_rss_mb']:.0f} MB"
                + (f", {result['counts']}" if "counts" in result else "")
            )
    return results


def markdown(results: list[dict], args: argparse.Namespace) -> str:
    lines = [
        (
            f"# Response import benchmark ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.1f} at the end)"
        ),
        "",
        (
            f"One response file of {args.events:,} events ({results[0]['file_mb']:.0f} MB), "
            f"{args.entities:,} CRM "
            "contacts; see bench/response_import.py for the mix and the method."
        ),
        "",
        "Wall seconds depend on what else runs on the machine (see the load average); the CPU seconds of",
        "the importing process and of its PostgreSQL backends do much less. *events/s by CPU* = events /",
        "(importer CPU + database CPU): the rate the import reaches when it has the machine to itself",
        "(the two mostly take turns: Python waits while a statement runs).",
        "",
        "| dialect | step | wall s | events/s | importer CPU s | database CPU s "
        "| events/s by CPU | peak RSS MB "
        "| applied | known | ignored | rejected |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        c = r.get("counts") or {}
        rate = (
            f"{r['events'] / r['seconds']:,.0f}"
            if r["step"] != "download"
            else f"({r['bytes'] / r['seconds'] / 1e6:.0f} MB/s)"
        )
        cpu = (r.get("importer_cpu_seconds") or 0) + (r.get("database_cpu_seconds") or 0)
        by_cpu = f"{r['events'] / cpu:,.0f}" if cpu and r["step"] != "download" else ""
        lines.append(
            f"| {r['dialect']} | {r['step']} | {r['seconds']:.1f} | {rate} "
            f"| {_num(r.get('importer_cpu_seconds'))} | {_num(r.get('database_cpu_seconds'))} "
            f"| {by_cpu} | {r['peak_rss_mb']:.0f} "
            f"| {c.get('applied', '')} | {c.get('known', '')} "
            f"| {c.get('ignored', '')} | {c.get('rejected', '')} |"
        )
    steps = [f"- {r['dialect']} {r['step']}: {r['sql_seconds']}" for r in results if r.get("sql_seconds")]
    if steps:
        lines += ["", "SQL seconds per step of the apply (wall):", "", *steps]
    return "\n".join(lines) + "\n"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        step, url, port, host_key, landing = sys.argv[2:]
        result = child(step, url, int(port), host_key, landing)
        result["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(result, default=str))
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--entities", type=int, default=300_000)
    parser.add_argument("--dialect", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg-url", default=os.environ.get("CRM_SYNC_TEST_PG_URL", DEFAULT_PG))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/crm_sync_bench_responses"))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "response_import")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    source = args.workdir / f"responses_{args.events}.csv"
    log(f"writing a {args.events:,}-event response file")
    mix = write_response_file(source, args.events, [f"C{i:07d}" for i in range(args.entities)])
    dialects = ("postgresql", "sqlite") if args.dialect == "both" else (args.dialect,)
    results = [r for d in dialects for r in bench_dialect(d, args, args.workdir, source, mix)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    table = markdown(results, args)
    args.out.with_suffix(".md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
