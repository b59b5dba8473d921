"""What both applies keep of each loaded chunk besides its valid rows: rejections, holds, counters.

Per chunk (``add``): the rejected rows go to ``rejected_row`` with line, field and reason; those
that name a CRM person hold that person (the fail-safe, ``holds.hold_people``); kept rows found
only by one field while another was unusable are remembered; untrusted dates and neutralised
values are counted. After the set-based SQL (``hold_unknown``): of the remembered rows, those that
matched nobody hold the person their unusable value may name. ``warn`` logs what an operator must
look at.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa

from include.crm_sync.imports.apply_session import Rejected, insert_rejected
from include.crm_sync.imports.holds import HoldCandidate, hold_people

log = logging.getLogger(__name__)


class Chunk(Protocol):
    rejected: Sequence[Rejected]
    holds: list[HoldCandidate]
    untrusted_dates: Counter[str]
    neutralised: Counter[str]
    holds_unless_found: list[HoldCandidate]


@dataclass
class Rejections:
    """The rejections of one file's apply (``file_id``, received at ``now``)."""

    file_id: int
    now: datetime
    #: rejected rows by reason
    reasons: Counter[str] = field(default_factory=Counter)
    #: applied rows whose event time was replaced by the time of receipt, by reason
    untrusted: Counter[str] = field(default_factory=Counter)
    #: values not used to identify the person or stored as NULL, by column and reason
    neutralised: Counter[str] = field(default_factory=Counter)
    #: CRM entities held because a rejected row of this file names them
    held: set[str] = field(default_factory=set)
    unless_found: list[HoldCandidate] = field(default_factory=list)

    def add(self, conn: sa.Connection, chunk: Chunk) -> None:
        insert_rejected(conn, self.file_id, chunk.rejected)
        # the fail-safe: a rejected "no" holds its person
        self.held |= hold_people(conn, self.file_id, chunk.holds, self.now)
        self.unless_found.extend(chunk.holds_unless_found)
        self.reasons.update(r.reason for r in chunk.rejected)
        self.untrusted.update(chunk.untrusted_dates)
        self.neutralised.update(chunk.neutralised)

    def hold_unknown(self, conn: sa.Connection, unknown: int, unknown_lines: Callable[[], sa.Result]) -> None:
        """After ``unknown`` events matched nobody (``unknown_lines``: their lines): a kept row found
        nobody by its usable field, so its unusable one may still name someone."""
        if self.unless_found and unknown:
            lines = set(unknown_lines().scalars())
            found = [h for h in self.unless_found if h.line_no in lines]
            self.held |= hold_people(conn, self.file_id, found, self.now)

    def warn(self, name: str, what: str) -> None:
        """Log the holds and the untrusted dates of file ``name`` (``what``: "row", "line")."""
        if self.held:
            log.warning(
                "%s: %d CRM entit(y/ies) held out of every list: a rejected %s names them (resolve with "
                "python -m include.crm_sync.feedback.holds)",
                name,
                len(self.held),
                what,
            )
        if self.untrusted:
            log.warning(
                "%s: %d event(s) applied with the time of receipt, their date cannot be true: %s",
                name,
                sum(self.untrusted.values()),
                dict(self.untrusted),
            )
