"""Concurrent addAll3 calls to one list from several connections end with the exact union."""

from __future__ import annotations

import threading
from collections import Counter

from tests.integration.emulator import offline_zeep
from tests.integration.emulator.conftest import LIST_ID

THREADS, BATCHES, BATCH_SIZE, SHARED = 8, 4, 150, 100


def test_eight_threads_adding_to_one_list_end_with_the_exact_union(optimizely_emulator):
    base_url = optimizely_emulator.base_url
    sid = offline_zeep.client(base_url, "Session").service.login(1, "demo", "demo")
    shared = [f"shared{i}@example.com" for i in range(SHARED)]  # every thread adds these too
    results: dict[int, list[tuple[list[str], list[int]]]] = {}
    errors: list[BaseException] = []
    clients = [offline_zeep.client(base_url, "Recipient") for _ in range(THREADS)]  # one connection each
    start = threading.Barrier(THREADS)

    def worker(index: int) -> None:
        try:
            client = clients[index]
            own = [f"t{index}-{i}@example.com" for i in range(BATCHES * BATCH_SIZE)]
            mine = own + shared
            batches = [mine[i : i + BATCH_SIZE] for i in range(0, len(mine), BATCH_SIZE)]
            start.wait()
            results[index] = []
            for batch in batches:
                codes = client.service.addAll3(
                    sid,
                    LIST_ID,
                    0,
                    offline_zeep.string_array(client, batch),
                    offline_zeep.string_array(client, batch),
                    offline_zeep.string_array(client, ["city"]),
                    offline_zeep.string_matrix(client, [[f"city of {rid}"] for rid in batch]),
                )
                results[index].append((batch, list(codes)))
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors

    expected = {f"t{t}-{i}@example.com" for t in range(THREADS) for i in range(BATCHES * BATCH_SIZE)} | set(
        shared
    )
    rlist = optimizely_emulator.state.lists[LIST_ID]
    assert set(rlist.recipients) == expected
    assert len(rlist.recipients) == len(expected)
    assert all(rlist.describe(rid)["attributes"] == {"city": f"city of {rid}"} for rid in expected)

    # Each own id was added exactly once (code 0); each shared id once with 0 and 7 times with 5.
    outcome: dict[str, Counter] = {}
    for batches in results.values():
        for batch, codes in batches:
            assert len(codes) == len(batch)
            for rid, code in zip(batch, codes, strict=True):
                outcome.setdefault(rid, Counter())[code] += 1
    assert all(outcome[rid] == Counter({0: 1}) for rid in expected - set(shared))
    assert all(outcome[rid] == Counter({0: 1, 5: THREADS - 1}) for rid in shared)
