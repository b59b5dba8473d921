"""Operators' command line for held people: ``python -m include.crm_sync.feedback.holds list|resolve``.

A person is held (left out of every list, exclusion reason ``feedback_held``) when a bounce or
unsubscribe row that could not be applied names them (``imports/holds.py``). Look at the row
(``rejected_row`` of the file and line shown), apply the person's "no" in the CRM if it was one,
then resolve the hold:

    python -m include.crm_sync.feedback.holds list [--all] [--url URL]
    python -m include.crm_sync.feedback.holds resolve (--hold ID ... | --entity ID ... | --file ID)
        --by "name: what was done" [--url URL]

Addresses are shown masked. Exit status 0 on success, 2 when ``resolve`` matched no open hold.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from include.crm_sync.imports.holds import list_holds, resolve_holds
from include.crm_sync.masking import mask_email
from include.crm_sync.staging.engine import create_staging_engine, resolve_staging_url


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m include.crm_sync.feedback.holds",
        description="List and resolve the people held out of every list by a rejected feedback row.",
    )
    parser.add_argument("--url", help="staging database URL (default: $CRM_SYNC_STAGING_URL or .local/)")
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("list", help="the open holds (with --all: resolved ones too)")
    show.add_argument("--all", action="store_true", help="include resolved holds")
    resolve = commands.add_parser("resolve", help="resolve open holds by hold id, entity id or file id")
    resolve.add_argument("--hold", type=int, action="append", default=[], help="hold id (repeatable)")
    resolve.add_argument("--entity", action="append", default=[], help="entity id (repeatable)")
    resolve.add_argument("--file", type=int, help="every open hold of this ledger file")
    resolve.add_argument("--by", required=True, help="who resolves, and how (kept with the hold)")
    args = parser.parse_args(argv)

    engine = create_staging_engine(resolve_staging_url(args.url))
    try:
        if args.command == "list":
            with engine.connect() as conn:
                holds = list_holds(conn, include_resolved=args.all)
            for h in holds:
                state = (
                    f"resolved {h.resolved_at.isoformat()} by {h.resolved_by}" if h.resolved_at else "OPEN"
                )
                address = f" ({mask_email(h.email_normalized)})" if h.email_normalized else ""
                print(
                    f"hold {h.hold_id}: entity {h.entity_id}{address}, file {h.file_id} ({h.file_name}) "
                    f"line {h.line_no}: {h.reason} [{state}]"
                )
            print(f"{sum(1 for h in holds if h.resolved_at is None)} open hold(s)")
            return 0
        if not (args.hold or args.entity or args.file is not None):
            parser.error("resolve needs --hold, --entity or --file")
        with engine.begin() as conn:
            resolved = resolve_holds(
                conn,
                now=datetime.now(UTC),
                resolved_by=args.by,
                hold_ids=args.hold,
                entity_ids=args.entity,
                file_id=args.file,
            )
        print(f"{resolved} hold(s) resolved")
        return 0 if resolved else 2
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
