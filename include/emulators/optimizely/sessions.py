"""Webservice sessions: random unguessable ids, fixed expiry after login, in-flight request limit.

A session expires ``ttl_seconds`` after login (the platform's 20 minutes), measured on the
injectable clock, and is not extended by use. At most ``max_concurrent`` requests may be in
flight on one session; the next one is refused with a fault, like the platform's per-client limit.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from include.emulators.optimizely import errors
from include.emulators.optimizely.clock import Clock


@dataclass
class Session:
    id: str
    mandator_id: int
    user: str
    created_at: float
    expires_at: float
    in_flight: int = 0
    calls: int = 0


class SessionStore:
    def __init__(self, clock: Clock, ttl_seconds: float, max_concurrent: int) -> None:
        self._clock = clock
        self.ttl_seconds = ttl_seconds
        self.max_concurrent = max_concurrent
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, mandator_id: int, user: str) -> Session:
        now = self._clock.now()
        # 32 random bytes, hex: the same order of entropy as the platform's ids, never guessable.
        session = Session(secrets.token_hex(32), mandator_id, user, now, now + self.ttl_seconds)
        with self._lock:
            self._purge_expired(now)
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session:
        """The live session for ``session_id``; fault if unknown or expired."""
        if not session_id:
            raise errors.invalid_session()
        now = self._clock.now()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                raise errors.invalid_session()
            if now >= session.expires_at:
                del self._sessions[session_id]
                raise errors.invalid_session()
            return session

    def invalidate(self, session_id: str | None) -> bool:
        with self._lock:
            return self._sessions.pop(session_id or "", None) is not None

    @contextmanager
    def in_flight(self, session: Session) -> Iterator[None]:
        """Hold one of the session's concurrent-request slots for the duration of a call."""
        with self._lock:
            if session.in_flight >= self.max_concurrent:
                raise errors.too_many_requests()
            session.in_flight += 1
            session.calls += 1
        try:
            yield
        finally:
            with self._lock:
                session.in_flight -= 1

    def clear(self) -> None:
        with self._lock:
            self._sessions.clear()

    def summary(self) -> list[dict[str, object]]:
        now = self._clock.now()
        with self._lock:
            return [
                {
                    # Only a short prefix: the control endpoint must not hand out usable ids.
                    "id_prefix": s.id[:6],
                    "user": s.user,
                    "mandator_id": s.mandator_id,
                    "expires_in_seconds": round(s.expires_at - now, 3),
                    "expired": now >= s.expires_at,
                    "in_flight": s.in_flight,
                    "calls": s.calls,
                }
                for s in self._sessions.values()
            ]

    def _purge_expired(self, now: float) -> None:
        for sid in [sid for sid, s in self._sessions.items() if now >= s.expires_at and not s.in_flight]:
            del self._sessions[sid]
