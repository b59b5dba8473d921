"""Measure (and optionally profile) the feedback and response imports against PostgreSQL COPY of the
same file content, in one run, on PostgreSQL.

    .venv/bin/python bench/profile_imports.py prepare [--rows 1000000]   # template DBs + files, once
    .venv/bin/python bench/profile_imports.py run feedback [--profile]
    .venv/bin/python bench/profile_imports.py run responses [--profile]

``prepare`` builds two template databases (the feedback one filled by the CRM generator with
``--contacts`` contacts, the responses one with ``--entities`` contacts as bench/response_import.py
does) and writes a ``--rows`` feedback bounces file and a response file with the generators of
bench/feedback_import.py and bench/response_import.py. ``run`` clones the template
(``CREATE DATABASE … TEMPLATE``), COPYs the file into an unindexed all-text table of the file's
columns (the limit), then runs the import in a child process (its peak RSS is its own), through
the public functions (``apply_feedback_file``; ``import_response_files`` over a local-folder
SFTP stand-in, so the download is not part of the figure). ``--profile`` wraps the import in
pyinstrument and prints the top frames.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import sqlalchemy as sa  # noqa: E402

from bench.common.pg import create_database  # noqa: E402

DEFAULT_PG = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
WORKDIR = Path("/tmp/crm_sync_profile_imports")
TEMPLATES = {"feedback": "prof_feedback_tmpl", "responses": "prof_responses_tmpl"}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def prepare(args: argparse.Namespace) -> None:
    import feedback_import as fb
    import response_import as rs

    from include.crm_sync.generate import generate
    from include.crm_sync.staging.migrate import upgrade

    WORKDIR.mkdir(parents=True, exist_ok=True)
    url = create_database(args.pg_url, TEMPLATES["feedback"])
    log(f"feedback template: generating {args.contacts:,} contacts")
    generate(url, contacts=args.contacts, seed=42, migrate=True)
    people = fb.entities(url)
    fb.write_csv(WORKDIR / "feedback_bounces.csv", fb.feedback_rows("bounces", args.rows, people, seed=1))
    fb.write_csv(
        WORKDIR / "feedback_unsubscribes.csv", fb.feedback_rows("unsubscribes", args.rows, people, seed=2)
    )
    url = create_database(args.pg_url, TEMPLATES["responses"])
    upgrade(url)
    log(f"responses template: {args.entities:,} contacts")
    ids = rs.load_crm(url, args.entities)
    (WORKDIR / "remote").mkdir(exist_ok=True)
    rs.write_response_file(WORKDIR / "remote" / "responses_1_20260301T120000Z_000001.csv", args.rows, ids)
    log("prepared")


def copy_limit(url: str, path: Path) -> dict:
    """COPY of the file's content into an unindexed table of text columns (the limit)."""
    with open(path, encoding="utf-8") as f:
        header = f.readline().strip().split(",")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS copy_limit")
        conn.exec_driver_sql(f"CREATE TABLE copy_limit ({', '.join(f'{c} text' for c in header)})")
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        started = time.perf_counter()
        with open(path, encoding="utf-8") as f:
            cursor.copy_expert("COPY copy_limit FROM STDIN WITH (FORMAT csv, HEADER true)", f)
        raw.commit()
        seconds = time.perf_counter() - started
        cursor.execute("SELECT count(*) FROM copy_limit")
        rows = cursor.fetchone()[0]
        cursor.execute("DROP TABLE copy_limit")
        raw.commit()
    finally:
        raw.close()
        engine.dispose()
    return {"rows": rows, "seconds": seconds, "rps": rows / seconds}


