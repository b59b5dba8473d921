"""The refill's batches, read and prepared before the list is cleared, kept in a temporary file.

While a platform list is empty (``clear`` .. last ``addAll3``) the client and the platform share
the machine's CPU (on a small worker, the same two cores as the emulator in the bench): every
millisecond the client spends reading snapshot pages and encoding SOAP bodies then is one the
platform lacks. The snapshot is frozen, so all of that can happen before ``clear``: each batch is
read once, handed to the platform's ``prepare_batch`` (``PreparedBatches``; a platform without it
gets its recipients back and encodes at send time) and written here. During the window the
senders only read a record back (one ``pread`` and an unpickle, ~0.1 ms per 1000 recipients).

On disk, not in memory: a 3M-recipient list is about 1 GB of requests, and the refill's memory
must stay flat at any list size. Only an index (three ints per batch) stays in memory. The file
is anonymous (``TemporaryFile``: unlinked at once), so a killed task leaves nothing behind; it
lives in ``directory`` (default: the system's temporary directory, ``TMPDIR``).

Records are pickles: written and read by the same process, never by anyone else.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from include.crm_sync.platforms.recipient_batch import RecipientBatch


@dataclass(frozen=True, slots=True)
class SpooledBatch:
    """One batch as the senders get it back.

    With a prepared ``request`` the recipients carry ids and addresses only (what recording the
    answer needs: the codes by id, the refused ones' addresses); their attribute values are
    inside the request. Without one they are the whole batch, for ``add_batch``.
    """

    batch_no: int
    recipients: RecipientBatch
    request: bytes | None


class BatchSpool:
    """Append-only file of ``SpooledBatch`` records, read back in the order written."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self._file = tempfile.TemporaryFile(prefix="crm-sync-refill-", dir=directory)
        self._index: list[tuple[int, int, int]] = []  # (batch_no, offset, length)
        self._size = 0

    def add(self, batch_no: int, recipients: RecipientBatch, request: bytes | None) -> None:
        if request is None:
            rows: Sequence[Sequence[str]] | None = [tuple(row) for row in recipients.attribute_rows]
        else:
            rows = None
        record = pickle.dumps(
            (list(recipients.recipient_ids), list(recipients.emails), rows, request), protocol=5
        )
        self._file.write(record)
        self._index.append((batch_no, self._size, len(record)))
        self._size += len(record)

    @property
    def batches(self) -> int:
        return len(self._index)

    @property
    def size_bytes(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[SpooledBatch]:
        """The batches in the order they were added (reads the file; does not move its position)."""
        self._file.flush()
        fd = self._file.fileno()
        for batch_no, offset, length in self._index:
            ids, emails, rows, request = pickle.loads(os.pread(fd, length, offset))
            if rows is None:
                rows = [()] * len(ids)  # see SpooledBatch: the values are inside the request
            yield SpooledBatch(batch_no, RecipientBatch(ids, emails, rows), request)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> BatchSpool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
