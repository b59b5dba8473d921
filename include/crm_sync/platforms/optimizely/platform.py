"""``OptimizelyCampaignPlatform``: the ``RecipientListPlatform`` protocol on Optimizely Campaign.

List and opt-in process ids are strings at the protocol level (the platform-neutral config) and
numbers on the wire; a non-numeric id is a ``ValueError`` naming it.

Feedback (ClosedLoop exports, windowed by the time the platform wrote its export files, so
callers must overlap windows and de-duplicate on load):

=================  =========================================================================
kind               rows
=================  =========================================================================
``BOUNCES``        ``getResponses`` rows with category ``hardbounce``/``softbounce`` (category
                   kept; ``autoresponder``/``unknown`` are not bounces and are skipped), plus
                   ``getOutBounces`` rows (recipients over the bounce threshold), category
                   ``overflow``
``UNSUBSCRIBES``   ``getMailingUnsubscribes`` (with mailing id) and ``getUnsubscribes`` (every
                   unsubscribe, no mailing id), category ``unsubscribe``; list id kept where given
=================  =========================================================================

The raw row is kept in ``FeedbackRow.raw``.

``getMailingUnsubscribes`` is a subset of ``getUnsubscribes`` (an unsubscribe that came from a
mailing appears in both, without the mailing id in the latter). So that one unsubscribe yields one
row, mailing unsubscribes are read first and a ``getUnsubscribes`` row with the same recipient id,
address, list and time is skipped; memory grows with the mailing unsubscribes of one window only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from include.crm_sync.platforms.base import AddResult, FeedbackKind, FeedbackRow, Recipient
from include.crm_sync.platforms.optimizely.client import (
    MAX_BATCH_SIZE,
    AddAllReport,
    BatchResult,
    OptimizelyCampaignClient,
)
from include.crm_sync.platforms.optimizely.closed_loop_columns import (
    TIME_COLUMN,
    parse_timestamp,
    row_as_dict,
)

log = logging.getLogger(__name__)

BOUNCE_CATEGORIES = frozenset({"hardbounce", "softbounce"})


@dataclass(frozen=True)
class FeedbackSource:
    """One ClosedLoop export feeding a feedback kind.

    ``category``: a fixed category, or ``None`` to take the row's ``category`` column;
    ``accept``: the categories kept when taken from the row (``None``: all).
    """

    method: str
    category: str | None
    accept: frozenset[str] | None = None
    #: skip rows already delivered (same recipient, address, list and time) by an earlier source
    skip_seen: bool = False


FEEDBACK_SOURCES: dict[FeedbackKind, tuple[FeedbackSource, ...]] = {
    FeedbackKind.BOUNCES: (
        FeedbackSource("getResponses", None, BOUNCE_CATEGORIES),
        FeedbackSource("getOutBounces", "overflow"),
    ),
    FeedbackKind.UNSUBSCRIBES: (
        FeedbackSource("getMailingUnsubscribes", "unsubscribe"),
        FeedbackSource("getUnsubscribes", "unsubscribe", skip_seen=True),
    ),
}


def _numeric_id(value: str | int, what: str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError(f"Optimizely {what} must be numeric, got {value!r}") from None
    if number < 0:
        raise ValueError(f"Optimizely {what} must not be negative, got {value!r}")
    return number


def _epoch_ms(moment: datetime, what: str) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got {moment!r}")
    return int(moment.timestamp() * 1000)


def feedback_row(kind: FeedbackKind, source: FeedbackSource, raw: Sequence[str | None]) -> FeedbackRow | None:
    """One export row as a ``FeedbackRow``; ``None`` when the source skips its category."""
    columns = row_as_dict(source.method, raw)
    category = source.category
    if category is None:
        category = (columns.get("category") or "").strip().lower()
        if source.accept is not None and category not in source.accept:
            return None
    time_column = TIME_COLUMN[source.method]
    return FeedbackRow(
        kind=kind,
        recipient_id=columns.get("recipient_id"),
        email=columns.get("email"),
        category=category,
        occurred_at=parse_timestamp(columns.get(time_column), method=source.method, column=time_column),
        list_id=columns.get("recipient_list_id"),
        mailing_id=columns.get("mailing_id"),
        raw=tuple("" if v is None else v for v in raw),
    )


class OptimizelyCampaignPlatform:
    """Optimizely Campaign behind the platform-neutral protocol.

    :param client: the client to use; closed by ``close()`` when ``owns_client`` is true
    """

    name = "optimizely"
    max_batch_size = MAX_BATCH_SIZE

    def __init__(self, client: OptimizelyCampaignClient, *, owns_client: bool = True) -> None:
        self.client = client
        self._owns_client = owns_client

    def __repr__(self) -> str:
        return f"OptimizelyCampaignPlatform({self.client!r})"

    # -- lists

    def count(self, list_id: str) -> int:
        return self.client.count(_numeric_id(list_id, "list id"))

    def clear(self, list_id: str) -> None:
        self.client.clear(_numeric_id(list_id, "list id"))

    def add_batch(
        self,
        list_id: str,
        optin_process_id: str,
        attribute_names: Sequence[str],
        recipients: Sequence[Recipient],
    ) -> Sequence[AddResult]:
        return self.client.add_batch(
            _numeric_id(list_id, "list id"),
            _numeric_id(optin_process_id, "opt-in process id"),
            attribute_names,
            recipients,
        )

    def prepare_batch(
        self,
        list_id: str,
        optin_process_id: str,
        attribute_names: Sequence[str],
        recipients: Sequence[Recipient],
    ) -> bytes:
        """``add_batch`` in two steps (``PreparedBatches``): the request made now, sent later."""
        return self.client.prepare_batch(
            _numeric_id(list_id, "list id"),
            _numeric_id(optin_process_id, "opt-in process id"),
            attribute_names,
            recipients,
        )

    def add_prepared(self, request: bytes, recipient_ids: Sequence[str]) -> Sequence[AddResult]:
        return self.client.add_prepared(request, recipient_ids)

    def add_all(
        self,
        list_id: str,
        optin_process_id: str,
        attribute_names: Sequence[str],
        recipients: Iterable[Recipient],
        *,
        on_batch: Callable[[BatchResult], None] | None = None,
    ) -> AddAllReport:
        """Concurrent, batched upload (see ``OptimizelyCampaignClient.add_all``)."""
        return self.client.add_all(
            _numeric_id(list_id, "list id"),
            _numeric_id(optin_process_id, "opt-in process id"),
            attribute_names,
            recipients,
            on_batch=on_batch,
        )

    # -- feedback

    def fetch_feedback(self, kind: FeedbackKind, since: datetime, until: datetime) -> Iterator[FeedbackRow]:
        kind = FeedbackKind(kind)
        since_ms, until_ms = _epoch_ms(since, "since"), _epoch_ms(until, "until")
        if until_ms < since_ms:
            raise ValueError(f"until ({until.isoformat()}) is before since ({since.isoformat()})")
        seen: set[tuple] = set()
        sources = FEEDBACK_SOURCES[kind]
        for position, source in enumerate(sources):
            remember = any(later.skip_seen for later in sources[position + 1 :])
            rows = skipped = duplicates = 0
            for raw in self.client.closed_loop_rows(source.method, since_ms, until_ms):
                row = feedback_row(kind, source, raw)
                if row is None:
                    skipped += 1
                    continue
                key = (row.recipient_id, row.email, row.list_id, row.occurred_at)
                if source.skip_seen and key in seen:
                    duplicates += 1
                    continue
                if remember:
                    seen.add(key)
                rows += 1
                yield row
            log.info(
                "ClosedLoop.%s: %d %s rows (%d of other categories, %d already delivered, skipped)",
                source.method,
                rows,
                kind.value,
                skipped,
                duplicates,
            )

    def current_time(self) -> datetime:
        return datetime.fromtimestamp(self.client.current_time_ms() / 1000, tz=UTC)

    def close(self) -> None:
        if self._owns_client:
            self.client.close()
        else:
            self.client.logout()

    def __enter__(self) -> OptimizelyCampaignPlatform:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
