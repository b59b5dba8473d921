"""Run one measured step in a fresh interpreter and collect its result and its own resource use.

Each step is ``module:function`` called with JSON keyword arguments inside
``python -m bench.common.child``; the function's JSON-able result comes back through a file (the
step may log freely on stdout/stderr: that goes to a log file of its own).
Peak RSS: the child reads its own ``VmHWM`` (the kernel's high-water mark of the process's memory
since ``exec``) just before it exits. ``ru_maxrss`` of the child -- taken here with ``os.wait4``, so
it is that child's alone and not the maximum over all children as ``RUSAGE_CHILDREN`` gives -- is
kept next to it as ``ru_maxrss_mb``, but it is not the figure: Linux folds the high-water mark of
the address space replaced at ``exec`` into it, i.e. the *spawning* process's RSS (measured: a
driver holding 800 MB makes a 14 MB child report 813 MB).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


class StepFailed(RuntimeError):
    """A measured step exited with an error; the message holds the tail of its log."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every child: project root and plugins/ on the path, as in Airflow."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "plugins")])
    env.setdefault("GX_ANALYTICS_ENABLED", "false")
    env.update(extra or {})
    return env


def run_step(
    target: str,
    log_file: Path,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Run ``target`` ("package.module:function") with ``kwargs`` in a fresh interpreter.

    Returns the function's result (a dict) plus ``peak_rss_mb`` (the child's own ``VmHWM``),
    ``ru_maxrss_mb``, ``cpu_s`` (its user + system CPU) and ``wall_s`` (process start to exit).
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-step-") as tmp:
        args_path, out_path = Path(tmp) / "args.json", Path(tmp) / "result.json"
        args_path.write_text(json.dumps(kwargs, default=str))
        with open(log_file, "a", encoding="utf-8") as log_out:
            log_out.write(f"\n===== {time.strftime('%H:%M:%S')} {target} {json.dumps(kwargs, default=str)}\n")
            log_out.flush()
            started = time.perf_counter()
            process = subprocess.Popen(
                [sys.executable, "-m", "bench.common.child", target, str(args_path), str(out_path)],
                cwd=ROOT,
                env=child_env(env),
                stdin=subprocess.DEVNULL,
                stdout=log_out,
                stderr=subprocess.STDOUT,
            )
            try:
                status, usage = _wait(process, timeout)
            except BaseException:
                process.kill()
                process.wait()
                raise
            wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0 or not out_path.exists():
            tail = "".join(log_file.read_text(encoding="utf-8", errors="replace").splitlines(True)[-40:])
            raise StepFailed(f"{target} failed (exit {process.returncode}); log {log_file}:\n{tail}")
        result = json.loads(out_path.read_text())
    result["peak_rss_mb"] = result.pop("vm_hwm_mb") or round(usage.ru_maxrss / 1024, 1)
    result["ru_maxrss_mb"] = round(usage.ru_maxrss / 1024, 1)
    result["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 2)
    result["wall_s"] = round(wall, 2)
    return result


def _wait(process: subprocess.Popen, timeout: float | None) -> tuple[int, Any]:
    """``os.wait4`` of the child (its own rusage), with an optional deadline."""
    if timeout is None:
        _, status, usage = os.wait4(process.pid, 0)
        return status, usage
    deadline = time.monotonic() + timeout
    while True:  # poll a real process for its exit, with a deadline
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            return status, usage
        if time.monotonic() > deadline:
            raise TimeoutError(f"step still running after {timeout:.0f} s")
        time.sleep(0.2)
