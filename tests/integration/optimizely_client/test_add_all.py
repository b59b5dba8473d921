"""add_all/add_batch against the emulator: batch edges, result codes, encoding, validation."""

from __future__ import annotations

import math

import pytest

from include.crm_sync.platforms.base import AddOutcome, AddResult, Recipient
from include.crm_sync.platforms.optimizely.client import BatchResult
from include.crm_sync.platforms.optimizely.errors import InvalidRecipientDataError
from tests.integration.optimizely_client.conftest import (
    ATTRIBUTES,
    LIST_ID,
    emulator_calls,
    list_contents,
    recipient,
    recipients,
)


@pytest.mark.parametrize("n", [0, 1, 999, 1000, 1001, 2500])
def test_batch_edges_end_in_the_exact_list(optimizely_emulator, make_client, n):
    client = make_client(max_parallel_calls=4)
    batches: list[BatchResult] = []
    report = client.add_all(LIST_ID, 0, ATTRIBUTES, recipients(n), on_batch=batches.append)

    expected_batches = math.ceil(n / 1000)
    assert report.recipients == n and report.batches == expected_batches
    assert report.counts == ({AddOutcome.ADDED: n} if n else {})
    assert report.accepted == n and report.rejected == 0
    assert emulator_calls(optimizely_emulator) == expected_batches  # each batch sent exactly once

    # every recipient reported once, in its batch's input order, under the right offset
    assert sorted(b.index for b in batches) == list(range(expected_batches))
    for batch in batches:
        assert batch.offset == batch.index * 1000
        assert [r.recipient_id for r in batch.results] == [
            recipient(i).recipient_id for i in range(batch.offset, batch.offset + len(batch.results))
        ]
        assert all(isinstance(r, AddResult) and r.outcome is AddOutcome.ADDED for r in batch.results)

    contents = list_contents(optimizely_emulator)
    assert len(contents) == n
    for i in (0, n // 2, n - 1) if n else ():
        expected = recipient(i)
        stored = contents[expected.recipient_id]
        assert stored["email"] == expected.email
        assert [stored["attributes"].get(name, "") for name in ATTRIBUTES] == list(expected.attributes)
    assert client.count(LIST_ID) == n


def test_small_batch_size_and_sequential_calls(optimizely_emulator, make_client):
    client = make_client(batch_size=7, max_parallel_calls=1)
    report = client.add_all(LIST_ID, 0, ATTRIBUTES, recipients(50))
    assert report.batches == 8 and report.accepted == 50
    assert emulator_calls(optimizely_emulator) == 8
    assert set(list_contents(optimizely_emulator)) == {recipient(i).recipient_id for i in range(50)}


def test_every_result_code_is_surfaced_typed(optimizely_emulator, make_client):
    client = make_client()
    batch = [
        recipient(1),  # 0 added
        recipient(2, email="not-an-address"),  # 1 invalid
        recipient(3, rid="jan.unsub@example.nl", email="jan.unsub@example.nl"),  # 2 unsubscribed
        recipient(4, email="someone@blocked.example"),  # 3 blocklisted
        recipient(5, email="old.bouncer@example.com"),  # 4 bounce overflow
        recipient(1),  # 5 already in list (same id)
        recipient(6, email="postmaster@example.com"),  # 6 filtered
        recipient(7, first_name="x" * 101),  # 7 error (value too long)
    ]
    results = client.add_batch(LIST_ID, 0, ATTRIBUTES, batch)
    assert [r.outcome for r in results] == list(AddOutcome)
    assert [r.recipient_id for r in results] == [r.recipient_id for r in batch]
    assert [r.outcome.accepted for r in results] == [True, False, False, False, False, True, False, False]
    assert set(list_contents(optimizely_emulator)) == {recipient(1).recipient_id}

    # the same through add_all: per-code counts
    report = client.add_all(1002, 0, ATTRIBUTES, iter(batch))
    assert report.counts == {outcome: 1 for outcome in AddOutcome}
    assert report.accepted == 2 and report.rejected == 6


def test_utf8_and_xml_special_characters_round_trip(optimizely_emulator, make_client):
    client = make_client()
    tricky = [
        recipient(1, first_name="Jürgen Ä Ö Ü ß", last_name="中文姓名", city="🎉🚀 Zürich"),
        recipient(2, first_name="& < > ]]> \" '", last_name="<![CDATA[x]]>", city="a&amp;b"),
        recipient(3, first_name="tab\there", last_name="line\nbreak", city="cr\r\nlf"),
        recipient(4, first_name="", last_name=" leading and trailing ", city="\u00a0nbsp\u200b"),
        recipient(5, rid="id-ä-中-🎉", email="ünïcödé@exämple.com"),
    ]
    results = client.add_batch(LIST_ID, 0, ATTRIBUTES, tricky)
    assert [r.outcome for r in results] == [AddOutcome.ADDED] * 5

    by_id = {row[0]: row for row in client.get_all(LIST_ID, ATTRIBUTES)}
    contents = list_contents(optimizely_emulator)
    for sent in tricky:
        assert by_id[sent.recipient_id] == [sent.recipient_id, sent.email, *sent.attributes]
        assert (
            tuple(contents[sent.recipient_id]["attributes"].get(n, "") for n in ATTRIBUTES) == sent.attributes
        )


def test_no_attributes(optimizely_emulator, make_client):
    client = make_client()
    report = client.add_all(LIST_ID, 0, [], (Recipient(f"r{i}", f"r{i}@example.com") for i in range(3)))
    assert report.accepted == 3
    assert sorted(list_contents(optimizely_emulator)) == ["r0", "r1", "r2"]


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("first-name", "bad\x00value"),
        ("city", "x\x1fy"),
        ("company", "\x0b"),
        ("last-name", "\ufffe"),
        ("email", "a\x08b@example.com"),
        ("recipient_id", "C\x0c1"),
    ],
)
def test_xml_illegal_characters_are_refused_before_sending(
    optimizely_emulator, make_client, field, bad, caplog
):
    client = make_client(batch_size=10, max_parallel_calls=1)

    def stream():
        for i in range(35):
            if i == 23:  # in the third batch
                if field == "email":
                    yield recipient(i, email=bad)
                elif field == "recipient_id":
                    yield recipient(i, rid=bad)
                else:
                    yield recipient(i, **{field.replace("-", "_"): bad})
            else:
                yield recipient(i)

    reported: list[BatchResult] = []
    with pytest.raises(InvalidRecipientDataError) as info:
        client.add_all(LIST_ID, 0, ATTRIBUTES, stream(), on_batch=reported.append)
    error = info.value
    assert isinstance(error, ValueError)
    assert error.position == 23
    assert error.field == (field if field in ("email", "recipient_id") else f"attribute {field!r}")
    message = str(error)
    assert field in message and "23" in message
    if field != "recipient_id":
        assert recipient(23).recipient_id in message
    assert "user23@example.com" not in message and "u***@e***.com" in message or field == "email"
    # batches before it were sent and reported; the bad batch and everything after it not
    assert emulator_calls(optimizely_emulator) == 2
    assert sorted(b.index for b in reported) == [0, 1]
    assert set(list_contents(optimizely_emulator)) == {recipient(i).recipient_id for i in range(20)}


