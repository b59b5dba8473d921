"""``python -m include.emulators.spotler``: starts on the given port with the given credentials,
prints where it listens, serves signed requests, stops on SIGTERM with exit code 0."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.integration.emulator_spotler.conftest import Api

ROOT = Path(__file__).resolve().parents[3]


def _start(*args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "include.emulators.spotler", "--host", "127.0.0.1", "--port", "0", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"listening on (http://\S+)", line)
    assert match, (line, process.stderr.read() if process.poll() is not None else "")
    return process, match.group(1)


def _stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


def test_cli_serves_signed_requests_and_stops_on_sigterm():
    process, api_url = _start("--consumer-key", "k1", "--consumer-secret", "s1")
    try:
        assert api_url.endswith("/integrationservice-1.1.0")
        assert Api(api_url, "k1", "s1").create_audience("a1").status_code == 200
        assert Api(api_url, "k1", "wrong").get("/audience/a1").status_code == 401
    finally:
        assert _stop(process) == 0


def test_cli_without_the_automation_product():
    process, api_url = _start("--consumer-key", "k1", "--consumer-secret", "s1", "--no-automation-product")
    try:
        assert Api(api_url, "k1", "s1").create_audience("a1").status_code == 403
    finally:
        assert _stop(process) == 0


def test_cli_refuses_a_bad_seed(tmp_path):
    seed = tmp_path / "bad.yaml"
    seed.write_text("properties: [{name: email, type: nonsense}]\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "include.emulators.spotler",
            "--port",
            "0",
            "--consumer-key",
            "k",
            "--consumer-secret",
            "s",
            "--seed",
            str(seed),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "bad.yaml" in result.stderr and "type" in result.stderr
