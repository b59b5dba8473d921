"""A refill in its own process that SIGKILLs itself at an exact point: the "killed task" of the tests.

    python -m tests.integration.sync.refill_child STAGING_URL BASE_URL LIST_RUN_ID BATCH WHEN BATCH_SIZE

``WHEN=before``: killed as batch BATCH (1-based) is about to be sent (the platform never sees it);
``WHEN=after``: killed right after the platform answered batch BATCH, before the answer is recorded
(the platform holds the batch, the audit does not). Nothing is cleaned up: like ``kill -9`` of an
Airflow worker, no ``finally`` runs, the session stays open and the list run stays ``refilling``.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from include.crm_sync.platforms.optimizely.platform import OptimizelyCampaignPlatform
from include.crm_sync.staging.engine import create_staging_engine
from include.crm_sync.sync.refill import RefillOptions, refill_list
from tests.integration.sync.scenario import make_platform


def main(url: str, base_url: str, list_run_id: int, kill_at: int, when: str, batch_size: int) -> None:
    platform = make_platform(base_url)
    lock = threading.Lock()
    sent = 0
    original = OptimizelyCampaignPlatform.add_prepared  # what the refill sends each batch with

    def add_prepared(self, *args, **kwargs):  # noqa: ANN001, ANN202
        nonlocal sent
        with lock:
            sent += 1
            number = sent
        if number == kill_at and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        results = original(self, *args, **kwargs)
        if number == kill_at and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return results

    OptimizelyCampaignPlatform.add_prepared = add_prepared
    engine = create_staging_engine(url)
    refill_list(engine, platform, list_run_id, RefillOptions(batch_size=batch_size, max_parallel_calls=1))
    print("refill finished without being killed", file=sys.stderr)
    sys.exit(3)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6]))
