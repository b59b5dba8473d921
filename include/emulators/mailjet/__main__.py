"""Command line: ``python -m include.emulators.mailjet --host 127.0.0.1 --port P --api-key K
--secret-key S [--requests-per-second N] [--job-seconds T] [--seed FILE]``.

Prints one line when listening and serves until SIGINT or SIGTERM; a bad seed or a port in use
exits 2 with the reason.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from include.emulators.kit.cli import add_common_arguments, serve
from include.emulators.mailjet.runner import MailjetEmulatorServer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m include.emulators.mailjet",
        description="Local stand-in of the Mailjet v3 REST/DATA API (lists, contacts, bulk jobs).",
    )
    parser.add_argument("--api-key", required=True, help="the API key (Basic auth user)")
    parser.add_argument("--secret-key", required=True, help="the secret key (Basic auth password)")
    parser.add_argument("--requests-per-second", type=int, default=None, help="per-key limit, then 429")
    parser.add_argument("--job-seconds", type=float, default=2.0, help="emulated seconds a bulk job takes")
    parser.add_argument("--seed", type=Path, default=None, help="seed YAML (lists with members, exclusions)")
    add_common_arguments(parser, default_port=8092)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return serve(
        args,
        lambda: MailjetEmulatorServer(
            host=args.host,
            port=args.port,
            api_key=args.api_key,
            secret_key=args.secret_key,
            seed_path=args.seed,
            allow_remote_control=args.allow_remote_control,
            requests_per_second=args.requests_per_second,
            job_seconds=args.job_seconds,
        ),
        lambda server: (
            f"Mailjet emulator listening on {server.api_url} (control: {server.base_url}/_control)"
        ),
    )


if __name__ == "__main__":
    sys.exit(main())
