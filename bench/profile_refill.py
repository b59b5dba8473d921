"""Profile one refill and compare it, in the same run, with the platform limit.

    .venv/bin/python bench/profile_refill.py --dialect postgresql --rows 100000
    .venv/bin/python bench/profile_refill.py --dialect sqlite --rows 100000 --profile   # + pyinstrument

Method
------
1. A staging database (PostgreSQL ``bench_profile_refill`` on the server of ``--pg-url``, or a
   SQLite file in ``--workdir``) is migrated and given one validated list run of ``--rows``
   recipients x 10 attributes (the shipped lists' attribute set), written straight into
   ``list_snapshot`` as the extraction writes it (UTF-8 JSON arrays of strings): the extraction
   is not what is measured here.
2. The emulator runs as ``python -m include.emulators.optimizely`` in its own process.
3. Rounds alternate (``--rounds``, default 2) so both figures see the same machine load:
   * **limit**: the same recipients as pre-built addAll3 request bodies (built before the clock
     starts, plain string template) posted by ``--parallel`` threads over keep-alive
     connections; the list is cleared first, as the refill does;
   * **refill**: ``refill_list`` of the list run (a fresh copy each round), real client, same
     concurrency. Its client CPU is this process's CPU time (the emulator's is not in it).
4. Printed and written to ``--out`` (JSON): recipients/s of both, the ratio, client CPU per 1000
   recipients, and with ``--profile`` the top frames of a pyinstrument profile of the last refill
   (the full profile goes to ``--workdir`` as text and HTML).

Not collected by pytest (no ``test_`` prefix).
"""

from __future__ import annotations

import argparse
import json
import os
import platform as platform_module
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

import sqlalchemy as sa  # noqa: E402

from bench.common.pg import create_database, database_url, drop_database  # noqa: E402
from bench.scenarios.platform_limit import post_bodies  # noqa: E402

DEFAULT_PG = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
DB_NAME = "bench_profile_refill"
LIST_ID = 1001
OPTIN_ID = 2001
ATTRIBUTES = (
    "opt-in-id",
    "description",
    "media-type",
    "entity-type",
    "entity-id",
    "first-name",
    "last-name",
    "language",
    "city",
    "company",
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def attributes(i: int) -> list[str]:
    """What the extraction writes (strings, "" for an empty CRM field), with characters XML escapes."""
    return [
        "newsletter",
        f"Contact {i} & family <vip>",
        "email",
        "contact",
        f"E{i:08d}",
        f"Jöhn{i % 977}",
        f"O'Brien-{i % 1013}",
        "nl" if i % 3 else "",
        "'s-Hertogenbosch",
        "ACME Ltd.",
    ]


# ------------------------------------------------------------------ preparation


def staging_url(args: argparse.Namespace) -> str:
    if args.dialect == "sqlite":
        return f"sqlite:///{args.workdir / 'profile_refill.db'}"
    return database_url(args.pg_url, args.db_name)


def prepare_database(args: argparse.Namespace, url: str) -> None:
    from include.crm_sync.staging.migrate import upgrade

    if args.dialect == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.workdir / 'profile_refill.db'}{suffix}").unlink(missing_ok=True)
    else:
        create_database(args.pg_url, args.db_name)
    upgrade(url)


