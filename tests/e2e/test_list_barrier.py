"""The barrier the Celery scale-out test relies on: met only by two lists at once, broken by one.

Plain client calls against the session's emulator (no Airflow), so these run in the fast suite.
"""

from __future__ import annotations

import threading

from include.crm_sync.platforms.base import Recipient
from include.crm_sync.platforms.optimizely.client import OptimizelyCampaignClient
from tests.e2e.list_barrier import ListBarrier


def client(emulator) -> OptimizelyCampaignClient:
    return OptimizelyCampaignClient(emulator.base_url, 1, "demo", "demo", timeout=120)


def test_a_clear_waits_until_another_list_is_cleared(optimizely_emulator):
    barrier = ListBarrier("Recipient.clear", parties=2, timeout=60)
    barrier.install(optimizely_emulator.emulator)
    first, second = client(optimizely_emulator), client(optimizely_emulator)
    try:
        waiting = threading.Thread(target=first.clear, args=(1001,))
        waiting.start()
        # the second list may arrive before or after the first: either way both pass together
        second.clear(1002)
        waiting.join(timeout=60)
        assert not waiting.is_alive()
    finally:
        barrier.remove()
        first.close()
        second.close()
    assert barrier.met and not barrier.broken
    assert barrier.lists == {1001, 1002}


def test_one_list_alone_breaks_the_barrier_and_its_call_still_completes(optimizely_emulator):
    barrier = ListBarrier("Recipient.clear", parties=2, timeout=1)
    barrier.install(optimizely_emulator.emulator)
    lone = client(optimizely_emulator)
    try:
        lone.add_all(1001, 0, [], [Recipient("r1", "r1@example.com")])  # other operations pass untouched
        assert lone.count(1001) == 1
        lone.clear(1001)
        lone.clear(1001)  # the same list again is no second party
        assert lone.count(1001) == 0
    finally:
        barrier.remove()
        lone.close()
    assert barrier.wait_settled(timeout=0)
    assert barrier.broken and not barrier.met
    assert barrier.arrivals == [1001, 1001]
