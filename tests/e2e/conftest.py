"""One real Airflow deployment for every end-to-end test of the session (tests/e2e/).

``airflow_stack`` starts the processes of ``scripts/local_stack.py`` with the CeleryExecutor:
api-server, scheduler, dag-processor and a Celery worker with two slots. It is started once and
stopped as soon as the last test of tests/e2e is done (package scope), so its processes do not
compete with the rest of the suite for the CPU. Around it:

- metadata on the PostgreSQL server of ``CRM_SYNC_TEST_PG_URL`` (a fresh ``airflow_e2e_<pid>_...``
  database, dropped afterwards; Celery's result backend lives there too);
- the broker on Redis (``CRM_SYNC_TEST_REDIS_URL``, default ``redis://127.0.0.1:6379``), in a
  database (1-15) this session claims for itself (so sessions running at once never share one),
  flushed at the start and at the end;
- the CRM staging database on the same PostgreSQL server (fresh, migrated, a small generated CRM
  in which every list of config/lists.yaml has recipients);
- the Optimizely Campaign emulator, in this process on ephemeral ports, with its SFTP server;
- the Spotler Mail+, Flexmail and Mailjet emulators, in this process on ephemeral ports
  (``spotler_default``, ``flexmail_default`` and ``mailjet_default`` point at them, as in the
  demo), for the Spotler, Flexmail and Mailjet lists of config/lists.yaml.

A missing Redis or chromium skips with the reason, unless ``CRM_SYNC_REQUIRE_E2E=1`` (set by CI);
a missing PostgreSQL skips unless ``CRM_SYNC_REQUIRE_POSTGRES=1`` (also set by CI), as for every
other PostgreSQL test. Either flag turns the skip into a failure, so a green CI means these ran.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from include.crm_sync.generate import generate
from include.crm_sync.staging.migrate import upgrade
from include.emulators.flexmail.runner import FlexmailEmulatorServer
from include.emulators.mailjet.runner import MailjetEmulatorServer
from include.emulators.optimizely import EmulatorServer
from include.emulators.spotler.runner import SpotlerEmulatorServer
from scripts.demo_mailjet import MAILJET_KEY, MAILJET_SECRET
from scripts.demo_platforms import (
    FLEXMAIL_ACCOUNT,
    FLEXMAIL_REQUESTS_PER_MINUTE,
    FLEXMAIL_TOKEN,
    SPOTLER_KEY,
    SPOTLER_SECRET,
    flexmail_connection_env,
    mailjet_connection_env,
    spotler_connection_env,
)
from scripts.local_stack import LocalAirflowStack, demo_env
from tests.fixtures.staging import throwaway_pg_database

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "crm_campaign_sync"
OPTIMIZELY_CONN_VAR = "AIRFLOW_CONN_OPTIMIZELY_CAMPAIGN_DEFAULT"
#: enough that each of the three lists has recipients, small enough that a run takes seconds per list
CONTACTS = 3000
#: the platform list id of each Optimizely list in config/lists.yaml
LIST_IDS = {"newsletter_nl": 1001, "product_updates": 1002, "events_webinars": 1003}
#: how long a page of the Airflow UI may take to load in chromium, or to show an element
UI_TIMEOUT = 180
#: the tasks' Optimizely request timeout (seconds): above the time test_celery_scale_out's barrier
#: holds a call in the emulator, so that call is never timed out and retried by the client
OPTIMIZELY_REQUEST_TIMEOUT = 900


def platform_lists(platform: str) -> dict[str, str]:
    """List name -> platform list id of each list of ``platform`` in config/lists.yaml."""
    from include.crm_sync.config.loader import load_lists

    return {item.name: item.platform_list_id for item in load_lists().lists if item.platform == platform}


def require_e2e() -> bool:
    return os.environ.get("CRM_SYNC_REQUIRE_E2E", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Skip with ``reason`` -- or fail, when CRM_SYNC_REQUIRE_E2E forbids skipping."""
    if require_e2e():
        pytest.fail(f"{reason} (CRM_SYNC_REQUIRE_E2E=1 forbids skipping)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def e2e_pg_server_url(pg_server_url: str) -> str:
    """The PostgreSQL server of the other tests (skips, or fails under CRM_SYNC_REQUIRE_POSTGRES=1)."""
    return pg_server_url


#: Redis databases 1-15 are handed out to test sessions; a claim's key lives in database 0
REDIS_DATABASES = range(1, 16)
REDIS_CLAIM_KEY = "crm-sync-e2e:claim:db{}"
#: a claim outlives any e2e session; one of a killed session runs out by itself
REDIS_CLAIM_SECONDS = 3 * 3600


def claim_redis_database(admin, owner: str, key: str = REDIS_CLAIM_KEY) -> int | None:
    """A Redis database number no other test session holds (``SET NX`` of a key naming it in
    database 0), or None if all are taken. Sessions running at once (two checkouts, CI beside a
    developer) must not share one: each flushes its database, the other's queued tasks with it."""
    start = os.getpid() % len(REDIS_DATABASES)
    for i in range(len(REDIS_DATABASES)):
        db = REDIS_DATABASES[(start + i) % len(REDIS_DATABASES)]
        if admin.set(key.format(db), owner, nx=True, ex=REDIS_CLAIM_SECONDS):
            return db
    return None


@pytest.fixture(scope="package")
def e2e_redis_url() -> Iterator[str]:
    """A Redis database this session has claimed for itself, empty at the start and the end."""
    import redis

    server = os.environ.get("CRM_SYNC_TEST_REDIS_URL", DEFAULT_REDIS_URL).rstrip("/")
    admin = redis.Redis.from_url(f"{server}/0", socket_connect_timeout=3)
    try:
        admin.ping()
    except Exception as exc:
        admin.close()
        unavailable(f"Redis not reachable at {server}: {exc}")
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
    db = claim_redis_database(admin, owner)
    if db is None:
        admin.close()
        unavailable(
            f"every Redis database {REDIS_DATABASES.start}-{REDIS_DATABASES.stop - 1} at {server} "
            f"is claimed by another test session ({REDIS_CLAIM_KEY.format('<n>')} in database 0)"
        )
    client = redis.Redis.from_url(f"{server}/{db}", socket_connect_timeout=3)
    client.flushdb()
    try:
        yield f"{server}/{db}"
    finally:
        client.flushdb()
        client.close()
        if admin.get(REDIS_CLAIM_KEY.format(db)) == owner.encode():  # still ours (not expired, re-claimed)
            admin.delete(REDIS_CLAIM_KEY.format(db))
        admin.close()


@pytest.fixture(scope="package")
def e2e_staging_url(e2e_pg_server_url: str) -> Iterator[str]:
    """The CRM staging database of the stack: migrated, with a generated CRM of CONTACTS contacts."""
    with throwaway_pg_database(e2e_pg_server_url, "crm_sync_e2e_staging") as url:
        upgrade(url)
        generate(url, contacts=CONTACTS, seed=7)
        yield url


@pytest.fixture(scope="package")
def e2e_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    # The in-process SFTP server logs every client disconnect at ERROR; nothing to see here.
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    home = tmp_path_factory.mktemp("e2e-emulator")
    server = EmulatorServer(port=0, sftp_port=0, sftp_root=home / "sftp", host_key_path=home / "host_key")
    with server:
        yield server


#: Airflow limits that are about speed, raised so a loaded machine (CI: 2 cores, the suite maybe
#: twice at once) cannot reach them: publishing a task to Redis (1 s by default; past it, after 3
#: tries, the scheduler fails the task), importing and processing a DAG file (30 s and 50 s).
LOAD_TOLERANT_AIRFLOW = {
    "AIRFLOW__CELERY__OPERATION_TIMEOUT": "60",
    "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300",
    "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "300",
}


def stack_env(staging_url: str, emulator: EmulatorServer, landing_dir: Path) -> dict[str, str]:
    """The demo's settings (scripts/local_stack.demo_env), the Optimizely request timeout raised to
    OPTIMIZELY_REQUEST_TIMEOUT, and LOAD_TOLERANT_AIRFLOW."""
    env = demo_env(staging_url, emulator, landing_dir=landing_dir)
    connection = json.loads(env[OPTIMIZELY_CONN_VAR])
    connection["extra"] = {**connection.get("extra", {}), "timeout": OPTIMIZELY_REQUEST_TIMEOUT}
    return env | {OPTIMIZELY_CONN_VAR: json.dumps(connection)} | LOAD_TOLERANT_AIRFLOW


@pytest.fixture(scope="package")
def e2e_spotler() -> Iterator[SpotlerEmulatorServer]:
    # Spotler audience calls go to this emulator (spotler_default), as in the demo.
    with SpotlerEmulatorServer(port=0, consumer_key=SPOTLER_KEY, consumer_secret=SPOTLER_SECRET) as server:
        yield server


@pytest.fixture(scope="package")
def e2e_flexmail() -> Iterator[FlexmailEmulatorServer]:
    # Flexmail label calls go to this emulator (flexmail_default), with the demo's raised limit.
    limit = FLEXMAIL_REQUESTS_PER_MINUTE
    with FlexmailEmulatorServer(
        port=0, account_id=FLEXMAIL_ACCOUNT, token=FLEXMAIL_TOKEN, requests_per_minute=limit
    ) as server:
        yield server


@pytest.fixture(scope="package")
def e2e_mailjet() -> Iterator[MailjetEmulatorServer]:
    # Mailjet list calls go to this emulator (mailjet_default), as in the demo.
    with MailjetEmulatorServer(port=0, api_key=MAILJET_KEY, secret_key=MAILJET_SECRET) as server:
        yield server


@pytest.fixture(scope="package")
def airflow_stack(
    e2e_pg_server_url: str,
    e2e_redis_url: str,
    e2e_staging_url: str,
    e2e_emulator: EmulatorServer,
    e2e_spotler: SpotlerEmulatorServer,
    e2e_flexmail: FlexmailEmulatorServer,
    e2e_mailjet: MailjetEmulatorServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LocalAirflowStack]:
    """The running CeleryExecutor deployment, healthy, crm_campaign_sync parsed and unpaused."""
    home = tmp_path_factory.mktemp("airflow-e2e")
    with throwaway_pg_database(e2e_pg_server_url, "airflow_e2e") as metadata_url:
        stack = LocalAirflowStack(
            home=home,
            metadata_url=metadata_url,
            executor="CeleryExecutor",
            broker_url=e2e_redis_url,
            celery_concurrency=2,
            extra_env=stack_env(e2e_staging_url, e2e_emulator, landing_dir=home / "landing")
            | spotler_connection_env(e2e_spotler)  # as the demo gives them
            | flexmail_connection_env(e2e_flexmail)
            | mailjet_connection_env(e2e_mailjet),
        )
        print(f"\nAirflow e2e stack: home {home}, process logs {stack.log_dir}")
        try:
            stack.start()
            stack.wait_until_healthy(timeout=300)
            stack.wait_for_dag(DAG_ID, timeout=300)
            stack.unpause(DAG_ID)
            print(f"Airflow e2e stack up at {stack.base_url}")
            yield stack
        finally:
            stack.stop()  # before the metadata database is dropped


@pytest.fixture(scope="session")
def chromium() -> tuple[Path, Path]:
    """(browser, driver) of Debian's chromium; skip (or fail under CRM_SYNC_REQUIRE_E2E) without them."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        unavailable(
            f"chromium not installed: {', '.join(missing)} missing (apt-get install chromium chromium-driver)"
        )
    return CHROMIUM, CHROMEDRIVER


@pytest.fixture
def browser(
    chromium: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[WebDriver]:
    """Headless Debian chromium through Selenium. The driver's path is given, so Selenium Manager
    never runs (and SE_OFFLINE forbids it any download should it run anyway)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")
    binary, driver_path = chromium
    options = webdriver.ChromeOptions()
    options.binary_location = str(binary)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,1000",
        # no calls home (the machine has no network beyond loopback), a fresh profile
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(argument)
    try:
        driver = webdriver.Chrome(service=Service(executable_path=str(driver_path)), options=options)
    except Exception as exc:  # a chromium that cannot start is as good as none
        unavailable(f"chromium did not start: {exc}")
    driver.set_page_load_timeout(UI_TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where browser screenshots go: $CRM_SYNC_ARTIFACTS_DIR or .local/test-artifacts, then browser/."""
    base = Path(os.environ.get("CRM_SYNC_ARTIFACTS_DIR") or ROOT / ".local" / "test-artifacts")
    path = base / "browser"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path
