"""The platform emulators in a process of their own (their CLIs), so client and server do not share a
GIL or a heap: on a 2-core machine they compete for the cores as a worker and a remote platform
would not, but the client's CPU and RSS stay the client's.

The SFTP area is a folder of the run (``--sftp-root``), so a benchmark can place a response file
there itself (written under a hidden name, then renamed: the server skips dot files). The
response-data job runs on demand only (``--response-job-interval-seconds 0``): no file appears
that the benchmark did not put there.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common.proc import ROOT, child_env

USER, PASSWORD, MANDATOR_ID = "demo", "demo", 1


@dataclass
class _Emulator:
    """An emulator's process and where its ``/_control`` lives."""

    process: subprocess.Popen
    base_url: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_mb(self) -> dict[str, float]:
        """Current and peak RSS of the emulator process (``VmRSS``/``VmHWM``)."""
        return process_rss_mb(self.pid)

    def stop(self) -> None:
        stop_process(self.process)


@dataclass
class EmulatorProcess(_Emulator):
    sftp_port: int
    host_key_line: str
    sftp_root: Path

    def control(self, timeout: float = 600):
        from include.emulators.optimizely.control import ControlClient

        return ControlClient(self.base_url, timeout=timeout)

    def put_response_file(self, name: str, source: Path) -> Path:
        """Place ``source`` in the SFTP area as ``/responses/<name>``, atomically."""
        folder = self.sftp_root / "responses"
        folder.mkdir(parents=True, exist_ok=True)
        hidden = folder / f".{name}.part"
        os.link(source, hidden) if _same_device(source, folder) else hidden.write_bytes(source.read_bytes())
        os.replace(hidden, folder / name)
        return folder / name


def process_rss_mb(pid: int) -> dict[str, float]:
    """Current and peak RSS of a running process (``VmRSS``/``VmHWM``); empty once it is gone."""
    found = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                key = "rss_mb" if line.startswith("VmRSS") else "peak_rss_mb"
                found[key] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return found


def _same_device(a: Path, b: Path) -> bool:
    return a.stat().st_dev == b.stat().st_dev


def _spawn(argv: list[str], workdir: Path, ready: str, timeout: float) -> tuple[subprocess.Popen, str]:
    """Start an emulator's CLI; return the process and its start-up output once a line holding
    ``ready`` was printed."""
    workdir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", *argv, "--log-level", "WARNING"],
        cwd=ROOT,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=open(workdir / "emulator.log", "w"),
        text=True,
    )
    lines: list[str] = []
    # A thread reads the start-up lines (readline blocks); this one waits for them with a deadline.
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    while not any(ready in line for line in list(lines)):
        time.sleep(0.1)
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{argv[0]} did not start; see {workdir / 'emulator.log'}: {lines}")
    return process, "".join(lines)


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_emulator(workdir: Path, timeout: float = 90) -> EmulatorProcess:
    """Start ``python -m include.emulators.optimizely`` on free loopback ports; wait until it listens."""
    sftp_root = workdir / "sftp"
    process, text = _spawn(
        [
            "include.emulators.optimizely",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--sftp-port",
            "0",
            "--sftp-root",
            str(sftp_root),
            "--host-key",
            str(workdir / "ssh_host_ed25519_key"),
            "--response-job-interval-seconds",
            "0",
        ],
        workdir,
        "pin it:",
        timeout,
    )
    base_url = re.search(r"listening on (http://\S+)", text).group(1)
    sftp_port = int(re.search(r"sftp://\S+?:(\d+)/", text).group(1))
    host_key_line = re.search(r"pin it: (.+)", text).group(1).strip()
    return EmulatorProcess(process, base_url, sftp_port, host_key_line, sftp_root)


@dataclass
class RestEmulator(_Emulator):
    """A REST platform emulator on the shared kit (Spotler, Mailjet) in its own process."""

    #: the API root its client is given, e.g. http://127.0.0.1:P/integrationservice-1.1.0
    api_url: str

    def control(self, timeout: float = 600):
        from include.emulators.kit.control import ControlClient

        return ControlClient(self.base_url, timeout=timeout)


def start_rest_emulator(module: str, options: list[str], workdir: Path, timeout: float = 90) -> RestEmulator:
    """Start ``python -m <module> --host 127.0.0.1 --port 0 <options>`` (the kit's CLI, which prints
    "... listening on <api url> (control: <base url>/_control)") and wait until it listens."""
    argv = [module, "--host", "127.0.0.1", "--port", "0", *options]
    process, text = _spawn(argv, workdir, "listening on", timeout)
    found = re.search(r"listening on (http://\S+) \(control: (http://\S+)/_control\)", text)
    if found is None:
        stop_process(process)
        raise RuntimeError(f"{module}: unexpected start-up line {text!r}")
    return RestEmulator(process, base_url=found.group(2), api_url=found.group(1))
