"""Several clients at once (each with its own keep-alive connection and nonces): upserts, member
adds and removals interleave, and the end state is exactly what the calls add up to."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.integration.emulator_spotler.conftest import Api, contact

THREADS, BATCHES, BATCH = 8, 5, 200


def test_concurrent_adds_and_removes_are_each_applied_whole(spotler):
    api = Api(spotler.api_url)
    assert api.create_audience("a1").status_code == 200
    ids = [[f"t{t}-{b}-{i}" for i in range(BATCH)] for t in range(THREADS) for b in range(BATCHES)]
    spotler.control.add_contacts([contact(i) for batch in ids for i in batch])

    def worker(thread: int) -> list[int]:
        client = Api(spotler.api_url)
        statuses = []
        for batch in ids[thread * BATCHES : (thread + 1) * BATCHES]:
            statuses.append(client.post("/audience/a1/contact", {"contacts": batch}).status_code)
            # Every thread removes the first half of its own batch again.
            statuses.append(
                client.delete("/audience/a1/contact", {"contacts": batch[: BATCH // 2]}).status_code
            )
            statuses.append(
                client.upsert([contact(i, firstName=f"n{thread}") for i in batch[:100]]).status_code
            )
        return statuses

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(worker, range(THREADS)))
    assert all(s in (200, 204) for statuses in results for s in statuses)
    expected = {i for batch in ids for i in batch[BATCH // 2 :]}
    members = spotler.control.members("a1")
    assert len(members) == len(set(members)) == len(expected)
    assert set(members) == expected
    calls = spotler.control.calls()
    assert calls["audience.contacts.add"] == calls["audience.contacts.remove"] == THREADS * BATCHES
    assert calls["contact.list"] == THREADS * BATCHES
