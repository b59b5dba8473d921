"""Command line: ``python -m include.emulators.spotler --host 127.0.0.1 --port P --consumer-key K
--consumer-secret S [--seed FILE] [--no-automation-product]``.

Prints one line when listening and serves until SIGINT or SIGTERM; a bad seed or a port in use
exits 2 with the reason.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from include.emulators.kit.cli import StopOnSignal, configure_logging
from include.emulators.kit.seed import SeedError
from include.emulators.spotler.runner import SpotlerEmulatorServer
from include.emulators.spotler.seed import DEFAULT_SEED_PATH


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m include.emulators.spotler",
        description="Local stand-in of the Spotler Mail+ REST API (audiences, contacts; OAuth 1.0a).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=8091, help="port to listen on; 0 picks a free one")
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
    parser.add_argument(
        "--allow-remote-control",
        action="store_true",
        help="let non-loopback clients use /_control (never on a shared network)",
    )
    parser.add_argument("--log-level", default="WARNING", help="Python log level (DEBUG logs every request)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    try:
        server = SpotlerEmulatorServer(
            host=args.host,
            port=args.port,
            consumer_key=args.consumer_key,
            consumer_secret=args.consumer_secret,
            seed_path=args.seed,
            automation_product=not args.no_automation_product,
            allow_remote_control=args.allow_remote_control,
            max_audiences=args.max_audiences,
        )
        server.start()
    except (SeedError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = StopOnSignal()
    print(
        f"Spotler Mail+ emulator listening on {server.api_url} (control: {server.base_url}/_control)",
        flush=True,
    )
    stop.wait(server.stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
