"""What the generator produces: its parameters, the row shapes it emits, reference data, summary.

Rows are plain tuples of ``str | None`` in the column order declared here (checked against
``staging.tables`` by a test). Every value is already in the text form both databases accept:
timestamps as ``YYYY-MM-DD HH:MM:SS.000000`` (UTC), booleans as ``'0'``/``'1'``, JSON as its
serialised text. Keeping the rows dialect-free is what makes one seed give the same bytes on
SQLite and PostgreSQL, and lets the writers pass them through without per-value conversion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction

Row = tuple[str | None, ...]

#: Reference time of every generated data set: timestamps lie before it. Fixed, never "now",
#: because the same seed must give the same data tomorrow.
DEFAULT_AS_OF = datetime(2025, 6, 1, tzinfo=UTC)

ENTITY_COLUMNS = (
    "entity_id",
    "entity_type",
    "email",
    "email_normalized",
    "first_name",
    "last_name",
    "company_name",
    "language",
    "city",
    "country",
    "attributes",
    "is_bounced",
    "bounced_at",
    "bounce_category",
    "created_at",
    "updated_at",
)
CONSENT_COLUMNS = ("entity_id", "consent_id", "status", "granted_at", "revoked_at", "source", "updated_at")
MEMBER_COLUMNS = ("list_key", "entity_id")
CONSENT_TYPE_COLUMNS = ("consent_id", "name", "is_marketing")
MARKETING_LIST_COLUMNS = ("list_key", "name", "description")

#: Marketing consents (a global unsubscribe revokes them all) and one service consent.
CONSENT_TYPES: tuple[Row, ...] = (
    ("events", "Event invitations", "1"),
    ("newsletter", "Monthly newsletter", "1"),
    ("product_updates", "Product updates", "1"),
    ("service", "Service messages (contract, security, billing)", "0"),
)

MARKETING_LISTS: tuple[Row, ...] = (
    ("de_prospects", "German-speaking prospects", "Leads whose language is de."),
    ("nl_customers", "Dutch-speaking customers", "Contacts with language nl flagged as customer."),
    ("vip_accounts", "VIP accounts", "Accounts of tier vip and the contacts working for them."),
    ("webinar_attendees", "Webinar attendees", "Leads from webinars and contacts who attended one."),
)

#: Tables the generator fills, parents first (the order rows must be written in).
GENERATED_TABLES = (
    "crm_consent_type",
    "crm_marketing_list",
    "crm_entity",
    "crm_consent",
    "crm_marketing_list_member",
)


def _count(contacts: int, ratio: float) -> int:
    # Fraction(str(...)) so that 0.2 means exactly 1/5: float rounding must not make the number
    # of leads depend on how the contacts happen to be split into blocks.
    return int(contacts * Fraction(str(ratio)))


@dataclass(frozen=True)
class GenerationSpec:
    """Everything that determines the generated rows; equal specs give byte-identical data."""

    contacts: int
    seed: int
    leads_ratio: float = 0.2
    accounts_ratio: float = 0.05
    as_of: datetime = DEFAULT_AS_OF

    def __post_init__(self) -> None:
        if self.contacts < 0:
            raise ValueError(f"contacts must be >= 0, got {self.contacts}")
        for name in ("leads_ratio", "accounts_ratio"):
            value = getattr(self, name)
            if not 0 <= value <= 10:
                raise ValueError(f"{name} must be between 0 and 10, got {value}")
        if self.as_of.tzinfo is None:
            raise ValueError("as_of must be timezone-aware")
        # Timestamps lie up to eight years before as_of; the text tables cover 1970..2099.
        if not datetime(1980, 1, 1, tzinfo=UTC) <= self.as_of < datetime(2099, 1, 1, tzinfo=UTC):
            raise ValueError(f"as_of must lie between 1980 and 2098, got {self.as_of.isoformat()}")

    def leads_before(self, contacts: int) -> int:
        """Leads generated alongside the first ``contacts`` contacts."""
        return _count(contacts, self.leads_ratio)

    def accounts_before(self, contacts: int) -> int:
        """Accounts generated alongside the first ``contacts`` contacts."""
        return _count(contacts, self.accounts_ratio)

    @property
    def leads(self) -> int:
        return self.leads_before(self.contacts)

    @property
    def accounts(self) -> int:
        return self.accounts_before(self.contacts)


@dataclass
class Block:
    """The rows of one generation block: entities plus their consents and list memberships."""

    entities: list[Row] = field(default_factory=list)
    consents: list[Row] = field(default_factory=list)
    members: list[Row] = field(default_factory=list)

    def extend(self, other: Block) -> None:
        self.entities.extend(other.entities)
        self.consents.extend(other.consents)
        self.members.extend(other.members)

    def __len__(self) -> int:
        return len(self.entities) + len(self.consents) + len(self.members)


@dataclass(frozen=True)
class GenerationSummary:
    """What one ``generate`` call did, for logs, tests and the benchmark."""

    url: str  # password masked
    dialect: str
    seed: int
    contacts: int
    leads: int
    accounts: int
    rows: dict[str, int]  # table name -> rows written
    chunk_size: int
    seconds: float

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        return self.total_rows / self.seconds if self.seconds > 0 else 0.0
