"""The refill's spool: batches come back as they went in, in order, from a file nobody else sees."""

from __future__ import annotations

import os

from include.crm_sync.platforms.recipient_batch import MEMBER_SEP, ROW_SEP, RecipientBatch
from include.crm_sync.sync.batch_spool import BatchSpool


def batch(first: int, n: int, width: int = 3) -> RecipientBatch:
    ids = [f"C{i:07d}" for i in range(first, first + n)]
    return RecipientBatch(
        ids,
        [f"p{i}@example.com" for i in range(first, first + n)],
        [[f"{i}-{k}é" for k in range(width)] for i in range(first, first + n)],
    )


def test_prepared_and_unprepared_batches_come_back_in_order(tmp_path):
    joined = RecipientBatch.from_joined(
        ["A", "B"], ["a@x.org", "b@x.org"], f"1{MEMBER_SEP}2{ROW_SEP}3{MEMBER_SEP}4", 2
    )
    with BatchSpool(tmp_path) as spool:
        spool.add(4, batch(40, 10), b"<in1>1001</in1>...request 4")
        spool.add(7, batch(70, 3), None)  # a platform that does not prepare: the whole batch is kept
        spool.add(9, joined, None)
        assert os.listdir(tmp_path) == []  # anonymous: a killed task leaves nothing behind
        assert spool.batches == 3 and spool.size_bytes > 0

        back = list(spool)
        assert [b.batch_no for b in back] == [4, 7, 9]
        assert back[0].request == b"<in1>1001</in1>...request 4"
        assert list(back[0].recipients.recipient_ids) == list(batch(40, 10).recipient_ids)
        assert list(back[0].recipients.emails) == list(batch(40, 10).emails)
        assert back[1].request is None and back[1].recipients == batch(70, 3)
        assert back[2].recipients == joined
        assert list(spool) == back  # read again: the records stay


def test_an_empty_spool_yields_nothing(tmp_path):
    with BatchSpool(tmp_path) as spool:
        assert list(spool) == [] and spool.size_bytes == 0
