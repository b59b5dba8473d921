"""Peak RSS of every Airflow task process of a run, read from outside while the run goes on.

Under the LocalExecutor each task instance runs in a process of its own, forked by its supervisor,
which titles it ``airflow worker -- <task instance id>`` (airflow.sdk.execution_time.task_runner).
A sampler thread lists the processes every ``interval`` seconds and keeps, per task instance id,
the largest ``VmHWM`` it read: the kernel's high-water mark of that process's resident memory, so
a peak between two samples is not missed -- only growth in the last ``interval`` before the process
exits could be. The figure is the task process as the OS counts it, pages shared with the
supervisor it was forked from included (that is what the machine must hold for it).
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from bench.common.child import vm_hwm_mb

_TITLE = re.compile(r"^airflow worker -- ([0-9a-f-]{36})")


def _task_processes() -> dict[str, str]:
    """pid -> task instance id of every titled task process now running."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if match := _TITLE.match(title):
            found[entry.name] = match.group(1)
    return found


class TaskRssSampler:
    """``with TaskRssSampler() as rss: ...``; then ``rss.peaks`` maps task instance id -> peak MB."""

    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="task-rss", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        for pid, ti_id in _task_processes().items():
            peak = vm_hwm_mb(pid)
            if peak is not None and peak > self.peaks.get(ti_id, 0.0):
                self.peaks[ti_id] = peak

    def __enter__(self) -> TaskRssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
