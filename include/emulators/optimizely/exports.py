"""ClosedLoop export rows: which events each export method returns, and in which column order.

The platform does not document its column order, so clients map columns by position: this table
is the emulator's contract. It is rendered into the WSDL (wsdl:documentation) and the README.
Every value is a string; times are ISO-8601 UTC (``2026-11-25T23:12:01Z``); an unknown list or
mailing id is the empty string.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from include.emulators.optimizely import feedback as fb
from include.emulators.optimizely.timestamps import iso_utc


def _opt(value: object) -> str:
    return "" if value is None else str(value)


_COLUMN_VALUES: dict[str, Callable[[fb.FeedbackEvent], str]] = {
    "recipient_id": lambda e: e.recipient_id,
    "email": lambda e: e.email,
    "mailing_id": lambda e: _opt(e.mailing_id),
    "recipient_list_id": lambda e: _opt(e.list_id),
    "category": lambda e: e.category or "unknown",
    "hard_bounce_count": lambda e: _opt(e.hard_bounce_count),
    "soft_bounce_count": lambda e: _opt(e.soft_bounce_count),
    "unsubscribed_at": lambda e: iso_utc(e.occurred_at),
    "occurred_at": lambda e: iso_utc(e.occurred_at),
    "last_bounce_at": lambda e: iso_utc(e.occurred_at),
    "link_url": lambda e: e.link_url or "",
}


@dataclass(frozen=True)
class ExportSpec:
    method: str
    kind: str
    columns: tuple[str, ...]
    description: str
    mailing_only: bool = False

    def row(self, event: fb.FeedbackEvent) -> list[str]:
        return [_COLUMN_VALUES[column](event) for column in self.columns]


EXPORTS: tuple[ExportSpec, ...] = (
    ExportSpec(
        "getUnsubscribes",
        fb.UNSUBSCRIBE,
        ("recipient_id", "email", "recipient_list_id", "unsubscribed_at"),
        "Every unsubscribe (with or without a mailing).",
    ),
    ExportSpec(
        "getMailingUnsubscribes",
        fb.UNSUBSCRIBE,
        ("recipient_id", "email", "mailing_id", "recipient_list_id", "unsubscribed_at"),
        "Unsubscribes that came from a mailing (a subset of getUnsubscribes).",
        mailing_only=True,
    ),
    ExportSpec(
        "getOutBounces",
        fb.OUTBOUNCE,
        (
            "recipient_id",
            "email",
            "recipient_list_id",
            "hard_bounce_count",
            "soft_bounce_count",
            "last_bounce_at",
        ),
        "Recipients that went over the bounce threshold, one row per crossing, with the counters then.",
    ),
    ExportSpec(
        "getResponses",
        fb.RESPONSE,
        ("recipient_id", "email", "mailing_id", "recipient_list_id", "category", "occurred_at"),
        "Bounces and other responses; category is hardbounce, softbounce, autoresponder or unknown.",
    ),
    ExportSpec(
        "getOpens",
        fb.OPEN,
        ("recipient_id", "email", "mailing_id", "recipient_list_id", "occurred_at"),
        "Opens of mailings.",
    ),
    ExportSpec(
        "getClicks",
        fb.CLICK,
        ("recipient_id", "email", "mailing_id", "recipient_list_id", "occurred_at", "link_url"),
        "Link clicks of mailings.",
    ),
)
EXPORTS_BY_METHOD: dict[str, ExportSpec] = {spec.method: spec for spec in EXPORTS}
