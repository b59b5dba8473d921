"""The documented command line starts a working emulator and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_cli_starts_serves_a_wsdl_and_stops_on_sigterm():
    command = [
        sys.executable,
        "-m",
        "include.emulators.optimizely",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--mandator-id",
        "1",
        "--user",
        "demo",
        "--password",
        "demo",
        "--session-ttl-seconds",
        "1200",
        "--max-concurrent-per-session",
        "10",
    ]
    process = subprocess.Popen(
        command,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        line = process.stdout.readline()
        match = re.fullmatch(
            r"Optimizely Campaign emulator listening on (http://127\.0\.0\.1:\d+) \(control: \1/_control\)\n",
            line,
        )
        assert match, (line, process.stderr.read() if process.poll() is not None else "")
        base = match.group(1)
        wsdl = urllib.request.urlopen(f"{base}/soap11/RpcRecipient?wsdl", timeout=5).read()
        assert b'<wsdl:operation name="addAll3"' in wsdl
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_cli_reports_a_bad_seed(tmp_path):
    seed = tmp_path / "seed.yaml"
    seed.write_text("optin_processes:\n  - {id: 5, type: triple}\n")
    result = subprocess.run(  # noqa: PLW1510 - the return code is asserted
        [sys.executable, "-m", "include.emulators.optimizely", "--port", "0", "--seed", str(seed)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 2
    assert "optin_processes[0].type" in result.stderr and str(seed) in result.stderr
