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
from include.emulators.kit.cli import StopOnSignal, configure_logging
from include.emulators.kit.seed import SeedError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m include.emulators.flexmail",
        description="Local stand-in of the Flexmail REST API (contacts, interest labels, imports).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=8093, help="port to listen on; 0 picks a free one")
    parser.add_argument("--account-id", required=True, help="the account id (Basic auth user)")
    parser.add_argument("--token", required=True, help="the personal access token (Basic auth password)")
    parser.add_argument(
        "--requests-per-minute", type=int, default=60, help="per-account limit per 60 emulated seconds"
    )
    parser.add_argument("--seed", type=Path, default=DEFAULT_SEED_PATH, help="seed YAML")
    parser.add_argument(
        "--allow-remote-control", action="store_true", help="let non-loopback clients use /_control"
    )
    parser.add_argument("--log-level", default="WARNING", help="Python log level")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    try:
        server = FlexmailEmulatorServer(
            host=args.host,
            port=args.port,
            account_id=args.account_id,
            token=args.token,
            seed_path=args.seed,
            requests_per_minute=args.requests_per_minute,
            allow_remote_control=args.allow_remote_control,
        )
        server.start()
    except (SeedError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = StopOnSignal()
    print(
        f"Flexmail emulator listening on {server.base_url} (control: {server.base_url}/_control)", flush=True
    )
    stop.wait(server.stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
