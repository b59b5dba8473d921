"""The response-file format, in one table: what the platform's response-data job writes.

Defined by the platform (for the emulator: ``include/emulators/optimizely/response_files.py`` and
its README); this module is the importer's reading of it, so the parser, the validation and the
documentation share one definition. A test checks the emulator's files against it.

* CSV, UTF-8 (no BOM), one header row naming ``COLUMN_NAMES`` (any order, each exactly once), one
  event per line; every line, the last one too, ends with a line feed (``\\n``; ``\\r\\n`` is
  accepted). A file whose last byte is not a line feed is *truncated* (still being written, or cut
  off) and refused as a whole, as is a file with a wrong header or bytes that are not UTF-8.
* A record that cannot be read (wrong number of fields, broken quoting) or has an invalid value is
  a *malformed row*: rejected with its (first) line number and reason, the rest of the file is loaded.
* Values never contain line breaks or other control characters, so one event is one line. Records
  are still read as RFC 4180 defines them: a quoted value holding a line break is one record (of
  several lines), rejected whole, never rows of its own (``parse.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from include.crm_sync.staging.tables import ID


@dataclass(frozen=True, slots=True)
class ResponseColumn:
    name: str
    max_length: int
    required: bool
    description: str


LINK_MAX = 2000

#: The columns of a response file, in the platform's order.
COLUMNS: tuple[ResponseColumn, ...] = (
    ResponseColumn(
        "recipient_id", ID.length, True, "recipient id in the list (what the CRM uploaded: its entity id)"
    ),
    ResponseColumn("entity_type", 16, False, "contact | lead | account, if the platform knows it"),
    ResponseColumn("entity_id", ID.length, False, "CRM entity id, if the platform knows it"),
    ResponseColumn("recipient_list_id", 64, False, "platform list the mailing went to"),
    ResponseColumn("mailing_id", 64, True, "platform mailing id"),
    ResponseColumn(
        "wave_id", ID.length, False, "closed loop: CRM campaign (wave) id the mailing was sent for"
    ),
    ResponseColumn(
        "event_type", 16, True, "open | click | hardbounce | softbounce | unsubscribe | autoresponder"
    ),
    ResponseColumn("occurred_at", 40, True, "event time, ISO 8601 with offset (Z or +hh:mm)"),
    ResponseColumn("link_url", LINK_MAX, False, "the clicked link (clicks)"),
)
COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)

ENCODING = "utf-8"

OPEN, CLICK = "open", "click"
HARDBOUNCE, SOFTBOUNCE = "hardbounce", "softbounce"
UNSUBSCRIBE = "unsubscribe"
AUTORESPONDER = "autoresponder"
EVENT_TYPES = frozenset({OPEN, CLICK, HARDBOUNCE, SOFTBOUNCE, UNSUBSCRIBE, AUTORESPONDER})
#: kept as CRM campaign responses when the mailing maps to a CRM campaign
CAMPAIGN_EVENT_TYPES = frozenset({OPEN, CLICK})
#: applied to the CRM entity through the feedback apply of step 2
BOUNCE_EVENT_TYPES = frozenset({HARDBOUNCE, SOFTBOUNCE})
ENTITY_TYPES = frozenset({"contact", "lead", "account"})

#: What became of an event (``response_event.status``).
APPLIED = "applied"
IGNORED_NO_CAMPAIGN = "ignored_no_campaign"
IGNORED_AUTORESPONDER = "ignored_autoresponder"
UNKNOWN_RECIPIENT = "unknown_recipient"
STATUSES = (APPLIED, IGNORED_NO_CAMPAIGN, IGNORED_AUTORESPONDER, UNKNOWN_RECIPIENT)
#: ``ignored`` reasons as the counts and reports name them
IGNORED_REASONS = {IGNORED_NO_CAMPAIGN: "no CRM campaign", IGNORED_AUTORESPONDER: "autoresponder"}
