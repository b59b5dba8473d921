"""The docker-compose deployment: the file validates, and its SFTP connection pins the emulator's key.

`docker-compose config` is Compose's own validation (schema, interpolation from .env.example, merge
keys). CI installs Debian's docker-compose; without it the test skips, unless
CRM_SYNC_REQUIRE_E2E=1 makes a missing tool a failure. The SFTP connection written by airflow-init is
read back through Airflow's LocalFilesystemBackend — the secrets backend the compose services use —
and must carry the same key the emulator serves.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose_binary() -> str:
    binary = shutil.which("docker-compose")
    if binary is None:
        message = "docker-compose is not installed (Debian package docker-compose)"
        if os.environ.get("CRM_SYNC_REQUIRE_E2E") == "1":
            pytest.fail(message + "; CRM_SYNC_REQUIRE_E2E=1 requires it")
        pytest.skip(message)
    return binary


def _rendered_config(tmp_path: Path) -> dict:
    work = tmp_path / "project"
    work.mkdir()
    for name in ("docker-compose.yaml", "Dockerfile"):
        shutil.copy(ROOT / name, work / name)
    shutil.copy(ROOT / ".env.example", work / ".env")
    result = subprocess.run(
        [_compose_binary(), "config"], cwd=work, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    return yaml.safe_load(result.stdout)


def test_compose_file_validates_with_every_service(tmp_path: Path) -> None:
    config = _rendered_config(tmp_path)
    services = config["services"]
    assert {
        "postgres",
        "redis",
        "optimizely-emulator",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-worker",
        "airflow-triggerer",
        "airflow-init",
        "spotler-emulator",
        "flexmail-emulator",
        "mailjet-emulator",
    } <= set(services)
    env = services["airflow-worker"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    # Metadata and CRM staging are separate databases on the same server.
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@postgres/airflow")
    assert "@postgres/crm_staging" in env["AIRFLOW_CONN_CRM_STAGING_DEFAULT"]
    for name in (
        "postgres",
        "redis",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-worker",
        "optimizely-emulator",
        "spotler-emulator",
        "flexmail-emulator",
        "mailjet-emulator",
    ):
        assert "healthcheck" in services[name], name
    # The emulators are reachable inside the compose network only: nothing published on the host.
    for name in ("optimizely-emulator", "spotler-emulator", "flexmail-emulator", "mailjet-emulator"):
        assert "ports" not in services[name], name
    # Each emulator serves the port its connection (written by airflow-init) points at.
    for name, port in (("spotler-emulator", 8091), ("flexmail-emulator", 8093), ("mailjet-emulator", 8092)):
        command = services[name]["command"]  # a string or a list, by Compose version
        assert f"--port {port}" in (command if isinstance(command, str) else " ".join(command)), name
    # The UI is published on loopback only (every visitor is admin in this local set-up).
    published = services["airflow-apiserver"]["ports"][0]  # a string or a dict, by Compose version
    host_ip = published.get("host_ip") if isinstance(published, dict) else published.split(":")[0]
    assert host_ip == "127.0.0.1"


def test_image_pins_the_airflow_version_of_the_lock() -> None:
    lock = (ROOT / "requirements.txt").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    pinned = next(line.split("==")[1] for line in lock.splitlines() if line.startswith("apache-airflow=="))
    assert f"ARG AIRFLOW_VERSION={pinned}" in dockerfile


def test_init_pins_the_emulator_host_key_in_the_sftp_connection(tmp_path: Path) -> None:
    from airflow.secrets.local_filesystem import LocalFilesystemBackend

    from include.emulators.optimizely.host_key import load_or_create_host_key, public_key_line

    key_path, connections = tmp_path / "keys" / "host_key", tmp_path / "secrets" / "connections.json"
    for _ in range(2):  # a second init (restart) keeps the key, so the pin stays valid
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts" / "compose_sftp_connection.py"),
                str(key_path),
                str(connections),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    connection = LocalFilesystemBackend(connections_file_path=str(connections)).get_connection(
        "optimizely_sftp_default"
    )
    assert connection.conn_type == "sftp"
    assert (connection.host, connection.port) == ("optimizely-emulator", 2222)
    assert connection.extra_dejson["host_key"] == public_key_line(load_or_create_host_key(key_path))


def test_init_writes_the_spotler_flexmail_and_mailjet_connections_the_hooks_accept(tmp_path: Path) -> None:
    """The same connections file serves spotler_default, flexmail_default and mailjet_default,
    pointing at the compose emulators with the credentials those emulators are started with."""
    from airflow.secrets.local_filesystem import LocalFilesystemBackend
    from crm_sync_airflow.hooks.flexmail import parse_connection as parse_flexmail
    from crm_sync_airflow.hooks.mailjet import parse_connection as parse_mailjet
    from crm_sync_airflow.hooks.spotler import parse_connection as parse_spotler

    key_path, connections = tmp_path / "keys" / "host_key", tmp_path / "secrets" / "connections.json"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "compose_sftp_connection.py"),
            str(key_path),
            str(connections),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    backend = LocalFilesystemBackend(connections_file_path=str(connections))
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())["services"]

    spotler = backend.get_connection("spotler_default")
    assert spotler.conn_type == "spotler"
    settings = parse_spotler(
        "spotler_default", spotler.host, spotler.port, spotler.login, spotler.password, spotler.extra_dejson
    )
    assert settings.base_url.startswith("http://spotler-emulator:8091/")
    command = compose["spotler-emulator"]["command"]
    assert f"--consumer-key {settings.consumer_key}" in command
    assert f"--consumer-secret {settings.consumer_secret}" in command

    flexmail = backend.get_connection("flexmail_default")
    assert flexmail.conn_type == "flexmail"
    settings = parse_flexmail(
        "flexmail_default",
        flexmail.host,
        flexmail.port,
        flexmail.login,
        flexmail.password,
        flexmail.extra_dejson,
    )
    assert settings.base_url == "http://flexmail-emulator:8093"
    command = compose["flexmail-emulator"]["command"]
    assert f"--account-id {settings.account_id}" in command
    assert f"--token {settings.token}" in command

    mailjet = backend.get_connection("mailjet_default")
    assert mailjet.conn_type == "mailjet"
    settings = parse_mailjet(
        "mailjet_default", mailjet.host, mailjet.port, mailjet.login, mailjet.password, mailjet.extra_dejson
    )
    assert settings.base_url.startswith("http://mailjet-emulator:8092/")
    command = compose["mailjet-emulator"]["command"]
    assert f"--api-key {settings.api_key}" in command
    assert f"--secret-key {settings.secret_key}" in command
