"""The mandator's unsubscribe list: one per client, so an entry stops every mailing of the client.

An entry is keyed by recipient id and also indexed by lower-cased address, because addAll3 refuses
a recipient (code 2) whose id *or* address is unsubscribed. The list id the unsubscribe arrived
with is kept only for the exports (getUnsubscribes reports it). Callers hold the state's registry
lock.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class UnsubscribeEntry:
    recipient_id: str
    email: str
    list_id: int | None
    mailing_id: int | None
    unsubscribed_at: float


class UnsubscribeRegistry:
    def __init__(self) -> None:
        self._by_id: dict[str, UnsubscribeEntry] = {}
        self._ids_by_email: dict[str, set[str]] = {}

    def add(self, entry: UnsubscribeEntry) -> None:
        self.remove(entry.recipient_id)
        self._by_id[entry.recipient_id] = entry
        if entry.email:
            self._ids_by_email.setdefault(entry.email.lower(), set()).add(entry.recipient_id)

    def remove(self, recipient_id: str) -> bool:
        entry = self._by_id.pop(recipient_id, None)
        if entry is None:
            return False
        if entry.email:
            ids = self._ids_by_email.get(entry.email.lower())
            if ids is not None:
                ids.discard(recipient_id)
                if not ids:
                    del self._ids_by_email[entry.email.lower()]
        return True

    def lift(self, recipient_id: str, email: str) -> None:
        """Remove every entry for this id and for this address (a double opt-in re-subscribe)."""
        self.remove(recipient_id)
        for other in list(self._ids_by_email.get(email.lower(), ())):
            self.remove(other)

    def contains_id(self, recipient_id: str) -> bool:
        return recipient_id in self._by_id

    def is_unsubscribed(self, recipient_id: str, email: str) -> bool:
        return self.is_unsubscribed_key(recipient_id, email.lower())

    def is_unsubscribed_key(self, recipient_id: str, email_key: str) -> bool:
        return recipient_id in self._by_id or email_key in self._ids_by_email

    def __len__(self) -> int:
        return len(self._by_id)

    def entries(self) -> list[UnsubscribeEntry]:
        return list(self._by_id.values())
