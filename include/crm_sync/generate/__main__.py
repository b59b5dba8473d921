"""Command line: ``python -m include.crm_sync.generate --contacts N --seed S [--url URL] ...``.

Exit status 0 on success, 2 when the database is not empty or not migrated (nothing written),
1 on any other failure. The URL defaults to ``$CRM_SYNC_STAGING_URL``, else the SQLite file in
``.local/``; it is logged with its password hidden.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from include.crm_sync.generate.load import (
    DEFAULT_CHUNK_SIZE,
    StagingNotEmptyError,
    StagingNotReadyError,
    generate,
)
from include.crm_sync.staging.engine import masked_url, resolve_staging_url

log = logging.getLogger("include.crm_sync.generate")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m include.crm_sync.generate",
        description="Fill an empty CRM staging database with realistic, deterministic test data.",
    )
    parser.add_argument("--contacts", type=_positive_int, required=True, help="number of contacts")
    parser.add_argument("--seed", type=int, required=True, help="same seed, same data")
    parser.add_argument("--url", help="staging database URL (default: $CRM_SYNC_STAGING_URL or .local/)")
    parser.add_argument("--leads-ratio", type=float, default=0.2, help="leads per contact (default 0.2)")
    parser.add_argument(
        "--accounts-ratio", type=float, default=0.05, help="accounts per contact (default 0.05)"
    )
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=DEFAULT_CHUNK_SIZE,
        help=f"entities per write chunk (default {DEFAULT_CHUNK_SIZE}); never changes the data",
    )
    parser.add_argument("--migrate", action="store_true", help="upgrade the schema to head first")
    parser.add_argument("--replace", action="store_true", help="empty all staging tables first")
    parser.add_argument(
        "--parallel",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="generate in a child process while writing (default: from 20,000 contacts on)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    url = resolve_staging_url(args.url)
    try:
        generate(
            url,
            args.contacts,
            args.seed,
            leads_ratio=args.leads_ratio,
            accounts_ratio=args.accounts_ratio,
            chunk_size=args.chunk_size,
            replace=args.replace,
            migrate=args.migrate,
            parallel=args.parallel,
        )
    except (StagingNotEmptyError, StagingNotReadyError) as exc:
        log.error("%s", exc)
        return 2
    except Exception:
        log.exception("Generating into %s failed; nothing was written", masked_url(url))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
