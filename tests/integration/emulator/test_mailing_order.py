"""A simulated mailing with a seed hits the same people however the list was filled: concurrent
addAll3 batches arrive in any order, and the demo must tell the same story every run."""

from __future__ import annotations

from tests.integration.emulator.conftest import LIST_ID

RATES = {
    "bounce_rate": 0.05,
    "soft_bounce_rate": 0.05,
    "unsubscribe_rate": 0.05,
    "open_rate": 0.3,
    "click_rate": 0.3,
    "seed": 7,
}


def mailing_outcome(emulator, soap, ids: list[str]) -> dict[str, set[str]]:
    emulator.control.reset()
    sid = soap.login()
    for start in range(0, len(ids), 50):  # batch after batch, in the order given
        assert soap.add_all3(sid, LIST_ID, 0, ids[start : start + 50]) == [0] * len(ids[start : start + 50])
    emulator.control.send_mailing(LIST_ID, **RATES)
    outcome: dict[str, set[str]] = {}
    for event in emulator.control.events()["events"]:
        if event["list_id"] in (LIST_ID, str(LIST_ID)):
            outcome.setdefault(f"{event['kind']}:{event.get('category') or ''}", set()).add(
                event["recipient_id"]
            )
    return outcome


def test_same_seed_same_people_whatever_order_the_batches_arrived_in(optimizely_emulator, soap):
    ids = [f"r{i:04d}@example.com" for i in range(400)]
    batches = [ids[i : i + 50] for i in range(0, len(ids), 50)]
    shuffled = [rid for batch in reversed(batches) for rid in batch]  # the last batch arrived first

    in_order = mailing_outcome(optimizely_emulator, soap, ids)
    out_of_order = mailing_outcome(optimizely_emulator, soap, shuffled)

    assert in_order and any(key.startswith("unsubscribe") for key in in_order)
    assert out_of_order == in_order
