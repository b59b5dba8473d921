"""A rendezvous in the emulator that two list tasks can only pass by running at the same time.

``ListBarrier`` wraps the in-process emulator's SOAP dispatch. Every call of ``operation`` (by
default ``Recipient.clear``, which only a refill makes) waits inside the emulator until that
operation has been called for ``parties`` different platform lists. A refill therefore cannot
get past its clear until another list's refill has reached its own clear while the first one
is still waiting: with one worker slot the second never starts, the wait runs out and the barrier
records that it was broken. Speed does not matter, only whether the tasks overlap; the bound
(``timeout``) is there so a broken barrier ends the test instead of hanging it.

Calls carry on normally once released (or after the timeout), so the run itself completes either
way and its end state can still be checked. The waiting request must not time out on the client
side first (its retry would clear the list a second time, later): give the client a request
timeout above ``timeout``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from include.emulators.optimizely import soap
from include.emulators.optimizely.app import Emulator, Reply
from include.emulators.optimizely.services.base import Webservice


class ListBarrier:
    def __init__(self, operation: str = "Recipient.clear", parties: int = 2, timeout: float = 420) -> None:
        self.service_name, self.operation_name = operation.split(".")
        self.parties = parties
        self.timeout = timeout
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._settled = threading.Event()
        self.arrivals: list[int] = []  # platform list ids, in arrival order (repeats included)
        self.broken = False
        self._original: Callable[[Webservice, bytes], Reply] | None = None
        self._emulator: Emulator | None = None

    # ------------------------------------------------------------------ install / remove

    def install(self, emulator: Emulator) -> None:
        """Route ``emulator``'s SOAP calls through the barrier (an instance attribute, so only this
        emulator is affected; ``remove`` restores it)."""
        self._emulator, self._original = emulator, emulator.handle_soap
        emulator.handle_soap = self._handle_soap  # type: ignore[method-assign]

    def remove(self) -> None:
        if self._emulator is not None:
            del self._emulator.handle_soap  # back to the class's method
            self._emulator = None
        self._released.set()  # never leave a request hanging
        self._settled.set()

    # ------------------------------------------------------------------ outcome

    @property
    def lists(self) -> set[int]:
        with self._lock:
            return set(self.arrivals)

    @property
    def met(self) -> bool:
        """Whether ``parties`` different lists were waiting at the barrier at the same time."""
        return self._released.is_set() and not self.broken

    def wait_settled(self, timeout: float) -> bool:
        """Block until the barrier was met or broken (True), or ``timeout`` passed (False)."""
        return self._settled.wait(timeout)

    # ------------------------------------------------------------------ the wrapped dispatch

    def _list_id(self, service: Webservice, body: bytes) -> int | None:
        if service.name != self.service_name:
            return None
        try:
            request = soap.parse_request(body)
            operation = service.operations.get(request.operation)
            if operation is None or operation.name != self.operation_name:
                return None
            # (sessionId, recipientListId, ...): the list is the first argument after the session
            return int(soap.decode_params(request, operation.params)[1])
        except Exception:  # noqa: BLE001 - a malformed call is the emulator's to answer, not ours
            return None

    def _handle_soap(self, service: Webservice, body: bytes) -> Reply:
        assert self._original is not None
        list_id = self._list_id(service, body)
        if list_id is not None:
            self._arrive(list_id)
        return self._original(service, body)

    def _arrive(self, list_id: int) -> None:
        with self._lock:
            self.arrivals.append(list_id)
            if len(set(self.arrivals)) >= self.parties:
                self._released.set()
                self._settled.set()
        if not self._released.wait(self.timeout):
            with self._lock:
                if not self._released.is_set():
                    # Only one list ever came: the tasks did not run side by side. Let every call
                    # through from now on, so the run finishes and the test can report it.
                    self.broken = True
                    self._released.set()
                    self._settled.set()
