"""The control endpoint (``/_control/...``, JSON over HTTP) and ``ControlClient`` to drive it.

Tests, the demo and the benchmarks use it to reset the emulator, inspect its state, inject
faults, move the clock and create feedback. It answers loopback clients only, unless the server
was started with ``--allow-remote-control`` (the kit's server enforces that before calling in
here). The reset, state, faults, clock and calls endpoints are the shared kit's
(include/emulators/kit/control.py); the rest are this emulator's own.

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

import re
from typing import TYPE_CHECKING, Any

from include.emulators.kit.clock import clock_document
from include.emulators.kit.control import ControlClient as KitControlClient
from include.emulators.kit.control import ControlError, ControlRequestError, ControlRouter, mapping
from include.emulators.kit.http import CONTROL_PREFIX
from include.emulators.optimizely import feedback as fb
from include.emulators.optimizely.mailings import MailingSpec, send_mailing
from include.emulators.optimizely.timestamps import iso_utc, to_millis

if TYPE_CHECKING:
    from include.emulators.optimizely.app import Emulator

__all__ = ["CONTROL_PREFIX", "ControlApi", "ControlClient", "ControlError", "ControlRequestError"]

_LIST_RECIPIENTS = re.compile(r"^/lists/(\d+)/recipients$")


class ControlApi(ControlRouter):
    """Routes one control request to the emulator; returns (status, JSON-able document)."""

    def __init__(self, emulator: Emulator) -> None:
        super().__init__(emulator.faults, emulator.clock, emulator.calls)
        self.emulator = emulator

    def reset_all(self) -> None:
        self.emulator.reset()

    # The response-data job catches up lazily: bring it to the old time first, so the runs in
    # between happen (or are lost) as they would have on the platform.
    def before_clock_change(self) -> None:
        self.emulator.response_files.catch_up()

    def after_clock_change(self) -> None:
        self.emulator.response_files.catch_up()

    def route(self, method: str, route: str, params: dict[str, str], doc: Any) -> tuple[int, Any] | None:
        emulator = self.emulator
        if route == "/feedback" and method == "POST":
            doc = mapping(doc)
            items = doc.get("events", [doc])
            if not isinstance(items, list):
                raise ValueError("events must be a list")
            created = []
            with emulator.state.registry_lock:  # one batch is applied as a whole
                for item in items:
                    created.extend(emulator.state.record_feedback_document(mapping(item)))
            return 201, {"created": len(created), "events": [_event_json(e) for e in created[:1000]]}
        if route == "/events" and method == "GET":
            return 200, self.events(params)
        if route == "/mailings":
            if method == "GET":
                with emulator.state.registry_lock:
                    return 200, {"mailings": [m.as_dict() for m in emulator.state.mailings.values()]}
            if method == "POST":
                spec = MailingSpec.from_document(mapping(doc))
                if spec.list_id not in emulator.state.lists:
                    raise ControlRequestError(404, f"unknown list {spec.list_id}")
                return 201, send_mailing(emulator.state, spec)
        if route == "/response-files":
            if method == "GET":
                return 200, emulator.response_files.summary()
            if method == "POST":
                mapping(doc)
                written = emulator.response_files.run_now()
                return 201, {"file": written.as_dict(), "files": len(emulator.response_files.files())}
        if route == "/sftp" and method == "GET":
            return 200, self.sftp()
        if route == "/sftp/faults":
            if method == "GET":
                return 200, {"rules": emulator.sftp_faults.rules()}
            if method == "POST":
                return 201, emulator.sftp_faults.add(mapping(doc)).as_dict()
            if method == "DELETE":
                return 200, {"cleared": emulator.sftp_faults.clear()}
        match = _LIST_RECIPIENTS.match(route)
        if match and method == "GET":
            return 200, self.recipients(int(match.group(1)), params)
        return None

    # ---------------------------------------------------------------- documents
    def state(self, params: dict[str, str] | None = None) -> dict[str, Any]:
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
                "clock": clock_document(emulator.clock),
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


def _event_json(event: fb.FeedbackEvent) -> dict[str, Any]:
    document = event.as_dict()
    document["occurred_at"] = iso_utc(event.occurred_at)
    document["exported_at"] = iso_utc(event.exported_at)
    document["exported_at_ms"] = to_millis(event.exported_at)
    return document


class ControlClient(KitControlClient):
    """Drives a running emulator's control endpoint, e.g. ``ControlClient("http://127.0.0.1:8089")``:
    the kit's methods (reset, state, faults, add_fault, clear_faults, clock, advance_clock,
    set_clock, calls) plus one per endpoint of this emulator."""

    def recipients(self, list_id: int, offset: int = 0, limit: int | None = None) -> dict[str, Any]:
        return self._call(
            "GET", f"/lists/{int(list_id)}/recipients", query={"offset": offset, "limit": limit}
        )

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
