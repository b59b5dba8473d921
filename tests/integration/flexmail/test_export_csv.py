"""The CSV form of the import, read back: header row, UTF-8, one row per contact with its label
names comma-separated, a unique file name; and the command line."""

from __future__ import annotations

import csv
import subprocess
import sys

import sqlalchemy as sa

from include.crm_sync.platforms.flexmail.export_csv import HEADER, export_csv
from include.crm_sync.staging import tables as t
from tests.integration.flexmail.crm import build_crm, email, pid, prepare, set_language, sync


def read(path):
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_export_reads_back_as_the_import(staging_engine, flexmail, tmp_path):
    build_crm(staging_engine, 4)
    set_language(staging_engine, [3], "fr")
    with staging_engine.begin() as conn:
        conn.execute(
            sa.update(t.crm_entity).where(t.crm_entity.c.entity_id == pid(0)).values(first_name="Zoë")
        )
    ids = prepare(staging_engine)
    path, rows = export_csv(staging_engine, ids, tmp_path)
    again, _ = export_csv(staging_engine, ids, tmp_path)
    assert path != again and path.name.startswith("flexmail-import-") and path.suffix == ".csv"
    assert path.read_text(encoding="utf-8").splitlines()[0] == ",".join(HEADER)
    records = read(path)
    assert rows == 4 and [r["email"] for r in records] == [email(i) for i in range(4)]
    assert records[0]["first_name"] == "Zoë" and records[0]["language"] == "nl"
    assert [r["interest_labels"].split(",") for r in records] == [["Honden", "Katten"]] * 3 + [["Katten"]]
    # after the sync nobody gains a label: the delta is empty, --everyone still lists all
    sync(staging_engine, flexmail, ids)
    assert export_csv(staging_engine, ids, tmp_path)[1] == 0
    assert export_csv(staging_engine, ids, tmp_path, everyone=True)[1] == 4


def test_values_a_spreadsheet_would_run_are_written_empty(staging_engine, tmp_path):
    build_crm(staging_engine, 5)
    unsafe = {
        0: ('=HYPERLINK("http://evil.example")', "Peeters"),
        1: ("Jan", "+32 9 123"),
        2: ("-2+3", "@SUM(A1)"),
        3: ("\tTab", "Car\riage"),
    }
    with staging_engine.begin() as conn:
        for i, (first, last) in unsafe.items():
            conn.execute(
                sa.update(t.crm_entity)
                .where(t.crm_entity.c.entity_id == pid(i))
                .values(first_name=first, last_name=last)
            )
        # an address may legally start with a trigger: it identifies the contact and is kept
        conn.execute(
            sa.update(t.crm_entity)
            .where(t.crm_entity.c.entity_id == pid(4))
            .values(email="-dash@example.com", email_normalized="-dash@example.com")
        )
    path, rows = export_csv(staging_engine, prepare(staging_engine), tmp_path)
    records = {r["email"]: r for r in read(path)}
    assert rows == 5
    assert [(records[email(i)]["first_name"], records[email(i)]["name"]) for i in range(4)] == [
        ("", "Peeters"),
        ("Jan", ""),
        ("", ""),
        ("", ""),
    ]
    assert records["-dash@example.com"]["first_name"] == "First P0004"
    assert all(r["interest_labels"] == "Honden,Katten" for r in records.values())


def test_command_line(staging_url, staging_engine, tmp_path):
    build_crm(staging_engine, 2)
    ids = prepare(staging_engine)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "include.crm_sync.platforms.flexmail.export_csv",
            "--staging-url",
            staging_url,
            *[a for i in ids for a in ("--list-run-id", str(i))],
            "--out",
            str(tmp_path / "x"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.startswith("2 contacts written to ")
    [path] = (tmp_path / "x").glob("*.csv")
    assert len(read(path)) == 2
