"""Response import (the ``campaign_response_import`` DAG) of one N-event file from the emulator's SFTP.

``write_step`` (not measured) writes the file with the emulator's own writer and the event mix
of bench/response_import.py (opens, clicks, bounces, unsubscribes, unknown recipients,
duplicate lines, mailings with and without a CRM campaign) over the CRM's own entity ids; the
driver drops it into the emulator's SFTP area. ``import_step`` runs ``import_response_files``
as the ``import_files`` task does -- list, land over SFTP (host key pinned), ledger, parse, load,
apply -- with the benchmark's mailing → campaign mapping. The COPY limit loads the same file.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path


def write_step(url: str, path: str, events: int) -> dict:
    import sqlalchemy as sa

    from bench.response_import import write_response_file

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        ids = conn.exec_driver_sql("SELECT entity_id FROM crm_entity ORDER BY entity_id").scalars().all()
    engine.dispose()
    started = time.perf_counter()
    mix = write_response_file(Path(path), events, ids)
    return {
        "events": events,
        "crm_entities": len(ids),
        "mix": mix,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _sftp(port: int, host_key_line: str):
    import base64

    import paramiko

    from bench.common.emulator import PASSWORD, USER

    ssh = paramiko.SSHClient()
    key_type, blob = host_key_line.split()[:2]
    ssh.get_host_keys().add(
        f"[127.0.0.1]:{port}", key_type, paramiko.PKey.from_type_string(key_type, base64.b64decode(blob))
    )
    ssh.connect(
        "127.0.0.1", port=port, username=USER, password=PASSWORD, look_for_keys=False, allow_agent=False
    )
    return ssh


def import_step(url: str, port: int, host_key_line: str, landing_dir: str, run_id: str, now: str) -> dict:
    from bench.response_import import MAPPED
    from include.crm_sync.responses import ResponseImportSettings, import_response_files
    from include.crm_sync.staging.engine import create_staging_engine

    settings = ResponseImportSettings(mailing_campaigns=MAPPED, file_lifetime_days=14)
    engine = create_staging_engine(url)
    ssh = _sftp(port, host_key_line)
    try:
        sftp = ssh.open_sftp()
        started = time.perf_counter()
        # {}: Optimizely's unsubscribes are client-wide (crm_sync_airflow.platforms.unsubscribe_consents)
        report = import_response_files(
            engine,
            sftp,
            settings=settings,
            landing_dir=landing_dir,
            run_id=run_id,
            list_consents={},
            now=datetime.fromisoformat(now) + timedelta(minutes=5),
        )
        seconds = time.perf_counter() - started
    finally:
        ssh.close()
    engine.dispose()
    totals = report.totals
    summary = report.as_dict()
    return {
        "rows": totals.read,
        "seconds": round(seconds, 2),
        "rps": round(totals.read / seconds) if seconds else None,
        "counts": totals.as_dict(),
        "files_by_status": summary.get("files_by_status"),
    }
