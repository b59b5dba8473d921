"""The control endpoint (``/_control/...``, JSON over HTTP) every emulator shares, and the
``ControlClient`` that drives it.

Tests, the demo and the benchmarks use it to reset an emulator, inspect its state, inject
faults and move its clock. It answers loopback clients only unless the server was started with
``allow_remote_control`` (kit/http.py enforces that before calling in here).

Endpoints every emulator has (bodies and answers are JSON):
  POST   /_control/reset           back to the seed (also clears faults, call counters, the clock)
  GET    /_control/state           the emulator's state (its own shape; see its README)
  GET    /_control/faults          fault rules with their counters
  POST   /_control/faults          add a rule (kit/faults.py); returns it
  DELETE /_control/faults          remove all rules
  GET    /_control/clock           the emulator clock
  POST   /_control/clock/advance   {"seconds": 1300}
  POST   /_control/clock/set       {"now": "2026-11-25T23:12:01Z" | epoch | "-2d", "frozen": true}
  GET    /_control/calls           requests received per call name
An emulator subclasses ``ControlRouter`` for its state, its reset and its own endpoints.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from include.emulators.kit.calls import CallCounter
from include.emulators.kit.clock import ControllableClock, clock_document, parse_time
from include.emulators.kit.faults import FaultInjector
from include.emulators.kit.http import CONTROL_PREFIX


class ControlRequestError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ControlRouter:
    """Routes one control request; returns (status, JSON-able document).

    Subclasses implement ``reset_all`` and ``state``, and may answer their own endpoints in
    ``route`` (return None for "not mine") and bring lazy work up to date around clock moves in
    ``before_clock_change`` / ``after_clock_change``.
    """

    def __init__(self, faults: FaultInjector, clock: ControllableClock, calls: CallCounter) -> None:
        self.faults = faults
        self.clock = clock
        self.calls = calls

    # ------------------------------------------------------------------ hooks
    def reset_all(self) -> None:
        raise NotImplementedError

    def state(self, params: dict[str, str]) -> dict[str, Any]:
        """The answer of ``GET /_control/state`` (``params``: its query parameters)."""
        raise NotImplementedError

    def route(self, method: str, route: str, params: dict[str, str], doc: Any) -> tuple[int, Any] | None:
        return None

    def before_clock_change(self) -> None:
        """Called before the clock moves (e.g. to run jobs due at the old time)."""

    def after_clock_change(self) -> None:
        """Called after the clock moved."""

    # ------------------------------------------------------------------ dispatch
    def handle(self, method: str, path: str, query: str, body: bytes) -> tuple[int, Any]:
        route = path[len(CONTROL_PREFIX) :].rstrip("/") or "/"
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(query).items()}
        try:
            document = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return 400, {"error": f"body is not JSON: {exc}"}
        try:
            answer = self._generic(method, route, params, document)
            if answer is None:
                answer = self.route(method, route, params, document)
            if answer is None:
                raise ControlRequestError(
                    404 if method in ("GET", "POST", "PUT", "DELETE") else 405,
                    f"no such endpoint: {method} {route}",
                )
            return answer
        except ControlRequestError as exc:
            return exc.status, {"error": str(exc)}
        except (ValueError, TypeError, KeyError) as exc:
            return 400, {"error": str(exc)}

    def _generic(self, method: str, route: str, params: dict[str, str], doc: Any) -> tuple[int, Any] | None:
        if route == "/reset" and method == "POST":
            self.reset_all()
            return 200, {"reset": True}
        if route == "/state" and method == "GET":
            return 200, self.state(params)
        if route == "/faults":
            if method == "GET":
                return 200, {"rules": self.faults.rules()}
            if method == "POST":
                return 201, self.faults.add(mapping(doc)).as_dict()
            if method == "DELETE":
                return 200, {"cleared": self.faults.clear()}
        if route == "/clock" and method == "GET":
            return 200, clock_document(self.clock)
        if route == "/clock/advance" and method == "POST":
            seconds = float(mapping(doc)["seconds"])
            self.before_clock_change()
            self.clock.advance(seconds)
            self.after_clock_change()
            return 200, clock_document(self.clock)
        if route == "/clock/set" and method == "POST":
            doc = mapping(doc)
            moment = parse_time(doc["now"], self.clock.now())
            self.before_clock_change()
            self.clock.set(moment, frozen=bool(doc.get("frozen", False)))
            self.after_clock_change()
            return 200, clock_document(self.clock)
        if route == "/calls" and method == "GET":
            return 200, {"calls": self.calls.snapshot()}
        return None


def mapping(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise TypeError("expected a JSON object")
    return doc


class ControlError(RuntimeError):
    """A control request the emulator refused (status and its error message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class ControlClient:
    """Drives a running emulator's control endpoint, e.g. ``ControlClient("http://127.0.0.1:8089")``.
    Emulators subclass it with one method per endpoint of their own."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        url = f"{self.base_url}{CONTROL_PREFIX}{path}"
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            raw = exc.read().decode("utf-8", "replace")
            try:
                message = json.loads(raw).get("error", raw)
            except (json.JSONDecodeError, AttributeError):
                message = raw
            raise ControlError(exc.code, message) from None

    def reset(self) -> dict[str, Any]:
        return self._call("POST", "/reset", {})

    def state(self) -> dict[str, Any]:
        return self._call("GET", "/state")

    def faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "/faults")["rules"]

    def add_fault(self, operation: str, kind: str, **options: Any) -> dict[str, Any]:
        """``add_fault("addAll3", "drop", nth=2, when="after")``; options: nth, rate, times,
        delay_seconds, when, seed, message."""
        return self._call("POST", "/faults", {"operation": operation, "kind": kind, **options})

    def clear_faults(self) -> dict[str, Any]:
        return self._call("DELETE", "/faults")

    def clock(self) -> dict[str, Any]:
        return self._call("GET", "/clock")

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        return self._call("POST", "/clock/advance", {"seconds": seconds})

    def set_clock(self, now: str | float, frozen: bool = False) -> dict[str, Any]:
        return self._call("POST", "/clock/set", {"now": now, "frozen": frozen})

    def calls(self) -> dict[str, int]:
        return self._call("GET", "/calls")["calls"]
