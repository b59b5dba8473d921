"""The emulator's SFTP side: the response-data job, the file layout, lifetime, authentication,
host key, concurrency, permissions and fault injection, over real SSH on loopback."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import threading
from pathlib import Path

import paramiko
import pytest

from include.crm_sync.responses.download import scan_file
from include.crm_sync.responses.file_format import COLUMN_NAMES, EVENT_TYPES
from include.crm_sync.responses.parse import check_structure, read_chunks
from include.emulators.optimizely import EmulatorServer
from include.emulators.optimizely.host_key import fingerprint, load_or_create_host_key, public_key_line
from include.emulators.optimizely.response_files import COLUMNS
from tests.fixtures.sftp import SFTP_PASSWORD, SFTP_USER
from tests.integration.responses.conftest import clicks, event, mailing, opens, run_job, write_file

DAY = 86400


def read_remote(client: paramiko.SFTPClient, path: str) -> bytes:
    with client.open(path, "rb") as f:
        return f.read()


def test_the_job_writes_one_event_per_row_in_the_documented_layout(sftp_emulator, sftp_connect, tmp_path):
    rlist = sftp_emulator.state.lists[1003]
    with rlist.lock:
        rlist.recipients["rid-9"] = (
            "nine@example.com",
            rlist.packer(rlist.resolve_attributes(["entity-type", "entity-id"]))(["lead", "L000009"]),
            False,
            0,
            0.0,
        )
    m = mailing(sftp_emulator, 1003, wave_id="CMP-9")
    events = (
        opens(m, ["rid-9"], list_id=1003)
        + clicks(m, ["rid-9"], list_id=1003)
        + [
            event("bounce", "rid-9", m, list_id=1003, category=c)
            for c in ("hardbounce", "softbounce", "autoresponder", "unknown")
        ]
        + [
            event("unsubscribe", "rid-9", m, list_id=1003),
            {"kind": "unsubscribe", "recipient_id": "no-mailing@example.com", "exported_at": "+0s"},
        ]
    )
    name = write_file(sftp_emulator, events)
    client = sftp_connect()
    assert client.listdir("/responses") == [name]
    data = read_remote(client, f"/responses/{name}")
    assert data.endswith(b"\n") and not data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    assert tuple(table[0]) == COLUMNS == COLUMN_NAMES  # the importer reads exactly the emulator's layout
    body = [dict(zip(table[0], row, strict=True)) for row in table[1:]]
    # unknown-category responses and unsubscribes without a mailing are not response data
    assert [r["event_type"] for r in body] == [
        "open",
        "click",
        "hardbounce",
        "softbounce",
        "autoresponder",
        "unsubscribe",
    ]
    assert {r["event_type"] for r in body} <= EVENT_TYPES
    assert {
        (
            r["recipient_id"],
            r["entity_type"],
            r["entity_id"],
            r["recipient_list_id"],
            r["mailing_id"],
            r["wave_id"],
        )
        for r in body
    } == {("rid-9", "lead", "L000009", "1003", str(m), "CMP-9")}
    assert [r["link_url"] for r in body] == ["", "https://www.example.com/offer?id=1", "", "", "", ""]
    assert all(r["occurred_at"] == "2026-03-01T11:00:00Z" for r in body)

    landed = tmp_path / name
    landed.write_bytes(data)
    chunks = list(read_chunks(landed, check_structure(landed, scan_file(landed))))
    assert sum(len(c) for c in chunks) == 6 and not any(c.rejected for c in chunks)


def test_files_have_unique_names_and_the_listing_shows_size_and_time(sftp_emulator, sftp_connect):
    m = mailing(sftp_emulator, 1002)
    names = [write_file(sftp_emulator, opens(m, ["a@example.com"])) for _ in range(3)]
    assert len(set(names)) == 3
    attributes = {a.filename: a for a in sftp_connect().listdir_attr("/responses")}
    assert sorted(attributes) == sorted(names)
    for info in sftp_emulator.response_files.files():
        assert attributes[info.name].st_size == info.size
        assert attributes[info.name].st_mtime == int(info.created_at)


def test_the_daily_job_follows_the_emulator_clock_and_files_expire_after_their_lifetime(
    sftp_emulator, sftp_connect
):
    client = sftp_connect()
    assert client.listdir("/responses") == []  # 12:00; the daily run is at 00:00 UTC
    m = mailing(sftp_emulator, 1002)
    sftp_emulator.control.add_feedback_events(opens(m, ["a@example.com"]))
    sftp_emulator.control.advance_clock(12 * 3600)  # midnight
    first = client.listdir("/responses")
    assert len(first) == 1 and "20260302T000000Z" in first[0]
    assert b"a@example.com" in read_remote(client, f"/responses/{first[0]}")

    sftp_emulator.control.advance_clock(2 * DAY)  # two more daily runs, with no events
    assert len(client.listdir("/responses")) == 3
    sftp_emulator.control.advance_clock(28 * DAY - 1)  # the first file is 30 days old in a second
    assert len(client.listdir("/responses")) == 30
    sftp_emulator.control.advance_clock(1)
    names = client.listdir("/responses")
    assert first[0] not in names and len(names) == 30  # one expired, one new
    summary = sftp_emulator.control.response_files()
    assert summary["lifetime_days"] == 30 and summary["lost_runs"] == 0


def test_a_clock_jump_past_the_lifetime_loses_the_files_nobody_fetched(sftp_emulator, sftp_connect):
    m = mailing(sftp_emulator, 1002)
    sftp_emulator.control.add_feedback_events(opens(m, ["a@example.com"]))
    sftp_emulator.control.advance_clock(45 * DAY)
    names = sftp_connect().listdir("/responses")
    assert len(names) == 30  # only the runs of the last 30 days left files
    assert all(b"a@example.com" not in sftp_emulator.response_files.read(n) for n in names)
    assert sftp_emulator.control.response_files()["lost_runs"] == 15


def test_the_control_endpoint_reports_the_sftp_server(sftp_emulator):
    info = sftp_emulator.control.sftp()
    assert info["running"] and info["port"] == sftp_emulator.sftp_port and info["user"] == SFTP_USER
    assert info["auth"] == ["password", "publickey"] and info["directory"] == "/responses"
    assert info["host_key"] == sftp_emulator.sftp_host_key_line
    assert info["fingerprint"] == sftp_emulator.sftp_fingerprint and info["fingerprint"].startswith("SHA256:")
    server = sftp_emulator.sftp  # what scripts/demo.py builds its Airflow connection from
    assert (server.host, server.port, server.host_key_public) == (
        "127.0.0.1",
        sftp_emulator.sftp_port,
        sftp_emulator.sftp_host_key_line,
    )


# ------------------------------------------------------------------ authentication and host key


def test_password_and_public_key_authentication(sftp_emulator_server, sftp_connect):
    assert sftp_connect().listdir("/") == ["responses"]
    key = paramiko.RSAKey.from_private_key_file(str(sftp_emulator_server.client_key_path))
    assert sftp_connect(password=None, pkey=key).listdir("/") == ["responses"]


@pytest.mark.parametrize("how", ["password", "user", "key"])
def test_wrong_credentials_are_refused(sftp_emulator, sftp_connect, how):
    with pytest.raises(paramiko.AuthenticationException):
        if how == "password":
            sftp_connect(password="wrong-" + SFTP_PASSWORD)
        elif how == "user":
            sftp_connect(user="someone-else")
        else:
            sftp_connect(password=None, pkey=paramiko.RSAKey.generate(2048))


def test_a_client_that_does_not_know_the_host_key_refuses_it(sftp_emulator, sftp_connect):
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        sftp_connect(pin=False)


def test_the_host_key_is_generated_once_and_kept(tmp_path):
    path = tmp_path / "keys" / "ssh_host_ed25519_key"
    key = load_or_create_host_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    again = load_or_create_host_key(path)
    assert fingerprint(again) == fingerprint(key) and public_key_line(again) == public_key_line(key)
    with EmulatorServer(port=0, sftp_port=0, host_key_path=path) as server:
        assert server.sftp_fingerprint == fingerprint(key)


def test_the_cli_prints_the_sftp_address_and_host_key_fingerprint(tmp_path):
    key_path = tmp_path / "host_key"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "include.emulators.optimizely",
            "--port",
            "0",
            "--sftp-port",
            "0",
            "--host-key",
            str(key_path),
            "--response-file-lifetime-days",
            "14",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
    finally:
        process.terminate()
        process.wait(timeout=10)
    key = load_or_create_host_key(key_path)
    assert lines[0].startswith("Optimizely Campaign emulator listening on http://127.0.0.1:")
    assert lines[1].startswith("SFTP response files on sftp://demo@127.0.0.1:")
    assert fingerprint(key) in lines[1]
    assert lines[2].strip() == f"pin it: {public_key_line(key)}"
    assert process.returncode == 0


def test_an_invalid_lifetime_is_refused():
    with pytest.raises(ValueError, match="14-30 days"):
        EmulatorServer(port=0, response_file_lifetime_days=60)


# ------------------------------------------------------------------ what clients may do


def test_clients_cannot_write_or_escape_the_sftp_area(sftp_emulator, sftp_connect):
    client = sftp_connect()
    with pytest.raises(PermissionError):
        client.open("/responses/upload.csv", "wb")
    assert client.listdir("/../../..") == ["responses"]  # the root is the SFTP area
    with pytest.raises(FileNotFoundError):
        client.stat("/../etc/passwd")
    assert client.normalize("../../responses") == "/responses"


def test_clients_may_remove_and_move_files(sftp_emulator, sftp_connect):
    m = mailing(sftp_emulator, 1002)
    first = write_file(sftp_emulator, opens(m, ["a@example.com"]))
    second = run_job(sftp_emulator)
    client = sftp_connect()
    client.mkdir("/done")
    client.rename(f"/responses/{first}", f"/done/{first}")
    client.remove(f"/responses/{second}")
    assert client.listdir("/responses") == [] and client.listdir("/done") == [first]
    assert [f.path for f in sftp_emulator.response_files.files()] == [f"done/{first}"]


def test_downloads_run_concurrently_on_separate_connections(sftp_emulator, sftp_connect):
    m = mailing(sftp_emulator, 1002)
    name = write_file(sftp_emulator, opens(m, [f"r{i}@example.com" for i in range(3000)]))
    expected = sftp_emulator.response_files.read(name)
    clients = [sftp_connect() for _ in range(6)]
    barrier = threading.Barrier(len(clients))
    results: list[bytes | BaseException] = [b""] * len(clients)

    def fetch(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = read_remote(clients[i], f"/responses/{name}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            results[i] = exc

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(r == expected for r in results)
    assert sftp_emulator.control.sftp()["connections"] >= len(clients)


# ------------------------------------------------------------------ fault injection


def test_a_drop_fault_closes_the_connection_part_way(sftp_emulator, sftp_connect):
    m = mailing(sftp_emulator, 1002)
    name = write_file(sftp_emulator, opens(m, [f"r{i}@example.com" for i in range(500)]))
    sftp_emulator.control.add_sftp_fault("drop", 5000, path="responses_*.csv")
    client = sftp_connect()
    received = io.BytesIO()
    with (
        pytest.raises((paramiko.SSHException, EOFError, OSError)),
        client.open(f"/responses/{name}", "rb") as f,
    ):
        while block := f.read(1024):
            received.write(block)
    assert received.tell() <= 5000
    assert not client.get_channel().get_transport().is_active()
    rule = sftp_emulator.control.sftp_faults()[0]
    assert (rule["seen"], rule["fired"]) == (1, 1)
    assert read_remote(sftp_connect(), f"/responses/{name}") == sftp_emulator.response_files.read(
        name
    )  # once only


def test_a_truncate_fault_ends_the_file_early(sftp_emulator, sftp_connect):
    m = mailing(sftp_emulator, 1002)
    name = write_file(sftp_emulator, opens(m, [f"r{i}@example.com" for i in range(50)]))
    sftp_emulator.control.add_sftp_fault("truncate", 100, path=name, nth=2)
    client = sftp_connect()
    full = sftp_emulator.response_files.read(name)
    assert read_remote(client, f"/responses/{name}") == full  # nth=2: the first download is whole
    with client.open(f"/responses/{name}", "rb") as f:
        assert f.read() == full[:100]
    assert client.stat(f"/responses/{name}").st_size == len(full)


def test_faults_are_validated_and_cleared_by_reset(sftp_emulator):
    from include.emulators.optimizely.control import ControlError

    with pytest.raises(ControlError, match="kind must be one of"):
        sftp_emulator.control.add_sftp_fault("explode", 10)
    sftp_emulator.control.add_sftp_fault("drop", 10)
    sftp_emulator.control.reset()
    assert sftp_emulator.control.sftp_faults() == []
