"""A real Airflow deployment as local processes from this venv: the e2e tests' stack and `make ui`'s.

    stack = LocalAirflowStack(home=tmp, metadata_url="postgresql+psycopg2://...", executor="CeleryExecutor",
                              broker_url="redis://127.0.0.1:6379/11", extra_env={"AIRFLOW_CONN_...": "..."})
    with stack:                                   # db migrate, then api-server, scheduler, dag-processor
        stack.wait_until_healthy()                # (+ `celery worker --concurrency 2` for Celery)
        stack.wait_for_dag("crm_campaign_sync")
        stack.unpause("crm_campaign_sync")
        run_id = stack.trigger("crm_campaign_sync", conf={"lists": ["newsletter_nl"]})
        stack.wait_for_run("crm_campaign_sync", run_id)
        stack.task_instances("crm_campaign_sync", run_id)

Each process runs in its own session (process group) with stdout+stderr in
``<home>/process-logs/<name>.log``; ``stop()`` ends every group and whatever is left of their
descendants (task processes put themselves in groups of their own). Ports are picked free at
start. Auth is the simple auth manager with every user admin, so the UI needs no login and the
REST helpers send no token. Cron schedules are off (``use_job_schedule``): nothing runs unless it
is triggered, so unpausing a DAG never starts a run of its own.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Self

import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
#: states after which a DAG run or task instance changes no more
FINISHED_RUN_STATES = frozenset({"success", "failed"})
#: seconds one REST call to the api-server may take before it counts as failed (see ``request``)
REQUEST_TIMEOUT_SECONDS = 120
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


class StackError(RuntimeError):
    """The stack did not start, stay up or answer as expected; the message carries the log tails."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free right now (the OS picks it; a tiny race until the process binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


#: overrides the stack's task parallelism (default: the CPUs this process may use)
PARALLELISM_ENV = "CRM_SYNC_PARALLELISM"


