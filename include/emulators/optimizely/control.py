"""The control endpoint (``/_control/...``, JSON over HTTP) and ``ControlClient`` to drive it.

Tests, the demo and the benchmarks use it to reset the emulator, inspect its state, inject
faults, move the clock and create feedback. It answers loopback clients only, unless the server
was started with ``--allow-remote-control`` (server.py enforces that before calling in here).

Endpoints (bodies and answers are JSON):
  POST   /_control/reset                      back to the seed (also clears faults, sessions,
                                              call counters and the clock offset)
  GET    /_control/state                      summary: lists with counts, sessions, blocklist,
                                              unsubscribes, bounce counters, fault rules, calls
  GET    /_control/lists/<id>/recipients      recipients of a list (?offset=&limit=)
  GET    /_control/faults                     fault rules with their counters
  POST   /_control/faults                     add a rule (see faults.py); returns it
  DELETE /_control/faults                     remove all rules
  GET    /_control/clock                      the emulator clock
  POST   /_control/clock/advance              {"seconds": 1300}
  POST   /_control/clock/set                  {"now": "2026-11-25T23:12:01Z" | epoch, "frozen": true}
  POST   /_control/feedback                   one event, or {"events": [...]} (see README)
  GET    /_control/events                     feedback events (?kind=&offset=&limit=)
  GET    /_control/mailings                   mailings
  POST   /_control/mailings                   simulate a mailing (see mailings.py)
  GET    /_control/response-files             the SFTP area: files, job schedule (response_files.py)
  POST   /_control/response-files             run the response-data job now; returns its file
  GET    /_control/sftp                       the SFTP server: port, user, host key fingerprint
  GET    /_control/sftp/faults                SFTP fault rules with their counters
  POST   /_control/sftp/faults                add one (see sftp_faults.py); returns it
  DELETE /_control/sftp/faults                remove all SFTP fault rules
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

from include.emulators.optimizely import feedback as fb
from include.emulators.optimizely.mailings import MailingSpec, send_mailing
from include.emulators.optimizely.timestamps import iso_utc, parse_time, to_millis

if TYPE_CHECKING:
    from include.emulators.optimizely.app import Emulator

CONTROL_PREFIX = "/_control"
_LIST_RECIPIENTS = re.compile(r"^/lists/(\d+)/recipients$")


class ControlRequestError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ControlApi:
    """Routes one control request to the emulator; returns (status, JSON-able document)."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def handle(self, method: str, path: str, query: str, body: bytes) -> tuple[int, Any]:
        route = path[len(CONTROL_PREFIX) :].rstrip("/") or "/"
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(query).items()}
        try:
            document = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return 400, {"error": f"body is not JSON: {exc}"}
        try:
            return self._route(method, route, params, document)
        except ControlRequestError as exc:
            return exc.status, {"error": str(exc)}
        except (ValueError, TypeError, KeyError) as exc:
            return 400, {"error": str(exc)}

    def _route(self, method: str, route: str, params: dict[str, str], doc: Any) -> tuple[int, Any]:
        emulator = self.emulator
        if route == "/reset" and method == "POST":
            emulator.reset()
            return 200, {"reset": True}
        if route == "/state" and method == "GET":
            return 200, self.state()
        if route == "/faults":
            if method == "GET":
                return 200, {"rules": emulator.faults.rules()}
            if method == "POST":
                return 201, emulator.faults.add(_mapping(doc)).as_dict()
            if method == "DELETE":
                count = len(emulator.faults.rules())
                emulator.faults.clear()
                return 200, {"cleared": count}
        if route == "/clock" and method == "GET":
            return 200, self.clock()
        if route == "/clock/advance" and method == "POST":
            # The response-data job catches up lazily: bring it to the old time first, so the runs
            # in between happen (or are lost) as they would have on the platform.
            emulator.response_files.catch_up()
            emulator.clock.advance(float(_mapping(doc)["seconds"]))
            emulator.response_files.catch_up()
            return 200, self.clock()
        if route == "/clock/set" and method == "POST":
            doc = _mapping(doc)
            emulator.response_files.catch_up()
            emulator.clock.set(
                parse_time(doc["now"], emulator.clock.now()), frozen=bool(doc.get("frozen", False))
            )
            emulator.response_files.catch_up()
            return 200, self.clock()
        if route == "/feedback" and method == "POST":
            doc = _mapping(doc)
            items = doc.get("events", [doc])
            if not isinstance(items, list):
                raise ValueError("events must be a list")
            created = []
            with emulator.state.registry_lock:  # one batch is applied as a whole
                for item in items:
                    created.extend(emulator.state.record_feedback_document(_mapping(item)))
            return 201, {"created": len(created), "events": [_event_json(e) for e in created[:1000]]}
        if route == "/events" and method == "GET":
            return 200, self.events(params)
        if route == "/mailings":
            if method == "GET":
                with emulator.state.registry_lock:
                    return 200, {"mailings": [m.as_dict() for m in emulator.state.mailings.values()]}
            if method == "POST":
                spec = MailingSpec.from_document(_mapping(doc))
                if spec.list_id not in emulator.state.lists:
                    raise ControlRequestError(404, f"unknown list {spec.list_id}")
                return 201, send_mailing(emulator.state, spec)
        if route == "/response-files":
            if method == "GET":
                return 200, emulator.response_files.summary()
            if method == "POST":
                _mapping(doc)
                written = emulator.response_files.run_now()
                return 201, {"file": written.as_dict(), "files": len(emulator.response_files.files())}
        if route == "/sftp" and method == "GET":
            return 200, self.sftp()
        if route == "/sftp/faults":
            if method == "GET":
                return 200, {"rules": emulator.sftp_faults.rules()}
            if method == "POST":
                return 201, emulator.sftp_faults.add(_mapping(doc)).as_dict()
            if method == "DELETE":
                return 200, {"cleared": emulator.sftp_faults.clear()}
        match = _LIST_RECIPIENTS.match(route)
        if match and method == "GET":
            return 200, self.recipients(int(match.group(1)), params)
        raise ControlRequestError(
            404 if method in ("GET", "POST", "DELETE") else 405, f"no such endpoint: {method} {route}"
        )

    # ---------------------------------------------------------------- documents
    def clock(self) -> dict[str, Any]:
        clock = self.emulator.clock
        now = clock.now()
        return {
            "now": iso_utc(now),
            "epoch_ms": to_millis(now),
            "frozen": clock.frozen,
            "offset_seconds": clock.offset_seconds,
        }

    def state(self) -> dict[str, Any]:
        emulator = self.emulator
        config = emulator.config
        document = emulator.state.summary()
        document.update(
            {
                "config": {
                    "mandator_id": config.mandator_id,
                    "session_ttl_seconds": config.session_ttl_seconds,
                    "max_concurrent_per_session": config.max_concurrent_per_session,
                    "max_batch_size": config.max_batch_size,
                    "seed_path": str(config.seed_path),
                },
                "clock": self.clock(),
                "sessions": emulator.sessions.summary(),
                "fault_rules": emulator.faults.rules(),
                "calls": emulator.call_counts(),
            }
        )
        return document

    def sftp(self) -> dict[str, Any]:
        server = self.emulator.sftp
        if server is None:
            return {"running": False}
        from include.emulators.optimizely.host_key import fingerprint, public_key_line

        return {
            "running": server.running,
            **(server.summary() if server.running else {}),
            "host_key": public_key_line(server.host_key),
            "fingerprint": fingerprint(server.host_key),
            "directory": "/responses",
        }

    def recipients(self, list_id: int, params: dict[str, str]) -> dict[str, Any]:
        rlist = self.emulator.state.lists.get(list_id)
        if rlist is None:
            raise ControlRequestError(404, f"unknown list {list_id}")
        offset, limit = int(params.get("offset", 0)), params.get("limit")
        with rlist.lock:
            ids = list(rlist.recipients)
            page = ids[offset : offset + int(limit)] if limit is not None else ids[offset:]
            described = [rlist.describe(rid) for rid in page]
        return {"list_id": list_id, "name": rlist.name, "count": len(ids), "recipients": described}

    def events(self, params: dict[str, str]) -> dict[str, Any]:
        kind = params.get("kind")
        if kind is not None and kind not in fb.KINDS:
            raise ValueError(f"kind must be one of {', '.join(fb.KINDS)}")
        offset, limit = int(params.get("offset", 0)), int(params.get("limit", 10000))
        with self.emulator.state.registry_lock:
            events = [e for e in self.emulator.state.events if kind is None or e.kind == kind]
        return {"count": len(events), "events": [_event_json(e) for e in events[offset : offset + limit]]}