def new_list_run(engine: sa.Engine, rows: int, round_no: int) -> int:
    """A validated list run of ``rows`` recipients in a sync run whose feedback import succeeded."""
    from include.crm_sync.staging.tables import list_run, list_snapshot, sync_run

    now = datetime.now(UTC)
    run_id = f"profile-{round_no}-{int(time.time())}"
    with engine.begin() as conn:
        conn.execute(
            sa.insert(sync_run).values(run_id=run_id, status="running", feedback_ok=True, started_at=now)
        )
        list_run_id = conn.execute(
            sa.insert(list_run)
            .values(
                run_id=run_id,
                list_name="newsletter_nl",
                platform="optimizely",
                platform_list_id=str(LIST_ID),
                optin_process_id=str(OPTIN_ID),
                consent_id="newsletter",
                attribute_names=list(ATTRIBUTES),
                status="validated",
                snapshot_rows=rows,
                started_at=now,
            )
            .returning(list_run.c.list_run_id)
        ).scalar_one()
        for start in range(0, rows, 20_000):
            conn.execute(
                sa.insert(list_snapshot),
                [
                    {
                        "list_run_id": list_run_id,
                        "seq": i,
                        "recipient_id": f"C{i:08d}",
                        "email": f"person.{i}@example.com",
                        "attr_values": attributes(i),
                    }
                    for i in range(start, min(start + 20_000, rows))
                ],
            )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE list_snapshot")
    return list_run_id


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_emulator(workdir: Path) -> tuple[subprocess.Popen, str]:
    from include.emulators.optimizely.control import ControlClient

    port = free_port()
    log_file = (workdir / "emulator.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "include.emulators.optimizely", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    base_url = f"http://127.0.0.1:{port}"
    control = ControlClient(base_url, timeout=5)
    deadline = time.monotonic() + 60
    while True:  # wait for the socket (a start-up poll, not a measurement)
        try:
            control.state()
            return proc, base_url
        except Exception:  # noqa: BLE001
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the emulator did not start; see {workdir / 'emulator.log'}") from None
            time.sleep(0.2)


def make_platform(base_url: str, parallel: int):
    from include.crm_sync.platforms.optimizely.client import OptimizelyCampaignClient
    from include.crm_sync.platforms.optimizely.platform import OptimizelyCampaignPlatform

    client = OptimizelyCampaignClient(base_url, 1, "demo", "demo", max_parallel_calls=parallel)
    return OptimizelyCampaignPlatform(client)


# ------------------------------------------------------------------ the platform limit


def _array(values: list[str], ns: str) -> str:
    items = "".join(f"<item>{escape(v)}</item>" for v in values)
    return (
        f'xmlns:{ns}="http://schemas.xmlsoap.org/soap/encoding/" '
        f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        f'xsi:type="{ns}:Array" {ns}:arrayType="xs:string[{len(values)}]">{items}'
    )


def prebuilt_bodies(session_id: str, rows: int, batch_size: int) -> list[bytes]:
    """addAll3 request bodies of the same recipients the snapshot holds (what zeep would send)."""
    bodies = []
    for start in range(0, rows, batch_size):
        seqs = range(start, min(start + batch_size, rows))
        matrix = "".join(
            f'<item xsi:type="ns4:Array" ns4:arrayType="xs:string[{len(ATTRIBUTES)}]">'
            + "".join(f"<item>{escape(v or '')}</item>" for v in attributes(i))
            + "</item>"
            for i in seqs
        )
        body = (
            "<?xml version='1.0' encoding='utf-8'?>\n"
            '<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Body>'
            '<ns0:addAll3 xmlns:ns0="urn:api.broadmail.de/soap11/RpcRecipient">'
            f"<in0>{session_id}</in0><in1>{LIST_ID}</in1><in2>{OPTIN_ID}</in2>"
            f"<in3 {_array([f'C{i:08d}' for i in seqs], 'ns1')}</in3>"
            f"<in4 {_array([f'person.{i}@example.com' for i in seqs], 'ns2')}</in4>"
            f"<in5 {_array(list(ATTRIBUTES), 'ns3')}</in5>"
            '<in6 xmlns:ns4="http://schemas.xmlsoap.org/soap/encoding/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
            f'xsi:type="ns4:Array" ns4:arrayType="xs:string[][{len(seqs)}]">{matrix}</in6>'
            "</ns0:addAll3></soap-env:Body></soap-env:Envelope>"
        )
        bodies.append(body.encode())
    return bodies


def measure_limit(base_url: str, parallel: int, rows: int, batch_size: int) -> dict:
    platform = make_platform(base_url, parallel)
    platform.clear(str(LIST_ID))  # logs in; the refill also starts from an empty list
    session_id = platform.client._session.current()
    bodies = prebuilt_bodies(session_id, rows, batch_size)
    seconds, _ = post_bodies(base_url, bodies, parallel)
    count = platform.count(str(LIST_ID))
    platform.close()
    return {"seconds": round(seconds, 3), "rps": round(rows / seconds), "platform_count": count}


# ------------------------------------------------------------------ the refill


class _ProfiledAddBatch:
    """The platform with every ``add_batch``/``add_prepared`` call profiled in its own (worker) thread."""

    def __init__(self, inner, sessions: list) -> None:
        self.inner = inner
        self.sessions = sessions
        self.name, self.max_batch_size = inner.name, inner.max_batch_size

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def add_batch(self, *args, **kwargs):
        return self._profiled(self.inner.add_batch, *args, **kwargs)

    def add_prepared(self, *args, **kwargs):
        return self._profiled(self.inner.add_prepared, *args, **kwargs)

    def _profiled(self, call, *args, **kwargs):
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001, async_mode="disabled")
        profiler.start()
        try:
            return call(*args, **kwargs)
        finally:
            self.sessions.append(profiler.stop())


