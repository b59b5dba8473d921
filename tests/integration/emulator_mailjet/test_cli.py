"""``python -m include.emulators.mailjet``: starts on the given port with the given keys, prints
where it listens, serves the official client unchanged, stops on SIGTERM with exit code 0."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import mailjet_rest
import pytest
from mailjet_rest.errors import ApiRateLimitError, MailjetAuthError

ROOT = Path(__file__).resolve().parents[3]


def test_cli_serves_the_official_client_and_stops_on_sigterm():
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "include.emulators.mailjet",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--api-key",
            "k1",
            "--secret-key",
            "s1",
            "--requests-per-second",
            "1000",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"listening on (http://\S+)", line)
        assert match, line
        client = mailjet_rest.Client(auth=("k1", "s1"), version="v3", api_url=match.group(1))
        assert client.contactslist.create(data={"Name": "News"}).status_code == 201
        with pytest.raises(MailjetAuthError):
            mailjet_rest.Client(auth=("k1", "x"), version="v3", api_url=match.group(1)).contactslist.get()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def test_rate_limit_flag_answers_429(tmp_path):
    from include.emulators.mailjet import MailjetEmulatorServer

    with MailjetEmulatorServer(api_key="k", secret_key="s", requests_per_second=1) as server:
        server.control.set_clock("2026-12-01T00:00:00Z", frozen=True)
        client = mailjet_rest.Client(auth=("k", "s"), version="v3", api_url=server.api_url)
        client.contactslist.get()
        with pytest.raises(ApiRateLimitError):
            client.contactslist.get()