def _mapping(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise TypeError("expected a JSON object")
    return doc


def _event_json(event: fb.FeedbackEvent) -> dict[str, Any]:
    document = event.as_dict()
    document["occurred_at"] = iso_utc(event.occurred_at)
    document["exported_at"] = iso_utc(event.exported_at)
    document["exported_at_ms"] = to_millis(event.exported_at)
    return document


class ControlError(RuntimeError):
    """A control request the emulator refused (status and its error message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class ControlClient:
    """Drives a running emulator's control endpoint, e.g. ``ControlClient("http://127.0.0.1:8089")``."""

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

    # One method per endpoint.
    def reset(self) -> dict[str, Any]:
        return self._call("POST", "/reset", {})

    def state(self) -> dict[str, Any]:
        return self._call("GET", "/state")

    def recipients(self, list_id: int, offset: int = 0, limit: int | None = None) -> dict[str, Any]:
        return self._call(
            "GET", f"/lists/{int(list_id)}/recipients", query={"offset": offset, "limit": limit}
        )

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

    def add_feedback(self, kind: str, recipient_id: str = "", **fields: Any) -> dict[str, Any]:
        """One event: kind unsubscribe|bounce|open|click; fields email, list_id, mailing_id,
        category, occurred_at, exported_at, link_url (times ISO, epoch seconds or ``-2d``)."""
        return self._call("POST", "/feedback", {"kind": kind, "recipient_id": recipient_id, **fields})

    def add_feedback_events(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        return self._call("POST", "/feedback", {"events": events})

    def events(self, kind: str | None = None, offset: int = 0, limit: int | None = None) -> dict[str, Any]:
        return self._call("GET", "/events", query={"kind": kind, "offset": offset, "limit": limit})

    def mailings(self) -> list[dict[str, Any]]:
        return self._call("GET", "/mailings")["mailings"]

    def send_mailing(self, list_id: int, **options: Any) -> dict[str, Any]:
        """Options: name, bounce_rate, soft_bounce_rate, autoresponder_rate, unsubscribe_rate,
        open_rate, click_rate, seed, spread_seconds, export_delay_seconds, wave_id."""
        return self._call("POST", "/mailings", {"list_id": list_id, **options})

    def response_files(self) -> dict[str, Any]:
        """The SFTP area: ``files`` (name, path, created_at, size, events, window), schedule."""
        return self._call("GET", "/response-files")

    def run_response_job(self) -> dict[str, Any]:
        """Run the response-data job now; returns ``{"file": {...}, "files": n}``."""
        return self._call("POST", "/response-files", {})

    def sftp(self) -> dict[str, Any]:
        """The SFTP server: running, host, port, user, auth methods, host_key, fingerprint."""
        return self._call("GET", "/sftp")

    def sftp_faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "/sftp/faults")["rules"]

    def add_sftp_fault(self, kind: str, after_bytes: int, **options: Any) -> dict[str, Any]:
        """``add_sftp_fault("drop", 4096, path="responses_*.csv", nth=1, times=1)``; kinds drop, truncate."""
        return self._call("POST", "/sftp/faults", {"kind": kind, "after_bytes": after_bytes, **options})

    def clear_sftp_faults(self) -> dict[str, Any]:
        return self._call("DELETE", "/sftp/faults")
