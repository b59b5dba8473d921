"""Command line: ``python -m include.emulators.spotler --host 127.0.0.1 --port P --consumer-key K
--consumer-secret S [--seed FILE] [--no-automation-product]``.

Prints one line when listening and serves until SIGINT or SIGTERM; a bad seed or a port in use
exits 2 with the reason.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from include.emulators.kit.cli import add_common_arguments, serve
from include.emulators.spotler.runner import SpotlerEmulatorServer
from include.emulators.spotler.seed import DEFAULT_SEED_PATH


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m include.emulators.spotler",
        description="Local stand-in of the Spotler Mail+ REST API (audiences, contacts; OAuth 1.0a).",
    )
    parser.add_argument(
        "--consumer-key", required=True, help="the OAuth consumer key requests must be signed with"
    )
    parser.add_argument("--consumer-secret", required=True, help="the OAuth consumer secret")
    parser.add_argument(
        "--seed", type=Path, default=DEFAULT_SEED_PATH, help="seed YAML (default: the bundled seed.yaml)"
    )
    parser.add_argument(
        "--no-automation-product",
        action="store_true",
        help="the account lacks the Automation/eCommerce product: every audience call answers 403",
    )
    parser.add_argument("--max-audiences", type=int, default=100, help="audiences the account may hold")
    add_common_arguments(parser, default_port=8091)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return serve(
        args,
        lambda: SpotlerEmulatorServer(
            host=args.host,
            port=args.port,
            consumer_key=args.consumer_key,
            consumer_secret=args.consumer_secret,
            seed_path=args.seed,
            automation_product=not args.no_automation_product,
            allow_remote_control=args.allow_remote_control,
            max_audiences=args.max_audiences,
        ),
        lambda server: (
            f"Spotler Mail+ emulator listening on {server.api_url} (control: {server.base_url}/_control)"
        ),
    )


if __name__ == "__main__":
    sys.exit(main())
