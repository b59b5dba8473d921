"""The CSV form of a Flexmail contacts import, for an operator who imports by hand in Flexmail.

Same records as the nightly import (``include/crm_sync/sync/label_records.py``): one row per
contact, its fields, and a column ``interest_labels`` holding the label NAMES separated by commas
(what Flexmail's CSV import expects; names must match the account's exactly). UTF-8, header row,
comma separated, a unique file name per export. Streams page by page (flat memory).

    python -m include.crm_sync.platforms.flexmail.export_csv --staging-url sqlite:///crm.db \
        --list-run-id 12 --list-run-id 13 --out /tmp/exports [--everyone]
"""

from __future__ import annotations

import argparse
import csv
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from include.crm_sync.sync.label_records import CONTACT_FIELDS, import_pages

LABEL_COLUMN = "interest_labels"
HEADER = ("email", *CONTACT_FIELDS, LABEL_COLUMN)


def export_csv(
    engine: sa.Engine,
    list_run_ids: Sequence[int],
    directory: Path | str,
    *,
    everyone: bool = False,
    now: datetime | None = None,
) -> tuple[Path, int]:
    """Write the import as CSV under ``directory``; returns (path, rows written)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"flexmail-import-{stamp}-{uuid.uuid4().hex[:8]}.csv"
    rows = 0
    # "x": never overwrite; the name is unique, so an existing file means something is wrong
    with path.open("x", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for page in import_pages(engine, list_run_ids, everyone=everyone):
            for record in page:
                writer.writerow(
                    (
                        record.email,
                        *(record.fields.get(f, "") for f in CONTACT_FIELDS),
                        ",".join(record.labels),
                    )
                )
                rows += 1
    return path, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m include.crm_sync.platforms.flexmail.export_csv",
        description="Write the Flexmail contacts import of these list runs as CSV.",
    )
    parser.add_argument("--staging-url", required=True, help="SQLAlchemy URL of the CRM staging database")
    parser.add_argument("--list-run-id", type=int, action="append", required=True, help="repeat per list")
    parser.add_argument("--out", type=Path, required=True, help="directory to write the file in")
    parser.add_argument(
        "--everyone", action="store_true", help="every qualifying contact, not only those gaining a label"
    )
    args = parser.parse_args(argv)
    from include.crm_sync.staging.engine import create_staging_engine

    engine = create_staging_engine(args.staging_url)
    try:
        path, rows = export_csv(engine, args.list_run_id, args.out, everyone=args.everyone)
    finally:
        engine.dispose()
    print(f"{rows} contacts written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
