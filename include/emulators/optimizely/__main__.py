"""Command line: ``python -m include.emulators.optimizely [--host ...] [--port ...] ...``.

Prints one line when listening and serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from include.emulators.optimizely.config import DEFAULT_SEED_PATH
from include.emulators.optimizely.runner import EmulatorServer
from include.emulators.optimizely.seed import SeedError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m include.emulators.optimizely",
        description="Local stand-in of the Optimizely Campaign SOAP API (SOAP 1.1 RPC/encoded, Axis style).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=8089, help="port to listen on; 0 picks a free one")
    parser.add_argument("--mandator-id", type=int, default=1, help="the mandator (client) id login accepts")
    parser.add_argument("--user", default="demo", help="the user login accepts")
    parser.add_argument("--password", default="demo", help="the password login accepts")
    parser.add_argument(
        "--seed", type=Path, default=DEFAULT_SEED_PATH, help="seed YAML (default: the bundled seed.yaml)"
    )
    parser.add_argument(
        "--session-ttl-seconds", type=float, default=1200.0, help="session lifetime after login"
    )
    parser.add_argument(
        "--max-concurrent-per-session",
        type=int,
        default=10,
        help="requests in flight per session before faulting",
    )
    parser.add_argument(
        "--allow-remote-control",
        action="store_true",
        help="let non-loopback clients use /_control (never on a shared network)",
    )
    parser.add_argument("--log-level", default="WARNING", help="Python log level (DEBUG logs every request)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        server = EmulatorServer(
            host=args.host,
            port=args.port,
            mandator_id=args.mandator_id,
            user=args.user,
            password=args.password,
            seed_path=args.seed,
            session_ttl_seconds=args.session_ttl_seconds,
            max_concurrent_per_session=args.max_concurrent_per_session,
            allow_remote_control=args.allow_remote_control,
        )
        server.start()
    except (SeedError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    stop = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    print(
        f"Optimizely Campaign emulator listening on {server.base_url} (control: {server.base_url}/_control)",
        flush=True,
    )
    while not stop.wait(1.0):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
