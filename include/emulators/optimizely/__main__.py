"""Command line: ``python -m include.emulators.optimizely [--host ...] [--port ...] ...``.

Prints one line when listening (and one for the SFTP server with its host key fingerprint) and
serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from include.emulators.kit.cli import add_common_arguments, serve
from include.emulators.optimizely.config import DEFAULT_SEED_PATH
from include.emulators.optimizely.response_files import MAX_LIFETIME_DAYS, MIN_LIFETIME_DAYS
from include.emulators.optimizely.runner import EmulatorServer

DEFAULT_SFTP_PORT = 2222
#: where the CLI keeps its SFTP host key, so the fingerprint clients pin survives restarts
DEFAULT_HOST_KEY_PATH = (
    Path(__file__).resolve().parents[3] / ".local" / "optimizely-emulator" / "ssh_host_ed25519_key"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m include.emulators.optimizely",
        description="Local stand-in of the Optimizely Campaign SOAP API (SOAP 1.1 RPC/encoded, Axis style).",
    )
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
    sftp = parser.add_argument_group("SFTP (the platform's response-data files)")
    sftp.add_argument(
        "--sftp-port",
        type=int,
        default=None,
        help="SFTP port on --host; 0 picks a free one (default 2222, or a free one when --port is 0)",
    )
    sftp.add_argument("--no-sftp", action="store_true", help="do not start the SFTP server")
    sftp.add_argument("--sftp-user", default="demo", help="the SFTP user (default demo)")
    sftp.add_argument(
        "--sftp-password",
        default="demo",
        help="its password (default demo); an empty string turns password authentication off",
    )
    sftp.add_argument(
        "--sftp-authorized-key",
        action="append",
        default=[],
        type=Path,
        metavar="PATH",
        help="a public key file (id_ed25519.pub or authorized_keys form) allowed to log in; repeatable",
    )
    sftp.add_argument(
        "--host-key",
        type=Path,
        default=DEFAULT_HOST_KEY_PATH,
        metavar="PATH",
        help="the SFTP host key; generated there once if missing (default: %(default)s)",
    )
    sftp.add_argument(
        "--sftp-root",
        type=Path,
        default=None,
        metavar="PATH",
        help="folder of the SFTP area (emptied at start and on reset; default: a temporary folder)",
    )
    sftp.add_argument(
        "--response-file-lifetime-days",
        type=float,
        default=30,
        help=(
            "response files disappear after this many days "
            f"({MIN_LIFETIME_DAYS}-{MAX_LIFETIME_DAYS}, default 30)"
        ),
    )
    sftp.add_argument(
        "--response-job-interval-seconds",
        type=float,
        default=86400.0,
        help="the response-data job runs every this many seconds of emulator time (0 = on demand only)",
    )
    add_common_arguments(parser, default_port=8089)
    return parser


def sftp_port_of(args: argparse.Namespace) -> int:
    """The SFTP port: as given; else 2222, or a free one when the HTTP port is a free one (tests)."""
    if args.sftp_port is not None:
        return args.sftp_port
    return 0 if args.port == 0 else DEFAULT_SFTP_PORT


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return serve(
        args,
        lambda: EmulatorServer(
            host=args.host,
            port=args.port,
            mandator_id=args.mandator_id,
            user=args.user,
            password=args.password,
            seed_path=args.seed,
            session_ttl_seconds=args.session_ttl_seconds,
            max_concurrent_per_session=args.max_concurrent_per_session,
            allow_remote_control=args.allow_remote_control,
            sftp_port=None if args.no_sftp else sftp_port_of(args),
            sftp_user=args.sftp_user,
            sftp_password=args.sftp_password or None,
            sftp_authorized_keys=args.sftp_authorized_key,
            host_key_path=args.host_key,
            sftp_root=args.sftp_root,
            response_file_lifetime_days=args.response_file_lifetime_days,
            response_job_interval_seconds=args.response_job_interval_seconds,
        ),
        lambda server: banner(args, server),
        stop=lambda server: server.close,
    )


def banner(args: argparse.Namespace, server: EmulatorServer) -> str:
    lines = [
        f"Optimizely Campaign emulator listening on {server.base_url} (control: {server.base_url}/_control)"
    ]
    if not args.no_sftp:
        lines.append(
            f"SFTP response files on sftp://{args.sftp_user}@{args.host}:{server.sftp_port}/responses "
            f"(host key {server.sftp_fingerprint})\n"
            f"  pin it: {server.sftp_host_key_line}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
