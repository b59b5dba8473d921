"""Command line: ``python -m include.emulators.flexmail --host 127.0.0.1 --port P --account-id N
--token T [--requests-per-minute R] [--seed FILE]``.

Prints one line when listening and serves until SIGINT or SIGTERM; a bad seed or a port in use
exits 2 with the reason.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from include.emulators.flexmail.runner import FlexmailEmulatorServer
from include.emulators.flexmail.seed import DEFAULT_SEED_PATH
from include.emulators.kit.cli import add_common_arguments, serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m include.emulators.flexmail",
        description="Local stand-in of the Flexmail REST API (contacts, interest labels, imports).",
    )
    parser.add_argument("--account-id", required=True, help="the account id (Basic auth user)")
    parser.add_argument("--token", required=True, help="the personal access token (Basic auth password)")
    parser.add_argument(
        "--requests-per-minute", type=int, default=60, help="per-account limit per 60 emulated seconds"
    )
    parser.add_argument("--seed", type=Path, default=DEFAULT_SEED_PATH, help="seed YAML")
    add_common_arguments(parser, default_port=8093)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return serve(
        args,
        lambda: FlexmailEmulatorServer(
            host=args.host,
            port=args.port,
            account_id=args.account_id,
            token=args.token,
            seed_path=args.seed,
            requests_per_minute=args.requests_per_minute,
            allow_remote_control=args.allow_remote_control,
        ),
        lambda server: (
            f"Flexmail emulator listening on {server.base_url} (control: {server.base_url}/_control)"
        ),
    )


if __name__ == "__main__":
    sys.exit(main())
