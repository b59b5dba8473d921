"""`make ui`: the Airflow UI on the demo's data (run `make demo` first), until Ctrl-C.

Starts the platform emulators as scripts/demo.py does -- Optimizely Campaign (same SFTP folder and
host key under .local/demo), Spotler Mail+, Flexmail and Mailjet (scripts/demo_platforms.py) -- and
a local Airflow -- api-server, scheduler (LocalExecutor), dag-processor --
on the demo's metadata database (SQLite, .local/demo/airflow/airflow.db), so the demo's runs, task
logs and sync reports are there to browse. The connections point at the demo's CRM staging
database (.local/demo/crm_staging.db) and at these emulators, so runs triggered from the UI work too.
The DAGs are unpaused but nothing runs on a schedule: only what you trigger.

    python scripts/ui.py [--port 8080] [--parallelism N]

Task parallelism (LocalExecutor worker processes) follows the CPUs of the machine; override it with
``--parallelism N`` or ``CRM_SYNC_PARALLELISM=N``.

The emulators start empty: a run triggered here fills the platform lists from the demo's CRM.
Process logs: .local/demo/airflow/process-logs/.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

from include.emulators.optimizely.runner import EmulatorServer  # noqa: E402
from scripts import demo_platforms  # noqa: E402
from scripts.local_stack import (  # noqa: E402
    LocalAirflowStack,
    StackError,
    default_parallelism,
    demo_env,
    free_port,
)

DEMO = ROOT / ".local" / "demo"
DAG_IDS = ("crm_campaign_sync", "campaign_response_import")


def port_is_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _stop_on_sigterm(signum: int, frame: object) -> None:
    # `kill`, `timeout` or a service manager send SIGTERM, not Ctrl-C's SIGINT: stop the stack the
    # same way, or its processes (each in its own session) would outlive this script.
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=8080, help="UI port (default 8080; a free one if taken)")
    parser.add_argument(
        "--parallelism",
        type=int,
        default=None,
        help="tasks running at once (default: CRM_SYNC_PARALLELISM or the CPU count)",
    )
    args = parser.parse_args()
    if args.parallelism is not None and args.parallelism < 1:
        parser.error("--parallelism must be at least 1")
    parallelism = args.parallelism or default_parallelism()

    staging_db, metadata_db = DEMO / "crm_staging.db", DEMO / "airflow" / "airflow.db"
    if not (staging_db.exists() and metadata_db.exists()):
        raise SystemExit(f"No demo data under {DEMO.relative_to(ROOT)}: run `make demo` first.")
    port = args.port if port_is_free(args.port) else free_port()
    # The in-process SFTP server logs every client disconnect; this terminal shows the URL.
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)

    # as scripts/demo.py starts it: same SFTP folder and host key
    emulator = EmulatorServer(
        port=0, sftp_port=0, sftp_root=DEMO / "sftp", host_key_path=DEMO / "sftp_host_key"
    )
    with ExitStack() as running:
        running.enter_context(emulator)
        more = running.enter_context(demo_platforms.platform_emulators())
        env = demo_env(f"sqlite:///{staging_db}", emulator, landing_dir=DEMO / "landing")
        env.update(demo_platforms.connections_env(more))
        env["AIRFLOW__LOGGING__BASE_LOG_FOLDER"] = str(DEMO / "logs")  # where the demo's task logs are
        stack = LocalAirflowStack(
            home=DEMO / "airflow",
            metadata_url=f"sqlite:///{metadata_db}",
            executor="LocalExecutor",
            extra_env=env,
            api_port=port,
            parallelism=parallelism,
        )
        logs = stack.log_dir.relative_to(ROOT)
        print(
            f"Starting Airflow (LocalExecutor with {parallelism} worker processes, SQLite) -- "
            f"process logs in {logs}/ ...",
            flush=True,
        )
        try:
            stack.start()
            stack.wait_until_healthy(timeout=300)
            for dag_id in DAG_IDS:
                stack.wait_for_dag(dag_id)
                stack.unpause(dag_id)
            print(f"\nAirflow UI:     {stack.base_url}/dags/crm_campaign_sync   (no login)")
            print(f"Sync reports:   {stack.base_url}/crm-sync/")
            print(f"Emulator:       {emulator.base_url}   (SFTP on 127.0.0.1:{emulator.sftp_port})")
            print(f"Spotler:        {more.spotler.api_url}")
            print(
                f"Flexmail:       {more.flexmail.base_url}   (rate limit sped up "
                f"{demo_platforms.FLEXMAIL_SPEED_UP}x)"
            )
            print(f"Mailjet:        {more.mailjet.api_url}")
            print("Ctrl-C to stop.", flush=True)
            while True:
                stack.check_alive()  # a crashed process ends the script with its log's tail
                time.sleep(2)
        except KeyboardInterrupt:
            print("\nStopping ...", flush=True)
        except StackError as exc:
            raise SystemExit(str(exc)) from None
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
