"""The REST platforms' emulators (Spotler Mail+, Flexmail, Mailjet) as processes of their own, and
the Airflow connections that point the DAG at them.

Like the Optimizely one (bench/common/emulator.py), each runs its CLI (``python -m
include.emulators.<platform>``) in its own process on a free loopback port, so the emulator's CPU
and memory are not the task's. Only the platforms the lists file uses are started.

Flexmail allows about 60 requests a minute per account; the bench's Flexmail emulator allows
``FLEXMAIL_SPEED_UP`` times that and the connection spends just under it (the demo's figures,
scripts/demo_platforms.py): a night's label removals then take seconds, not hours. The contacts
import that adds the labels is one request per chunk and is not what the limit slows.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.common.child import vm_hwm_mb
from bench.common.emulator import stop_process
from bench.common.proc import ROOT, child_env
from scripts.demo_platforms import (
    FLEXMAIL_ACCOUNT,
    FLEXMAIL_REQUESTS_PER_MINUTE,
    FLEXMAIL_SPEED_UP,
    FLEXMAIL_TOKEN,
    SPOTLER_KEY,
    SPOTLER_SECRET,
)

MAILJET_KEY, MAILJET_SECRET = "bench-key", "bench-secret"
_LISTENING = re.compile(r"listening on (http://\S+)")


@dataclass
class RestEmulator:
    """One emulator process: its platform, the URL its CLI printed, its connection variable."""

    platform: str
    process: subprocess.Popen
    api_url: str
    connection_env: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def peak_rss_mb(self) -> float | None:
        return vm_hwm_mb(self.pid)

    def stop(self) -> None:
        stop_process(self.process)


def _command(platform: str) -> list[str]:
    common = [sys.executable, "-m", f"include.emulators.{platform}", "--host", "127.0.0.1", "--port", "0"]
    if platform == "spotler":
        return [*common, "--consumer-key", SPOTLER_KEY, "--consumer-secret", SPOTLER_SECRET]
    if platform == "flexmail":
        return [
            *common,
            "--account-id",
            FLEXMAIL_ACCOUNT,
            "--token",
            FLEXMAIL_TOKEN,
            "--requests-per-minute",
            str(FLEXMAIL_REQUESTS_PER_MINUTE),
        ]
    if platform == "mailjet":
        # a bulk job is done when first polled, as in the Mailjet scenario (bench/scenarios/mailjet.py):
        # how long Mailjet takes per job is its own and unpublished; the emulator's default 2 s a job
        # made a 10M night wait 50 min for 1,500 jobs of two lists
        return [*common, "--api-key", MAILJET_KEY, "--secret-key", MAILJET_SECRET, "--job-seconds", "0"]
    raise ValueError(f"no emulator for platform {platform!r}")


def connection_env(platform: str, api_url: str) -> dict[str, str]:
    """The ``<platform>_default`` connection as an ``AIRFLOW_CONN_*`` variable."""
    if platform == "spotler":
        document = {"conn_type": "spotler", "host": api_url, "login": SPOTLER_KEY, "password": SPOTLER_SECRET}
    elif platform == "flexmail":
        from scripts.demo_platforms import FLEXMAIL_SOURCE_ID

        document = {
            "conn_type": "flexmail",
            "host": api_url,
            "login": FLEXMAIL_ACCOUNT,
            "password": FLEXMAIL_TOKEN,
            # just under the emulator's limit, as 55 is under Flexmail's 60
            "extra": {"requests_per_minute": 55 * FLEXMAIL_SPEED_UP, "source_id": FLEXMAIL_SOURCE_ID},
        }
    elif platform == "mailjet":
        document = {"conn_type": "mailjet", "host": api_url, "login": MAILJET_KEY, "password": MAILJET_SECRET}
    else:
        raise ValueError(f"no connection for platform {platform!r}")
    return {f"AIRFLOW_CONN_{platform.upper()}_DEFAULT": json.dumps(document)}


def start_rest_emulator(platform: str, workdir: Path, timeout: float = 90) -> RestEmulator:
    """Start the platform's emulator CLI on a free loopback port; wait for its "listening" line."""
    workdir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        _command(platform),
        cwd=ROOT,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=open(workdir / f"{platform}_emulator.log", "w"),
        text=True,
    )
    lines: list[str] = []
    # readline blocks: a thread reads the start-up line, this one waits for it with a deadline
    threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True).start()
    deadline = time.monotonic() + timeout
    while not (found := _LISTENING.search("".join(list(lines)))):
        time.sleep(0.1)
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the {platform} emulator did not start; see {workdir}: {lines}")
    api_url = found.group(1)
    return RestEmulator(platform, process, api_url, connection_env(platform, api_url))


#: the platforms that have an emulator here (Optimizely's is bench/common/emulator.py)
REST_PLATFORMS = ("spotler", "flexmail", "mailjet")
