"""The Flexmail REST API (HAL JSON): routing, Basic auth, the per-account rate limit, call counting
and fault injection around the handlers.

Order for one request: route (404 / 405) -> count the call -> draw a fault -> ``before``
injections -> Basic auth (401 without or with malformed credentials, 403 with wrong ones) -> rate
limit (429 + Retry-After, emulated seconds) -> imports advanced to now -> handler under the state
lock -> ``after`` injections -> reply.

Call names (for faults and ``/_control/calls``): contacts.list, contacts.create, contacts.get,
contacts.update, contacts.unsubscribe, labels.list, label_subscriptions.list,
label_subscriptions.create, contact_labels.delete, imports.create, imports.records,
imports.update, imports.get.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import re
import urllib.parse
from typing import Any

from include.emulators.flexmail.config import FlexmailConfig
from include.emulators.flexmail.ratelimit import SlidingWindowLimit, retry_after_header
from include.emulators.flexmail.state import Contact, FlexmailState, Import
from include.emulators.kit.calls import CallCounter
from include.emulators.kit.clock import ControllableClock
from include.emulators.kit.faults import GENERIC_KINDS, FaultInjector, generic_reply
from include.emulators.kit.http import Reply, Request, json_reply

log = logging.getLogger(__name__)

_N = r"(\d+)"
_S = r"([^/]+)"
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (m, re.compile(f"^{p}$"), name)
    for m, p, name in [
        ("GET", "/contacts", "contacts.list"),
        ("POST", "/contacts", "contacts.create"),
        ("POST", "/contacts/imports", "imports.create"),
        ("GET", f"/contacts/imports/{_S}", "imports.get"),
        ("PATCH", f"/contacts/imports/{_S}", "imports.update"),
        ("POST", f"/contacts/imports/{_S}/records", "imports.records"),
        ("GET", f"/contacts/{_N}", "contacts.get"),
        ("PATCH", f"/contacts/{_N}", "contacts.update"),
        ("POST", f"/contacts/{_N}/unsubscribe", "contacts.unsubscribe"),
        ("DELETE", f"/contacts/{_N}/interest-labels/{_N}", "contact_labels.delete"),
        ("GET", "/interest-labels", "labels.list"),
        ("GET", "/contact-interest-label-subscriptions", "label_subscriptions.list"),
        ("POST", "/contact-interest-label-subscriptions", "label_subscriptions.create"),
    ]
]


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers

    def reply(self) -> Reply:
        return json_reply(self.status, {"code": self.status, "message": self.message}, self.headers)


class FlexmailApp:
    def __init__(self, config: FlexmailConfig, clock: ControllableClock | None = None) -> None:
        self.config = config
        self.clock = clock or ControllableClock()
        self.state = FlexmailState(self.clock, config)
        self.faults = FaultInjector(
            kinds=GENERIC_KINDS, operation_hint="a call name such as contact_labels.delete or imports.*"
        )
        self.calls = CallCounter()
        self.limit = SlidingWindowLimit(config.requests_per_minute)

    def reset(self) -> None:
        self.clock.reset()
        self.faults.clear()
        self.calls.clear()
        self.limit.reset()
        self.state.reset()

    # ------------------------------------------------------------------ dispatch
    def handle(self, request: Request) -> Reply:
        path = request.path.rstrip("/") or "/"
        matched = self._match(request.method, path)
        if isinstance(matched, Reply):
            return matched
        name, args = matched
        self.calls.count(name)
        injection = self.faults.draw(name)
        if injection is not None and injection.when == "before":
            early = generic_reply(injection)
            if early is not None:
                return early
        try:
            self._authenticate(request)
            wait = self.limit.admit(self.clock.now())
            if wait is not None:
                self.calls.count("rate_limited")
                raise ApiError(
                    429, "Too many requests for this account", (("Retry-After", retry_after_header(wait)),)
                )
            self.state.advance_imports()
            with self.state.lock:
                reply = self._call(request, name, args)
        except ApiError as error:
            reply = error.reply()
        except Exception:
            log.exception("unhandled error in %s", name)
            reply = ApiError(500, "Internal error in the emulator").reply()
        if injection is not None and injection.when == "after":
            return generic_reply(injection) or reply
        return reply

    def _match(self, method: str, path: str) -> tuple[str, list[str]] | Reply:
        allowed = False
        for route_method, pattern, name in ROUTES:
            match = pattern.match(path)
            if match is None:
                continue
            if route_method == method:
                return name, [urllib.parse.unquote(g) for g in match.groups()]
            allowed = True
        if allowed:
            return ApiError(405, f"{method} is not allowed on {path}").reply()
        return ApiError(404, f"No resource at {path}").reply()

    def _authenticate(self, request: Request) -> None:
        header = next((v for k, v in request.headers.items() if k.lower() == "authorization"), "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            raise ApiError(401, "Authentication required (Basic: account id and personal access token)")
        try:
            user, sep, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(401, "Malformed Basic credentials") from None
        if not sep:
            raise ApiError(401, "Malformed Basic credentials")
        good_user = hmac.compare_digest(user.encode(), self.config.account_id.encode())
        good_token = hmac.compare_digest(password.encode(), self.config.token.encode())
        if not (good_user and good_token):
            raise ApiError(403, "Invalid account id or personal access token")

    # ------------------------------------------------------------------ handlers
    def _call(self, request: Request, name: str, args: list[str]) -> Reply:
        state = self.state
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(request.query).items()}
        body = _json(request) if request.method in ("POST", "PATCH") else None
        if name == "labels.list":
            items = [{"id": i, "name": n} for i, n in sorted(state.labels.items())]
            return json_reply(200, self._page("/interest-labels", items, params))
        if name == "contacts.list":
            contacts = list(state.contacts.values())
            if "email" in params:
                found = state.find(params["email"])
                contacts = [found] if found else []
            if "status" in params:
                wanted = params["status"] == "unsubscribed"
                contacts = [c for c in contacts if c.blacklisted == wanted]
            contacts.sort(key=lambda c: c.id)
            return json_reply(200, self._page("/contacts", [c.as_json() for c in contacts], params))
        if name == "contacts.create":
            body = _object(body)
            email = str(body.get("email") or "").strip()
            if "@" not in email:
                raise ApiError(422, "email: a valid address is required")
            if body.get("source") in (None, ""):
                raise ApiError(422, "source: required")
            if state.find(email) is not None:
                raise ApiError(409, "A contact with this email address already exists")
            contact = state.create_contact(email, body)
            contact.sources.add(int(body["source"]))
            return json_reply(201, contact.as_json(), (("Location", f"/contacts/{contact.id}"),))
        if name == "contacts.get":
            return json_reply(200, self._contact(args[0]).as_json())
        if name == "contacts.update":
            contact = self._contact(args[0])
            state.apply_fields(contact, _object(body))
            return Reply(204)
        if name == "contacts.unsubscribe":
            self._contact(args[0]).blacklisted = True
            return Reply(204)
        if name == "contact_labels.delete":
            contact, label_id = self._contact(args[0]), int(args[1])
            if label_id not in state.labels:
                raise ApiError(404, f"Interest label {label_id} not found")
            if label_id not in contact.labels:
                raise ApiError(404, f"Contact {contact.id} does not carry interest label {label_id}")
            contact.labels.discard(label_id)
            return Reply(204)
        if name == "label_subscriptions.list":
            label = params.get("interest_label_id")
            items = [
                {"contact_id": c.id, "interest_label_id": lid}
                for c in sorted(state.contacts.values(), key=lambda c: c.id)
                for lid in sorted(c.labels)
                if label is None or str(lid) == label
            ]
            return json_reply(200, self._page("/contact-interest-label-subscriptions", items, params))
        if name == "label_subscriptions.create":
            body = _object(body)
            contact = self._contact(str(body.get("contact_id")))
            label_id = _int(body.get("interest_label_id"), "interest_label_id")
            if label_id not in state.labels:
                raise ApiError(404, f"Interest label {label_id} not found")
            if label_id in contact.labels:
                raise ApiError(409, "The contact already carries this interest label")
            contact.labels.add(label_id)
            return json_reply(201, {"contact_id": contact.id, "interest_label_id": label_id})
        if name == "imports.create":
            body = _object(body)
            import_id = str(body.get("id") or "").strip()
            if not import_id:
                raise ApiError(422, "id: required (the import id is chosen by the client)")
            if import_id in state.imports:
                raise ApiError(409, f"Import {import_id} already exists")
            job = Import(
                import_id, bool(body.get("resubscribe_blacklisted_contacts", False)), self.clock.now()
            )
            state.imports[import_id] = job
            return json_reply(201, job.as_json(), (("Location", f"/contacts/imports/{import_id}"),))
        if name == "imports.get":
            return json_reply(200, self._import(args[0]).as_json())
        if name == "imports.records":
            job = self._import(args[0])
            if job.status != "created":
                raise ApiError(409, f"Import {job.id} is {job.status}: records can no longer be added")
            if not isinstance(body, list) or not body:
                raise ApiError(422, "the body must be a non-empty list of records")
            if len(body) > self.config.max_import_records:
                raise ApiError(422, f"at most {self.config.max_import_records} records per request")
            for record in body:
                record = _object(record)
                email = str(record.get("email") or "").strip()
                if "@" not in email:
                    raise ApiError(422, "every record needs a valid email")
                job.records[email.lower()] = record
            return Reply(204)
        if name == "imports.update":
            job = self._import(args[0])
            if _object(body).get("status") != "queued":
                raise ApiError(422, "status: only 'queued' may be set")
            if job.status == "created":
                job.status, job.queued_at = "queued", self.clock.now()
            return json_reply(200, job.as_json())
        raise ApiError(404, f"No resource for {name}")

    def _page(self, href: str, items: list[dict[str, Any]], params: dict[str, str]) -> dict[str, Any]:
        limit = _int(params.get("limit", "25"), "limit")
        offset = _int(params.get("offset", "0"), "offset")
        if not 1 <= limit <= self.config.max_page_size:
            raise ApiError(400, f"limit must be between 1 and {self.config.max_page_size}")
        if offset < 0:
            raise ApiError(400, "offset must be >= 0")
        page = items[offset : offset + limit]
        document: dict[str, Any] = {
            "_links": {"self": {"href": f"{href}?limit={limit}&offset={offset}"}},
            "total": len(items),
            "limit": limit,
            "offset": offset,
        }
        if page:  # HAL: _embedded is absent when the collection (page) is empty
            document["_embedded"] = {"item": page}
        return document

    def _contact(self, raw: str) -> Contact:
        contact = self.state.contacts.get(_int(raw, "contact id"))
        if contact is None:
            raise ApiError(404, f"Contact {raw} not found")
        return contact

    def _import(self, raw: str) -> Import:
        job = self.state.imports.get(raw)
        if job is None:
            raise ApiError(404, f"Import {raw} not found")
        return job


def _int(value: Any, what: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise ApiError(400, f"{what} must be a number") from None


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(422, "the body must be a JSON object")
    return body


def _json(request: Request) -> Any:
    if not request.body.strip():
        return None
    try:
        return json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"Request body is not JSON: {exc}") from None
