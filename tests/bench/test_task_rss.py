"""The task-process RSS sampler finds a process by the title Airflow's task runner gives it and
keeps its high-water mark, also after the process freed the memory again."""

from __future__ import annotations

import subprocess
import sys
import uuid

from bench.common.task_rss import TaskRssSampler

# a titled process that holds ~150 MB, frees it, then waits to be told to exit
CHILD = """
import sys, setproctitle
setproctitle.setproctitle("airflow worker -- " + sys.argv[1])
block = bytearray(150 * 2**20)
for i in range(0, len(block), 4096):
    block[i] = 1
del block
print("ready", flush=True)
sys.stdin.readline()
"""


def test_sampler_keeps_the_peak_of_a_titled_task_process() -> None:
    ti_id = str(uuid.uuid4())
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, ti_id], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "ready"
        sampler = TaskRssSampler()
        sampler.sample()  # after the memory was freed: the high-water mark still holds it
    finally:
        child.communicate("\n", timeout=30)
    assert sampler.peaks[ti_id] >= 150
    assert all(len(key) == 36 for key in sampler.peaks)
