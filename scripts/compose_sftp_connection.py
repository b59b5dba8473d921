"""docker-compose init step: the emulator's SFTP host key, the pinned SFTP connection, and the
Spotler, Flexmail and Mailjet connections.

The response import refuses an SFTP server whose key it does not know (see
plugins/crm_sync_airflow/hooks/optimizely_sftp.py). A connection given as an environment variable
cannot carry a key generated at start-up, so ``airflow-init`` runs this once:

1. generates the emulator's host key in the shared ``emulator-keys`` volume (kept across restarts,
   so the pin stays valid; the emulator service loads the same file);
2. writes ``optimizely_sftp_default`` with that public key pinned into a connections file that
   Airflow's ``LocalFilesystemBackend`` secrets backend serves to every Airflow service;
3. writes ``spotler_default``, ``flexmail_default`` and ``mailjet_default`` into the same file (one
   place for the platform secrets of the compose set-up rather than more JSON in docker-compose.yaml).

Usage: ``python scripts/compose_sftp_connection.py KEY_PATH CONNECTIONS_JSON`` (the SFTP host,
port, user and password come from ``OPTIMIZELY_SFTP_*`` variables, Spotler's from ``SPOTLER_*``,
Flexmail's from ``FLEXMAIL_*``, Mailjet's from ``MAILJET_*``; the defaults are the compose emulators
and their credentials).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from include.emulators.optimizely.host_key import (  # noqa: E402
    fingerprint,
    load_or_create_host_key,
    public_key_line,
)


def main(key_path: Path, connections_file: Path) -> None:
    key = load_or_create_host_key(key_path)
    # The emulator runs as the Airflow user in the same image: let it read the key it serves.
    os.chmod(key_path, 0o640)
    connection = {
        "conn_type": "sftp",
        "host": os.environ.get("OPTIMIZELY_SFTP_HOST", "optimizely-emulator"),
        "port": int(os.environ.get("OPTIMIZELY_SFTP_PORT", "2222")),
        "login": os.environ.get("OPTIMIZELY_SFTP_USER", "demo"),
        "password": os.environ.get("OPTIMIZELY_SFTP_PASSWORD", "demo"),
        "extra": {"host_key": public_key_line(key), "look_for_keys": "false"},
    }
    connections = {
        "optimizely_sftp_default": connection,
        "spotler_default": {
            "conn_type": "spotler",
            "host": os.environ.get(
                "SPOTLER_BASE_URL", "http://spotler-emulator:8091/integrationservice-1.1.0/"
            ),
            "login": os.environ.get("SPOTLER_CONSUMER_KEY", "demo"),
            "password": os.environ.get("SPOTLER_CONSUMER_SECRET", "demo"),
        },
        "flexmail_default": {
            "conn_type": "flexmail",
            "host": os.environ.get("FLEXMAIL_BASE_URL", "http://flexmail-emulator:8093"),
            "login": os.environ.get("FLEXMAIL_ACCOUNT_ID", "1000"),
            "password": os.environ.get("FLEXMAIL_TOKEN", "demo-token"),
            # the emulator's seed has source 1 ("CRM sync"); imported contacts get it
            "extra": {"source_id": int(os.environ.get("FLEXMAIL_SOURCE_ID", "1"))},
        },
        "mailjet_default": {
            "conn_type": "mailjet",
            "host": os.environ.get("MAILJET_BASE_URL", "http://mailjet-emulator:8092/"),
            "login": os.environ.get("MAILJET_API_KEY", "demo"),
            "password": os.environ.get("MAILJET_SECRET_KEY", "demo"),
        },
    }
    connections_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = connections_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(connections, indent=2), encoding="utf-8")
    tmp.replace(connections_file)
    print(
        f"SFTP host key {fingerprint(key)} pinned in {connections_file}; "
        f"connections: {', '.join(connections)}"
    )


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
