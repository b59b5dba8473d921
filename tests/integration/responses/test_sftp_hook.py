"""OptimizelySftpHook (the SFTP provider's hook + the project's host key policy) against the
emulator's SFTP server, with the connection given as an ``AIRFLOW_CONN_...`` JSON env var."""

from __future__ import annotations

import logging

import paramiko
import pytest
from crm_sync_airflow.hooks.optimizely_sftp import InsecureHostKeyPolicyError, OptimizelySftpHook

from include.emulators.optimizely.host_key import generate_host_key, public_key_line
from tests.fixtures.sftp import SFTP_PASSWORD, sftp_connection_json
from tests.integration.responses.conftest import mailing, opens, write_file

ENV = "AIRFLOW_CONN_OPTIMIZELY_SFTP_DEFAULT"


@pytest.fixture(autouse=True)
def no_known_hosts(monkeypatch, tmp_path):
    """An empty home: the worker's ~/.ssh/known_hosts knows no server."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("CRM_SYNC_DEMO_MODE", raising=False)


def test_a_pinned_host_key_connects_and_lists_the_files(sftp_emulator, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    name = write_file(sftp_emulator, opens(mailing(sftp_emulator), ["a@example.com"]))
    monkeypatch.setenv(ENV, sftp_connection_json(sftp_emulator))
    hook = OptimizelySftpHook()
    with hook.get_managed_conn() as sftp:
        assert sftp.listdir("/responses") == [name]
    assert SFTP_PASSWORD not in caplog.text


def test_an_unknown_host_key_is_refused(sftp_emulator, monkeypatch):
    """A different key pinned (a server impersonating the platform) is refused, not learnt."""
    impostor = public_key_line(generate_host_key())
    monkeypatch.setenv(
        ENV, sftp_connection_json(sftp_emulator, extra={"host_key": impostor, "look_for_keys": "false"})
    )
    before = sftp_emulator.control.sftp()["calls"].get("open", 0)
    with pytest.raises(paramiko.BadHostKeyException), OptimizelySftpHook().get_managed_conn():
        pass
    assert sftp_emulator.control.sftp()["calls"].get("open", 0) == before


def test_without_a_pinned_key_the_server_must_be_in_known_hosts(sftp_emulator, monkeypatch, tmp_path):
    monkeypatch.setenv(ENV, sftp_connection_json(sftp_emulator, extra={"look_for_keys": "false"}))
    with (
        pytest.raises(paramiko.SSHException, match="not found in known_hosts"),
        OptimizelySftpHook().get_managed_conn(),
    ):
        pass
    ssh_dir = tmp_path / ".ssh"
    ssh_dir.mkdir()
    (ssh_dir / "known_hosts").write_text(
        f"[127.0.0.1]:{sftp_emulator.sftp_port} {sftp_emulator.sftp_host_key_line}\n"
    )
    with OptimizelySftpHook().get_managed_conn() as sftp:
        assert sftp.listdir("/") == ["responses"]


@pytest.mark.parametrize("extra", [{"no_host_key_check": "true"}, {"allow_host_key_change": "true"}])
def test_skipping_the_host_key_check_is_refused_outside_demo_mode(sftp_emulator, monkeypatch, extra):
    monkeypatch.setenv(ENV, sftp_connection_json(sftp_emulator, extra={**extra, "look_for_keys": "false"}))
    with pytest.raises(InsecureHostKeyPolicyError, match="Pin the server's key"):
        OptimizelySftpHook()
    monkeypatch.setenv("CRM_SYNC_DEMO_MODE", "1")
    with OptimizelySftpHook().get_managed_conn() as sftp:
        assert sftp.listdir("/") == ["responses"]


def test_a_wrong_password_fails_without_retrying(sftp_emulator, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(ENV, sftp_connection_json(sftp_emulator, password="Wrong-Passw0rd-0815"))
    connections = sftp_emulator.control.sftp()["calls"].get("connections", 0)
    with pytest.raises(paramiko.AuthenticationException), OptimizelySftpHook().get_managed_conn():
        pass
    assert sftp_emulator.control.sftp()["calls"]["connections"] == connections + 1
    assert "Wrong-Passw0rd-0815" not in caplog.text
