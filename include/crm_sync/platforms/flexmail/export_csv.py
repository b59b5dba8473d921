"""The CSV form of a Flexmail contacts import, for an operator who imports by hand in Flexmail.

Same records as the nightly import (``include/crm_sync/sync/label_records.py``): one row per
contact, its fields, and a column ``interest_labels`` holding the label NAMES separated by commas
(what Flexmail's CSV import expects; names must match the account's exactly). UTF-8, header row,
comma separated, a unique file name per export. Streams page by page (flat memory).

Spreadsheet-neutralised: the file is opened in a spreadsheet as often as it is imported, so a CRM
value that a spreadsheet would run as a formula (leading ``= + - @``) or that holds a control
character (tab, CR, ...) is written empty -- the project's import guard
(``include/crm_sync/imports/row_checks.py``), which stores such a value as NULL. The address is
exempt, as everywhere in the project: it identifies the contact (Flexmail keys the import on it),
an address may legally start with ``-``, ``+`` or ``=``, and the extraction's address syntax
admits no space or parenthesis, so it cannot hold a formula call. Label names come from the
configuration, not the CRM.

    python -m include.crm_sync.platforms.flexmail.export_csv --staging-url sqlite:///crm.db \
        --list-run-id 12 --list-run-id 13 --out /tmp/exports [--everyone]
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from include.crm_sync.imports.row_checks import column_problems
from include.crm_sync.sync.label_records import CONTACT_FIELDS, ImportRecord, import_pages

log = logging.getLogger(__name__)

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
    rows = neutralised = 0
    # "x": never overwrite; the name is unique, so an existing file means something is wrong
    with path.open("x", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for page in import_pages(engine, list_run_ids, everyone=everyone):
            columns, blanked = _neutralised_fields(page)
            for i, record in enumerate(page):
                writer.writerow((record.email, *(column[i] for column in columns), ",".join(record.labels)))
            rows += len(page)
            neutralised += blanked
    if neutralised:
        log.warning("%d CRM values written empty: a spreadsheet would run them as formulas", neutralised)
    return path, rows


def _neutralised_fields(page: list[ImportRecord]) -> tuple[list[list[str]], int]:
    """The page's contact-field columns, each value failing the import guard (formula trigger,
    control character) made empty; and how many were."""
    columns, blanked = [], 0
    for name in CONTACT_FIELDS:
        values = [record.fields.get(name, "") for record in page]
        stripped = [v.strip() for v in values]
        # the limit is the longest value: the file has no column length, only the guard applies
        problems = column_problems(values, stripped, max(map(len, values), default=0), formula_guard=True)
        for i in problems:
            values[i] = ""
        columns.append(values)
        blanked += len(problems)
    return columns, blanked


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