def default_parallelism() -> int:
    """``CRM_SYNC_PARALLELISM`` if set, else the CPUs available to this process (at least 2)."""
    raw = os.environ.get(PARALLELISM_ENV, "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"{PARALLELISM_ENV} must be a positive integer, got {raw!r}") from None
        if value < 1:
            raise ValueError(f"{PARALLELISM_ENV} must be a positive integer, got {raw!r}")
        return value
    # the affinity mask, not os.cpu_count(): a container or taskset may grant fewer CPUs than the host has
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(2, cpus)


def celery_result_backend(metadata_url: str) -> str:
    """Celery's database result backend on the metadata database (``db+<sqlalchemy url>``)."""
    return f"db+{metadata_url}"


class LocalAirflowStack:
    """api-server, scheduler, dag-processor (and a Celery worker) of one Airflow home."""

    def __init__(
        self,
        *,
        home: Path,
        metadata_url: str,
        executor: str = "LocalExecutor",
        broker_url: str | None = None,
        result_backend: str | None = None,
        celery_concurrency: int = 2,
        extra_env: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        api_port: int | None = None,
        python: str = sys.executable,
        parallelism: int | None = None,
    ) -> None:
        if executor == "CeleryExecutor" and not broker_url:
            raise ValueError("CeleryExecutor needs a broker_url (e.g. redis://127.0.0.1:6379/11)")
        self.home = Path(home).resolve()
        self.metadata_url = metadata_url
        self.executor = executor
        self.broker_url = broker_url
        self.result_backend = result_backend or celery_result_backend(metadata_url)
        self.celery_concurrency = celery_concurrency
        self.extra_env = dict(extra_env or {})
        self.host = host
        self.api_port = api_port
        self.python = python
        self.parallelism = parallelism or default_parallelism()
        self.log_dir = self.home / "process-logs"
        self.processes: dict[str, subprocess.Popen] = {}
        self._env: dict[str, str] | None = None
        self._http = requests.Session()

    # ------------------------------------------------------------------ configuration

    @property
    def celery(self) -> bool:
        return self.executor == "CeleryExecutor"

    @property
    def base_url(self) -> str:
        if self.api_port is None:
            raise StackError("the stack has not been started (no api port yet)")
        return f"http://{self.host}:{self.api_port}"

    @property
    def env(self) -> dict[str, str]:
        """The environment every Airflow process of this stack runs with (built once, at start)."""
        if self._env is None:
            self._env = self._build_env()
        return self._env

    def _build_env(self) -> dict[str, str]:
        if self.api_port is None:
            self.api_port = free_port(self.host)
        # Nothing Airflow-related leaks in from the caller's environment (a test session's
        # AIRFLOW_HOME, a developer's AIRFLOW__... settings): this stack is configured only here.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_")) and k != "AIRFLOW_HOME"
        }
        settings = {
            "core": {
                "executor": self.executor,
                "load_examples": "False",
                "dags_folder": str(ROOT / "dags"),
                "plugins_folder": str(ROOT / "plugins"),
                "dags_are_paused_at_creation": "True",
                "auth_manager": SIMPLE_AUTH_MANAGER,
                "simple_auth_manager_all_admins": "True",
                "execution_api_server_url": f"{self.base_url}/execution/",
                "fernet_key": _fernet_key(),
                # Airflow's default (32) starts 32 LocalExecutor worker processes: sized to the machine
                "parallelism": str(self.parallelism),
            },
            "database": {"sql_alchemy_conn": self.metadata_url},
            "api": {
                "host": self.host,
                "port": str(self.api_port),
                "base_url": self.base_url,
                "secret_key": secrets.token_urlsafe(32),
                "workers": "1",
            },
            "api_auth": {"jwt_secret": secrets.token_urlsafe(32)},
            "logging": {
                "base_log_folder": str(self.home / "logs"),
                # the worker's (or LocalExecutor scheduler's) log server: the UI reads live task logs there
                "worker_log_server_port": str(free_port(self.host)),
                "trigger_log_server_port": str(free_port(self.host)),
            },
            "scheduler": {
                # Only triggered runs: unpausing a cron DAG would otherwise start its latest interval.
                "use_job_schedule": "False",
            },
            "dag_processor": {
                "refresh_interval": "5",  # list the dags folder every 5 s: DAGs show up fast
                "parsing_processes": "1",
            },
        }
        if self.celery:
            settings["celery"] = {
                "broker_url": self.broker_url or "",
                "result_backend": self.result_backend,
                "worker_concurrency": str(self.celery_concurrency),
            }
        for section, options in settings.items():
            for option, value in options.items():
                env[f"AIRFLOW__{section.upper()}__{option.upper()}"] = value
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins")]),
                "GX_ANALYTICS_ENABLED": "false",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> Self:
        """``airflow db migrate``, then every long-running process; returns at once (then call
        ``wait_until_healthy``)."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.migrate()
        try:
            self._spawn(
                "api-server",
                ["api-server", "--host", self.host, "--port", str(self.api_port), "--workers", "1"],
            )
            self._spawn("scheduler", ["scheduler"])
            self._spawn("dag-processor", ["dag-processor"])
            if self.celery:
                self._spawn(
                    "celery-worker",
                    [
                        "celery",
                        "worker",
                        "--concurrency",
                        str(self.celery_concurrency),
                        "--without-gossip",
                        "--without-mingle",  # one worker: nobody to sync with
                    ],
                )
        except BaseException:
            self.stop()
            raise
        return self

    def migrate(self, timeout: float = 600) -> None:
        log = self.log_dir / "db-migrate.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as out:
            result = subprocess.run(
                [self.python, "-m", "airflow", "db", "migrate"],
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
            )
        if result.returncode != 0:
            raise StackError(f"airflow db migrate failed (exit {result.returncode}):\n{_tail(log)}")

    def _spawn(self, name: str, args: list[str]) -> None:
        log = (self.log_dir / f"{name}.log").open("w")
        try:
            # start_new_session: its own process group, so stop() can signal the whole tree at once.
            self.processes[name] = subprocess.Popen(
                [self.python, "-m", "airflow", *args],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            log.close()  # the child holds its own descriptor

    def stop(self, grace: float = 20) -> None:
        """SIGTERM every process group, SIGKILL what is still alive after ``grace`` seconds."""
        if not self.processes:
            return
        tree: list[psutil.Process] = []
        for proc in self.processes.values():
            try:
                parent = psutil.Process(proc.pid)
                tree += [parent, *parent.children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
        for proc in self.processes.values():
            _signal_group(proc.pid, signal.SIGTERM)
        for child in tree:  # descendants that made groups of their own (task processes)
            try:
                child.send_signal(signal.SIGTERM)
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(tree, timeout=grace)
        for proc in self.processes.values():
            _signal_group(proc.pid, signal.SIGKILL)
        for child in alive:
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(alive, timeout=5)
        for proc in self.processes.values():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.processes.clear()
        self._http.close()

    # ------------------------------------------------------------------ readiness

    def log_tails(self, lines: int = 40) -> str:
        """The last lines of every process log (what a failure message should show)."""
        return "\n".join(
            f"----- {log.name} (last {lines} lines) -----\n{_tail(log, lines)}"
            for log in sorted(self.log_dir.glob("*.log"))
        )

    def check_alive(self) -> None:
        dead = {name: proc.returncode for name, proc in self.processes.items() if proc.poll() is not None}
        if dead:
            raise StackError(f"Airflow process(es) exited: {dead}\n{self.log_tails()}")

    def health(self) -> dict[str, Any]:
        return self._http.get(f"{self.base_url}/api/v2/monitor/health", timeout=10).json()

    def wait_until_healthy(self, timeout: float = 300, poll: float = 2) -> dict[str, Any]:
        """Poll /api/v2/monitor/health until the metadata DB, scheduler and dag-processor are
        healthy (and, for Celery, a worker answers a ping); fail with every log's tail otherwise."""
        deadline = time.monotonic() + timeout
        last: Any = "no answer yet"
        while True:
            self.check_alive()
            try:
                last = self.health()
                components = ("metadatabase", "scheduler", "dag_processor")
                if all((last.get(c) or {}).get("status") == "healthy" for c in components):
                    if not self.celery or self.celery_workers():
                        return last
                    last = {**last, "celery": "no worker answered a ping yet"}
            except (requests.RequestException, ValueError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            if time.monotonic() > deadline:
                raise StackError(
                    f"Airflow not healthy after {timeout:.0f}s at {self.base_url}: {last}\n{self.log_tails()}"
                )
            time.sleep(poll)

    def celery_workers(self) -> list[str]:
        """Names of the Celery workers that answer a ping on this stack's broker."""
        from celery import Celery

        app = Celery(broker=self.broker_url)
        try:
            return [name for reply in app.control.ping(timeout=1.0) for name in reply]
        finally:
            app.close()

    def wait_for_dag(self, dag_id: str, timeout: float = 180, poll: float = 2) -> dict[str, Any]:
        """Wait until the dag-processor has parsed ``dag_id``; fail at once on an import error."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            response = self._http.get(f"{self.base_url}/api/v2/dags/{dag_id}", timeout=10)
            if response.status_code == 200:
                return response.json()
            errors = self.get("/api/v2/importErrors").get("import_errors", [])
            if errors:
                raise StackError(f"DAG import errors: {json.dumps(errors, indent=1)[:4000]}")
            if time.monotonic() > deadline:
                raise StackError(f"DAG {dag_id} not parsed after {timeout:.0f}s\n{self.log_tails()}")
            time.sleep(poll)

    # ------------------------------------------------------------------ REST

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        # A generous read timeout: on a busy 2-core machine the api-server shares the cores with the
        # scheduler, the workers, the emulators and PostgreSQL, and answered in over 30 s at load 30.
        response = self._http.request(
            method, f"{self.base_url}{path}", timeout=REQUEST_TIMEOUT_SECONDS, **kwargs
        )
        if response.status_code >= 400:
            raise StackError(f"{method} {path} -> {response.status_code}: {response.text[:2000]}")
        return response.json() if response.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def unpause(self, dag_id: str) -> dict[str, Any]:
        return self.request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, run_id: str | None = None) -> str:
        """Trigger a manual run (``logical_date`` null, as the UI does); returns its run id."""
        body: dict[str, Any] = {"logical_date": None, "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        return self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)["dag_run_id"]

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.dag_run(dag_id, run_id)["state"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of the run, mapped ones included (one row per map index)."""
        items: list[dict[str, Any]] = []
        while True:
            page = self.get(
                f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=100, offset=len(items)
            )
            items += page["task_instances"]
            if not page["task_instances"] or len(items) >= page["total_entries"]:
                return items

    def wait_for_run(
        self,
        dag_id: str,
        run_id: str,
        timeout: float = 600,
        poll: float = 3,
        states: Iterable[str] = FINISHED_RUN_STATES,
    ) -> str:
        """Poll the run until it reaches one of ``states``; its state. Fails on timeout with the
        task states and the process logs' tails."""
        wanted = set(states)
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            state = self.run_state(dag_id, run_id)
            if state in wanted:
                return state
            if time.monotonic() > deadline:
                tis = {
                    (ti["task_id"], ti["map_index"]): ti["state"]
                    for ti in self.task_instances(dag_id, run_id)
                }
                raise StackError(
                    f"run {run_id} still {state} after {timeout:.0f}s; tasks: {tis}\n{self.log_tails()}"
                )
            time.sleep(poll)


def demo_env(staging_url: str, emulator: Any, landing_dir: Path) -> dict[str, str]:
    """The project's settings as `make demo` gives them to Airflow -- the three connections
    (CRM staging, Optimizely SOAP, Optimizely SFTP with the emulator's host key pinned), the
    landing dir, GX analytics off -- for ``extra_env``. Taken from scripts/demo.py, so the UI and
    the e2e tests run the DAGs exactly as the demo does."""
    from scripts.demo import airflow_env

    env = airflow_env(staging_url, emulator)
    wanted = {k: v for k, v in env.items() if k.startswith("AIRFLOW_CONN_") or k == "GX_ANALYTICS_ENABLED"}
    return wanted | {"CRM_SYNC_LANDING_DIR": str(landing_dir)}


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # the group id is the leader's pid (start_new_session)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"
