"""Bounce counters per e-mail address and the bounce-overflow rule (addAll3 code 4).

The platform counts bounces per address; Response.getBounceCounter is asked by recipient id, so a
recipient-id -> address index is kept from every bounce recorded. An address is "over the bounce
threshold" with at least ``hard`` hard bounces or ``soft`` soft bounces (seed-configurable,
default 3 / 5). Callers hold the state's registry lock.
"""

from __future__ import annotations

from dataclasses import dataclass

HARD = "hardbounce"
SOFT = "softbounce"


@dataclass
class BounceCounter:
    hard: int = 0
    soft: int = 0
    last_bounce_at: float | None = None


@dataclass(frozen=True)
class BounceThresholds:
    hard: int = 3
    soft: int = 5


class BounceRegistry:
    def __init__(self, thresholds: BounceThresholds) -> None:
        self.thresholds = thresholds
        self._by_email: dict[str, BounceCounter] = {}
        self._email_by_id: dict[str, str] = {}

    def is_over(self, counter: BounceCounter | None) -> bool:
        return counter is not None and (
            counter.hard >= self.thresholds.hard or counter.soft >= self.thresholds.soft
        )

    def overflow(self, email: str) -> bool:
        return self.overflow_key(email.lower())

    def overflow_key(self, key: str) -> bool:
        counter = self._by_email.get(key)
        return counter is not None and self.is_over(counter)

    def record(self, recipient_id: str, email: str, category: str, at: float, count: int = 1) -> bool:
        """Count a hard or soft bounce; True if this bounce took the address over the threshold."""
        key = email.lower()
        counter = self._by_email.setdefault(key, BounceCounter())
        was_over = self.is_over(counter)
        if category == HARD:
            counter.hard += count
        elif category == SOFT:
            counter.soft += count
        else:
            return False
        if counter.last_bounce_at is None or at >= counter.last_bounce_at:
            counter.last_bounce_at = at
        if recipient_id:
            self._email_by_id[recipient_id] = key
        return not was_over and self.is_over(counter)

    def set_counter(self, recipient_id: str, email: str, counter: BounceCounter) -> None:
        self._by_email[email.lower()] = counter
        self.remember(recipient_id or email, email)

    def remember(self, recipient_id: str, email: str) -> None:
        if recipient_id and email:
            self._email_by_id[recipient_id] = email.lower()

    def counter_for_recipient(self, recipient_id: str) -> BounceCounter | None:
        return self._by_email.get(self._address_of(recipient_id))

    def reset_recipient(self, recipient_id: str) -> bool:
        return self._by_email.pop(self._address_of(recipient_id), None) is not None

    def counter_for_email(self, email: str) -> BounceCounter | None:
        return self._by_email.get(email.lower())

    def items(self) -> list[tuple[str, BounceCounter]]:
        return list(self._by_email.items())

    def _address_of(self, recipient_id: str) -> str:
        # Recipient ids are usually the address itself on this platform.
        return self._email_by_id.get(recipient_id) or recipient_id.lower()