def test_attribute_count_mismatch_names_the_recipient(optimizely_emulator, make_client):
    client = make_client()
    with pytest.raises(InvalidRecipientDataError, match="C0000001.*2 attribute values for 10"):
        client.add_batch(
            LIST_ID, 0, ATTRIBUTES, [recipient(0), Recipient("C0000001", "x@example.com", ("a", "b"))]
        )
    assert emulator_calls(optimizely_emulator) == 0


def test_add_batch_refuses_more_than_1000(make_client, optimizely_emulator):
    with pytest.raises(ValueError, match="at most 1000"):
        make_client().add_batch(LIST_ID, 0, ATTRIBUTES, list(recipients(1001)))
    assert emulator_calls(optimizely_emulator) == 0


def test_a_batch_prepared_without_a_session_is_sent_later_under_a_new_one(optimizely_emulator, make_client):
    """The refill prepares every request before ``clear``; the session may change before it is sent."""
    client = make_client()
    batch = list(recipients(25))
    request = client.prepare_batch(LIST_ID, 0, ATTRIBUTES, batch)
    assert emulator_calls(optimizely_emulator) == 0  # preparing sends nothing
    client.logout()  # the id the request is sent with is only known when it is sent

    results = client.add_prepared(request, [r.recipient_id for r in batch])

    assert [(r.recipient_id, r.outcome) for r in results] == [
        (r.recipient_id, AddOutcome.ADDED) for r in batch
    ]
    contents = list_contents(optimizely_emulator)
    assert set(contents) == {r.recipient_id for r in batch}
    stored = contents[batch[7].recipient_id]
    assert stored["email"] == batch[7].email
    assert [stored["attributes"].get(name, "") for name in ATTRIBUTES] == list(batch[7].attributes)