class LocalFolder:
    """The ``SftpClient`` subset over a local folder (profiling only: no network in the figure)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _p(self, path: str) -> Path:
        return self.root / path.lstrip("/").removeprefix("responses").lstrip("/")

    def listdir_attr(self, path: str = "."):
        out = []
        for p in sorted(self._p(path).iterdir()):
            st = p.stat()
            a = type("A", (), {})()
            a.filename, a.st_size, a.st_mtime, a.st_mode = p.name, st.st_size, st.st_mtime, st.st_mode
            out.append(a)
        return out

    def stat(self, path: str):
        st = self._p(path).stat()
        a = type("A", (), {})()
        a.filename, a.st_size, a.st_mtime, a.st_mode = Path(path).name, st.st_size, st.st_mtime, stat.S_IFREG
        return a

    def open(self, filename: str, mode: str = "r", bufsize: int = -1):
        return open(self._p(filename), "rb")


def child(which: str, url: str, profile: bool, kind: str) -> dict:
    import logging

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    for name in ("include.crm_sync.feedback.apply", "include.crm_sync.responses.apply"):
        logging.getLogger(name).setLevel(logging.INFO)
    from include.crm_sync.staging.engine import create_staging_engine

    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.005)
    engine = create_staging_engine(url)
    connections = []
    if os.environ.get("PROFILE_EXPLAIN"):
        # plans of the slow statements, sent back as notices (auto_explain at LOG level)
        @sa.event.listens_for(engine, "connect")
        def _explain(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(
                "LOAD 'auto_explain'; SET auto_explain.log_min_duration = 500; "
                "SET auto_explain.log_analyze = on; SET auto_explain.log_buffers = on; "
                "SET auto_explain.log_nested_statements = on; SET client_min_messages = log"
            )
            cursor.close()
            dbapi_connection.commit()  # SET is transactional: keep it past the pool's rollback
            connections.append(dbapi_connection)

    cpu0 = time.process_time()
    started = time.perf_counter()
    if profiler:
        profiler.start()
    if which == "feedback":
        import feedback_import as fb

        from include.crm_sync.feedback import apply_feedback_file

        report = apply_feedback_file(
            engine, WORKDIR / f"feedback_{kind}.csv", kind, list_consents=fb.LIST_CONSENTS
        )
        rows, counts = report.counts.read, report.as_dict()
    else:
        import response_import as rs

        from include.crm_sync.responses import import_response_files

        landing = WORKDIR / "landing"
        if landing.exists():
            for p in sorted(landing.rglob("*"), reverse=True):
                p.unlink() if p.is_file() else p.rmdir()
        report = import_response_files(
            engine,
            LocalFolder(WORKDIR / "remote"),
            settings=rs._settings(),
            landing_dir=landing,
            run_id="profile",
            list_consents=rs.LIST_CONSENTS,
            now=rs.NOW + rs.timedelta(minutes=5),
        )
        rows, counts = report.totals.read, report.totals.as_dict()
    seconds = time.perf_counter() - started
    if profiler:
        profiler.stop()
        (WORKDIR / f"profile_{which}.txt").write_text(
            profiler.output_text(unicode=True, color=False, show_all=False)
        )
    cpu = time.process_time() - cpu0
    for dbapi_connection in connections:
        for notice in dbapi_connection.notices:
            print(notice, file=sys.stderr)
    engine.dispose()
    with open("/proc/self/status") as status:
        rss = next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:"))
    return {
        "rows": rows,
        "seconds": seconds,
        "rps": rows / seconds,
        "cpu_seconds": cpu,
        "peak_rss_mb": rss,
        "counts": counts,
    }


def run(args: argparse.Namespace) -> None:
    url = create_database(args.pg_url, f"prof_{args.which}_run", TEMPLATES[args.which])
    path = (
        WORKDIR / f"feedback_{args.kind}.csv"
        if args.which == "feedback"
        else WORKDIR / "remote" / "responses_1_20260301T120000Z_000001.csv"
    )
    limit = copy_limit(url, path)
    log(f"COPY: {limit['rows']:,} rows in {limit['seconds']:.2f} s = {limit['rps']:,.0f} rows/s")
    out = subprocess.run(
        [sys.executable, __file__, "_child", args.which, url, "1" if args.profile else "0", args.kind],
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise SystemExit(out.stderr[-5000:])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    for line in out.stderr.splitlines():
        if "SQL seconds" in line or os.environ.get("PROFILE_EXPLAIN"):
            log(line)
    log(
        f"{args.which}: {result['rows']:,} rows in {result['seconds']:.1f} s = {result['rps']:,.0f} rows/s "
        f"(CPU {result['cpu_seconds']:.1f} s), peak RSS {result['peak_rss_mb']:.0f} MB; "
        f"{result['rps'] / limit['rps']:.1%} of COPY; load avg {os.getloadavg()[0]:.1f}"
    )
    log(f"counts: {result['counts']}")
    if args.profile:
        text = (WORKDIR / f"profile_{args.which}.txt").read_text()
        print("\n".join(text.splitlines()[:80]))
    print(json.dumps({"import": result, "copy": limit, "ratio": result["rps"] / limit["rps"]}, default=str))


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        which, url, profile, kind = sys.argv[2:]
        print(json.dumps(child(which, url, profile == "1", kind), default=str))
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pg-url", default=os.environ.get("CRM_SYNC_TEST_PG_URL", DEFAULT_PG))
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--contacts", type=int, default=1_000_000)
    p.add_argument("--entities", type=int, default=300_000)
    r = sub.add_parser("run")
    r.add_argument("which", choices=("feedback", "responses"))
    r.add_argument("--kind", choices=("bounces", "unsubscribes"), default="bounces")
    r.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    prepare(args) if args.command == "prepare" else run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
