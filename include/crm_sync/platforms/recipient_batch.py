"""``RecipientBatch`` and ``AddResults``: one upload batch, and its answer, held as columns.

A refill moves millions of recipients through Python; making a frozen ``Recipient`` per row and
then taking it apart again into the platform's parallel arrays costs more CPU than the platform
call's own encoding. A ``RecipientBatch`` keeps the three columns the database returned and the
wire format needs (ids, addresses, attribute rows). It *is* a ``Sequence[Recipient]`` -- indexing
makes the ``Recipient`` on demand -- so every platform accepts it, and a platform that knows the
type (Optimizely) reads the columns directly. ``AddResults`` does the same for the answer: a
``Sequence[AddResult]`` over two columns (ids, outcomes), so recording a batch reads the outcomes
without an ``AddResult`` having been made per recipient (that alone cost about 1.3 ms per 1000).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import overload

from include.crm_sync.platforms.base import AddOutcome, AddResult, Recipient

#: separators of ``RecipientBatch.joined_attributes``: control characters that neither XML nor
#: (unescaped) JSON text can carry, so they never occur inside a value
MEMBER_SEP = "\x00"
ROW_SEP = "\x01"


class RecipientBatch(Sequence[Recipient]):
    """Parallel columns: ``recipient_ids[i]``, ``emails[i]`` and ``attribute_rows[i]`` are recipient i.

    The columns are taken as given (not copied); treat them as read-only. A reader that already
    holds every attribute value as one string -- values joined with ``MEMBER_SEP``, rows with
    ``ROW_SEP``, every row ``width`` values -- makes the batch with ``from_joined``: an encoder
    that understands it (``joined_attributes``) then skips splitting and joining again, and
    ``attribute_rows`` is only split out when someone asks for it.
    """

    __slots__ = ("recipient_ids", "emails", "_rows", "joined_attributes", "width")

    def __init__(
        self, recipient_ids: Sequence[str], emails: Sequence[str], attribute_rows: Sequence[Sequence[str]]
    ) -> None:
        if not len(recipient_ids) == len(emails) == len(attribute_rows):
            raise ValueError(
                f"columns differ in length: {len(recipient_ids)} ids, {len(emails)} addresses, "
                f"{len(attribute_rows)} attribute rows"
            )
        self.recipient_ids = recipient_ids
        self.emails = emails
        self._rows: Sequence[Sequence[str]] | None = attribute_rows
        self.joined_attributes: str | None = None
        self.width: int | None = None

    @classmethod
    def from_joined(
        cls, recipient_ids: Sequence[str], emails: Sequence[str], joined_attributes: str, width: int
    ) -> RecipientBatch:
        """From values already joined (see the class docstring); the caller guarantees the shape:
        ``len(recipient_ids)`` rows of ``width`` (>= 1) values, no separator inside a value."""
        if len(recipient_ids) != len(emails) or not recipient_ids or width < 1:
            raise ValueError("from_joined needs equally long, non-empty columns and width >= 1")
        batch = cls.__new__(cls)
        batch.recipient_ids, batch.emails, batch._rows = recipient_ids, emails, None
        batch.joined_attributes, batch.width = joined_attributes, width
        return batch

    @property
    def attribute_rows(self) -> Sequence[Sequence[str]]:
        if self._rows is None:
            assert self.joined_attributes is not None
            self._rows = [row.split(MEMBER_SEP) for row in self.joined_attributes.split(ROW_SEP)]
        return self._rows

    @classmethod
    def of(cls, recipients: Iterable[Recipient]) -> RecipientBatch:
        if isinstance(recipients, RecipientBatch):
            return recipients
        items = list(recipients)
        return cls([r.recipient_id for r in items], [r.email for r in items], [r.attributes for r in items])

    def __len__(self) -> int:
        return len(self.recipient_ids)

    @overload
    def __getitem__(self, index: int) -> Recipient: ...

    @overload
    def __getitem__(self, index: slice) -> RecipientBatch: ...

    def __getitem__(self, index: int | slice) -> Recipient | RecipientBatch:
        if isinstance(index, slice):
            return RecipientBatch(self.recipient_ids[index], self.emails[index], self.attribute_rows[index])
        return Recipient(self.recipient_ids[index], self.emails[index], tuple(self.attribute_rows[index]))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, (str, bytes)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable columns

    def __repr__(self) -> str:
        return f"RecipientBatch({len(self)} recipients)"


class AddResults(Sequence[AddResult]):
    """``outcomes[i]`` is what happened to ``recipient_ids[i]``; ``AddResult`` made on access."""

    __slots__ = ("recipient_ids", "outcomes")

    def __init__(self, recipient_ids: Sequence[str], outcomes: Sequence[AddOutcome]) -> None:
        if len(recipient_ids) != len(outcomes):
            raise ValueError(f"{len(outcomes)} outcomes for {len(recipient_ids)} recipients")
        self.recipient_ids = recipient_ids
        self.outcomes = outcomes

    def __len__(self) -> int:
        return len(self.outcomes)

    @overload
    def __getitem__(self, index: int) -> AddResult: ...

    @overload
    def __getitem__(self, index: slice) -> AddResults: ...

    def __getitem__(self, index: int | slice) -> AddResult | AddResults:
        if isinstance(index, slice):
            return AddResults(self.recipient_ids[index], self.outcomes[index])
        return AddResult(self.recipient_ids[index], self.outcomes[index])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, (str, bytes)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"AddResults({len(self)} results)"