def test_preparing_a_bad_batch_raises_like_add_batch(make_client, optimizely_emulator):
    with pytest.raises(InvalidRecipientDataError, match="C0000001.*2 attribute values for 10"):
        make_client().prepare_batch(
            LIST_ID, 0, ATTRIBUTES, [recipient(0), Recipient("C0000001", "x@example.com", ("a", "b"))]
        )
    with pytest.raises(ValueError, match="at most 1000"):
        make_client().prepare_batch(LIST_ID, 0, ATTRIBUTES, list(recipients(1001)))
    assert emulator_calls(optimizely_emulator) == 0


def test_clear_and_count(optimizely_emulator, make_client):
    client = make_client()
    client.add_all(LIST_ID, 0, ATTRIBUTES, recipients(1200))
    assert client.count(LIST_ID) == 1200
    client.clear(LIST_ID)
    assert client.count(LIST_ID) == 0 and list_contents(optimizely_emulator) == {}


def test_a_failing_callback_stops_the_upload(optimizely_emulator, make_client):
    # A generous request timeout: a call slowed down by a loaded machine is not retried (and counted
    # twice by the emulator).
    client = make_client(batch_size=100, max_parallel_calls=1, timeout=120)
    reported: list[int] = []
    read = 0

    def source():
        nonlocal read
        for r in recipients(2000):
            read += 1
            yield r

    def store(batch: BatchResult) -> None:
        reported.append(batch.index)
        if batch.index == 2:
            raise RuntimeError("audit table unavailable")

    with pytest.raises(RuntimeError, match="audit table unavailable"):
        client.add_all(LIST_ID, 0, ATTRIBUTES, source(), on_batch=store)

    # With one worker, batch 3 is read and queued while batch 2 is on the wire. Whether it was read
    # yet, and whether the worker had taken it, when batch 2's callback failed is a race; so is the
    # order of the callbacks of batches that were all answered by the time add_all looked (on a
    # loaded machine batches 0 and 1, or 2 and 3, are). What is not a race: nothing after batch 3 is
    # read or sent, no callback follows the failed one, every answered batch before it was reported,
    # and the platform holds exactly the whole batches that were sent, each sent once.
    sent = emulator_calls(optimizely_emulator)
    assert read in (300, 400) and 3 <= sent <= read // 100
    assert set(list_contents(optimizely_emulator)) == {recipient(i).recipient_id for i in range(100 * sent)}
    assert reported[-1] == 2
    assert sorted(reported) == [0, 1, 2] or (sent == 4 and sorted(reported) == [0, 1, 2, 3])
