"""The webservice session: login on first use, one cached id, transparent re-login, logout.

A session id is valid 20 minutes from login on the platform. Rather than guessing the remaining
time, the manager reacts to the platform: when a call faults with
``InvalidWebserviceSessionException`` it logs in again and repeats that call once with the new id.
A fault of that kind is raised while the platform checks the session, before the operation runs,
so repeating the call cannot apply it twice. Additionally an id older than ``max_age_seconds``
(default 15 minutes, like the platform's own clients) is replaced before use, which avoids most
expiries of long refills without extra calls.

Thread-safe: batches are sent from several threads. Only one thread logs in at a time; a thread
whose call failed with an id that another thread has already replaced just uses the new id
instead of logging in once more.

The id and the password never appear in logs or error messages (they are registered with the
``Scrubber`` that cleans fault texts; the log shows at most ``mask_secret(id)``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from include.crm_sync.masking import mask_secret
from include.crm_sync.platforms.optimizely.errors import InvalidSessionError, Scrubber

log = logging.getLogger(__name__)

T = TypeVar("T")

LoginFn = Callable[[], str]
LogoutFn = Callable[[str], None]


class SessionManager:
    """Holds the session id; ``call(fn)`` runs ``fn(session_id)`` with re-login on expiry.

    :param login: performs the ``login`` call and returns a new session id (raises on failure)
    :param logout: performs the ``logout`` call for an id
    :param scrubber: receives every id so that it never shows up in error texts
    :param max_age_seconds: replace an id older than this before using it (``None``: never)
    :param clock: monotonic clock, injectable for tests
    """

    def __init__(
        self,
        login: LoginFn,
        logout: LogoutFn,
        *,
        scrubber: Scrubber,
        max_age_seconds: float | None = 15 * 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._login = login
        self._logout = logout
        self._scrubber = scrubber
        self._max_age = max_age_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._session_id: str | None = None
        self._obtained_at = 0.0
        self.logins = 0
        self.relogins = 0

    @property
    def active(self) -> bool:
        return self._session_id is not None

    def current(self) -> str:
        """The cached id, logging in first when there is none or it is too old."""
        with self._lock:
            if self._session_id is None or self._too_old():
                self._replace_locked(reason="first use" if self._session_id is None else "age limit")
            return self._session_id  # type: ignore[return-value]

    def _too_old(self) -> bool:
        return self._max_age is not None and self._clock() - self._obtained_at >= self._max_age

    def _replace_locked(self, *, reason: str) -> None:
        session_id = self._login()
        self._scrubber.add(session_id)
        self._session_id = session_id
        self._obtained_at = self._clock()
        self.logins += 1
        log.info("logged in to Optimizely Campaign (%s), session %s", reason, mask_secret(session_id))

    def renew(self, failed_id: str) -> str:
        """A new id after ``failed_id`` was refused; no second login if another thread already did it."""
        with self._lock:
            if self._session_id == failed_id or self._session_id is None:
                self._session_id = None
                self.relogins += 1
                self._replace_locked(reason="session expired")
            return self._session_id  # type: ignore[return-value]

    def call(self, fn: Callable[[str], T]) -> T:
        """``fn(session_id)``; on an invalid-session fault log in again and repeat ``fn`` once.

        A second invalid-session fault right after a fresh login is raised (as the transient
        ``InvalidSessionError``) for the retry policy to deal with.
        """
        session_id = self.current()
        try:
            return fn(session_id)
        except InvalidSessionError:
            log.info("session %s refused by the platform; logging in again", mask_secret(session_id))
            new_id = self.renew(session_id)
        return fn(new_id)

    def close(self) -> None:
        """Log out (best effort: a failed logout is logged, never raised)."""
        with self._lock:
            session_id, self._session_id = self._session_id, None
        if session_id is None:
            return
        try:
            self._logout(session_id)
            log.info("logged out of Optimizely Campaign, session %s", mask_secret(session_id))
        except Exception as exc:  # noqa: BLE001 - logout must not mask the real outcome of a run
            log.warning("logout of session %s failed: %s", mask_secret(session_id), exc)