def measure_refill(
    url: str, base_url: str, parallel: int, rows: int, round_no: int, profile: Path | None
) -> dict:
    import logging

    from include.crm_sync.staging.engine import create_staging_engine
    from include.crm_sync.sync.refill import RefillOptions, refill_list

    logging.basicConfig(level=logging.WARNING)
    # UTF-8 JSON as the extraction's json_build_array/json_array write it (not \\u-escaped).
    engine = create_staging_engine(url, json_serializer=lambda o: json.dumps(o, ensure_ascii=False))
    list_run_id = new_list_run(engine, rows, round_no)
    platform = make_platform(base_url, parallel)
    options = RefillOptions(batch_size=1000, max_parallel_calls=parallel, progress_every_seconds=3600)
    profiler = None
    worker_sessions: list = []
    if profile is not None:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001, async_mode="disabled")
        profiler.start()
        platform = _ProfiledAddBatch(platform, worker_sessions)
    # the client's CPU from clear on (the upload phase), apart from the preparation before it
    # (clock and CPU taken here, not from the report, so that the same script measures older code)
    at_clear: list[tuple[float, float]] = []
    inner_clear = platform.clear

    def clear(list_id: str) -> None:
        at_clear.append((time.perf_counter(), time.process_time()))
        inner_clear(list_id)

    platform.clear = clear
    cpu = time.process_time()
    started = time.perf_counter()
    report = refill_list(engine, platform, list_run_id, options)
    ended = time.perf_counter()
    seconds = ended - started
    upload_s = ended - at_clear[0][0]  # clear .. refill_list returns (final count and audit included)
    upload_cpu = time.process_time() - at_clear[0][1]
    cpu = time.process_time() - cpu
    top = None
    if profiler is not None:
        from pyinstrument.renderers import ConsoleRenderer, HTMLRenderer
        from pyinstrument.session import Session

        profiler.stop()
        main_text = profiler.output_text(unicode=True, color=False, show_all=False)
        workers = worker_sessions[0]
        for session in worker_sessions[1:]:
            workers = Session.combine(workers, session)
        worker_text = ConsoleRenderer(unicode=True, color=False, show_all=False).render(workers)
        profile.with_suffix(".txt").write_text(
            "MAIN THREAD\n" + main_text + "\nWORKER THREADS (add_batch)\n" + worker_text
        )
        profile.with_suffix(".html").write_text(profiler.output_html())
        profile.with_name(profile.name + "_workers.html").write_text(HTMLRenderer().render(workers))
        top = [
            "MAIN THREAD",
            *main_text.splitlines()[:45],
            "WORKER THREADS (add_batch)",
            *worker_text.splitlines()[:45],
        ]
    (platform.inner if isinstance(platform, _ProfiledAddBatch) else platform).close()
    engine.dispose()
    assert report.uploaded == rows and report.platform_count == report.accepted == rows, report
    return {
        "seconds": round(seconds, 3),
        "rps": round(rows / seconds),
        "window_s": round(report.window_seconds, 3),
        "window_rps": round(rows / report.window_seconds) if report.window_seconds else None,
        "upload_s": round(upload_s, 3),
        "upload_rps": round(rows / upload_s),
        "client_cpu_s": round(cpu, 3),
        "client_cpu_ms_per_1000": round(cpu * 1000 / rows * 1000, 2),
        "upload_cpu_ms_per_1000": round(upload_cpu * 1000 / rows * 1000, 2),
        "profiled": profiler is not None,
        "top_frames": top,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dialect", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--pg-url", default=os.environ.get("CRM_SYNC_TEST_PG_URL", DEFAULT_PG))
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--profile", action="store_true", help="pyinstrument the last refill (not timed then)"
    )
    parser.add_argument("--workdir", type=Path, default=ROOT / ".local" / "bench_profile_refill")
    parser.add_argument("--db-name", default=DB_NAME, help="PostgreSQL database to (re)create and drop")
    parser.add_argument("--out", type=Path, default=None, help="JSON result file")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    url = staging_url(args)
    prepare_database(args, url)
    emulator, base_url = start_emulator(args.workdir)
    log(
        f"emulator {base_url} (pid {emulator.pid}); {args.rows:,} rows on {args.dialect}, "
        f"{args.parallel} in flight"
    )
    limits, refills = [], []
    try:
        for round_no in range(args.rounds):
            limits.append(measure_limit(base_url, args.parallel, args.rows, 1000))
            log(f"round {round_no}: limit {limits[-1]}")
            refills.append(measure_refill(url, base_url, args.parallel, args.rows, round_no, None))
            log(f"round {round_no}: refill { {k: v for k, v in refills[-1].items() if k != 'top_frames'} }")
        profiled = None
        if args.profile:
            path = args.workdir / f"refill_{args.dialect}"
            profiled = measure_refill(url, base_url, args.parallel, args.rows, args.rounds, path)
            log(
                f"profile: {path}.txt / .html; CPU ms per 1000 under the profiler: "
                f"{profiled['client_cpu_ms_per_1000']}"
            )
            print("\n".join(profiled["top_frames"]))
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
        if args.dialect == "postgresql":
            drop_database(args.pg_url, args.db_name)
    limit_rps = statistics.median(r["rps"] for r in limits)
    refill_rps = statistics.median(r["rps"] for r in refills)
    result = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": (
            f"{platform_module.machine()}, {os.cpu_count()} CPUs, Python {platform_module.python_version()}"
        ),
        "dialect": args.dialect,
        "rows": args.rows,
        "parallel": args.parallel,
        "limit_rps": limit_rps,
        "refill_rps": refill_rps,
        "ratio": round(refill_rps / limit_rps, 3),
        # each refill against the limit measured right before it (the pair sees the same load)
        "ratio_per_round": [round(r["rps"] / lim["rps"], 3) for lim, r in zip(limits, refills, strict=True)],
        # the upload phase alone (clear .. final count) and the window against the same limit round
        "upload_ratio_per_round": [
            round(r["upload_rps"] / lim["rps"], 3) for lim, r in zip(limits, refills, strict=True)
        ],
        "window_per_floor": [
            round(r["window_s"] / (args.rows / lim["rps"]), 3) for lim, r in zip(limits, refills, strict=True)
        ],
        "client_cpu_ms_per_1000": statistics.median(r["client_cpu_ms_per_1000"] for r in refills),
        "upload_cpu_ms_per_1000": statistics.median(r["upload_cpu_ms_per_1000"] for r in refills),
        "limits": limits,
        "refills": refills,
        "profiled": profiled,
    }
    summary = {
        k: result[k]
        for k in (
            "dialect",
            "rows",
            "parallel",
            "limit_rps",
            "refill_rps",
            "ratio",
            "ratio_per_round",
            "upload_ratio_per_round",
            "window_per_floor",
            "client_cpu_ms_per_1000",
            "upload_cpu_ms_per_1000",
        )
    }
    print(json.dumps(summary))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
