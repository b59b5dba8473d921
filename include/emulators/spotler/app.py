"""The REST API under ``/integrationservice-1.1.0``: routing, OAuth 1.0a, the product gate, call
counting and fault injection around the handlers (audiences.py, contacts.py, feeds.py).

Order for one request: route (unknown path 404, wrong method 405) -> count the call -> draw a
fault rule -> ``before`` injections -> OAuth signature (401) -> product gate on audience calls
(403) -> a body must be declared ``application/json`` (415) and be JSON (400) -> handler ->
``after`` injections -> reply.

Besides the kit's fault kinds there is ``contact_error`` for ``contact.list``: the call answers
200 with code ERROR for every contact and writes nothing (a backend hiccup per contact, which a
client must count as refused-for-now, not as done).

Call names (for faults and ``/_control/calls``): audience.create, audience.get, audience.update,
audience.delete, audience.contacts.add, audience.contacts.remove, audience.contacts.empty
(a DELETE without body), contact.list, contact.create, contact.get, contact.update,
contact.anonymize, contact.properties, contact.updates, contact.bounces.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.parse
from typing import Any

from include.emulators.kit.calls import CallCounter
from include.emulators.kit.clock import ControllableClock
from include.emulators.kit.faults import GENERIC_KINDS, FaultInjector, Injection, generic_reply
from include.emulators.kit.http import Reply, Request, json_reply
from include.emulators.spotler import audiences, contacts, feeds
from include.emulators.spotler import errors as e
from include.emulators.spotler.config import BASE_PATH, SpotlerConfig
from include.emulators.spotler.errors import ApiError
from include.emulators.spotler.oauth import OAuthVerifier
from include.emulators.spotler.state import SpotlerState

log = logging.getLogger(__name__)


# (method, path pattern relative to BASE_PATH, call name). First match wins: the fixed
# /contact/... paths come before /contact/{externalId}.
_ID = r"([^/]+)"
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (m, re.compile(f"^{p}$"), name)
    for m, p, name in [
        ("POST", "/audience", "audience.create"),
        ("GET", f"/audience/{_ID}", "audience.get"),
        ("PUT", f"/audience/{_ID}", "audience.update"),
        ("DELETE", f"/audience/{_ID}", "audience.delete"),
        ("POST", f"/audience/{_ID}/contact", "audience.contacts.add"),
        ("DELETE", f"/audience/{_ID}/contact", "audience.contacts.remove"),
        ("POST", "/contact/list", "contact.list"),
        ("GET", "/contact/properties/list", "contact.properties"),
        ("GET", "/contact/updates/list", "contact.updates"),
        ("GET", "/contact/bounces/list", "contact.bounces"),
        ("PUT", f"/contact/anonymize/{_ID}", "contact.anonymize"),
        ("POST", "/contact", "contact.create"),
        ("GET", f"/contact/{_ID}", "contact.get"),
        ("PUT", f"/contact/{_ID}", "contact.update"),
    ]
]
_FIXED = {"list", "properties", "updates", "bounces", "anonymize"}


class SpotlerApp:
    def __init__(self, config: SpotlerConfig, clock: ControllableClock | None = None) -> None:
        self.config = config
        self.clock = clock or ControllableClock()
        self.state = SpotlerState(self.clock, config.seed_path)
        self.faults = FaultInjector(
            kinds=(*GENERIC_KINDS, "contact_error"),
            operation_hint="a call name such as audience.contacts.add or audience.*",
        )
        self.calls = CallCounter()
        self.oauth = OAuthVerifier(config.consumer_key, config.consumer_secret, config.oauth_window_seconds)

    def reset(self) -> None:
        """Back to the seed: state, fault rules, call counters, the clock, remembered nonces."""
        self.clock.reset()
        self.faults.clear()
        self.calls.clear()
        self.oauth.nonces.clear()
        self.state.reset()

    # ------------------------------------------------------------------ dispatch
    def handle(self, request: Request) -> Reply:
        if not (request.path == BASE_PATH or request.path.startswith(BASE_PATH + "/")):
            return ApiError(404, e.RESOURCE_NOT_FOUND, f"No resource at {request.path}").reply()
        relative = request.path[len(BASE_PATH) :].rstrip("/") or "/"
        matched = self._match(request.method, relative)
        if isinstance(matched, Reply):
            return matched
        name, args = matched
        if name == "audience.contacts.remove" and not request.has_body:
            name = "audience.contacts.empty"
        self.calls.count(name)
        injection = self.faults.draw(name)
        if injection is not None and injection.when == "before":
            early = generic_reply(injection)
            if early is not None:
                return early
        try:
            reply = self._call(request, name, args, injection)
        except ApiError as error:
            reply = error.reply()
        except Exception:  # a bug in the emulator: answer like the platform's backend would
            log.exception("unhandled error in %s", name)
            reply = ApiError(500, e.BACKEND_EXCEPTION, "Internal error in the emulator").reply()
        if injection is not None and injection.when == "after":
            return generic_reply(injection) or reply
        return reply

    def _match(self, method: str, relative: str) -> tuple[str, list[str]] | Reply:
        allowed = False
        for route_method, pattern, name in ROUTES:
            match = pattern.match(relative)
            if match is None:
                continue
            args = [urllib.parse.unquote(g) for g in match.groups()]
            if name in ("contact.get", "contact.update") and args[0] in _FIXED:
                continue  # /contact/list etc. with the wrong method: not a contact id
            if route_method == method:
                return name, args
            allowed = True
        if allowed:
            return ApiError(405, e.INVALID_PARAMS, f"{method} is not allowed on {relative}").reply()
        return ApiError(404, e.RESOURCE_NOT_FOUND, f"No resource at {BASE_PATH}{relative}").reply()

    def _call(self, request: Request, name: str, args: list[str], injection: Injection | None) -> Reply:
        refused = self.oauth.verify(request)
        if refused is not None:
            raise ApiError(401, e.NOT_AUTHORIZED, refused)
        if name.startswith("audience.") and not self.config.automation_product:
            raise ApiError(403, e.PRODUCT_NOTFOUND, e.NO_PRODUCT)
        body = _json(request)
        if injection is not None and injection.kind == "contact_error" and name == "contact.list":
            return json_reply(200, contacts.error_results(body, injection.message))
        state, config = self.state, self.config
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(request.query).items()}
        if name == "audience.create":
            return json_reply(200, audiences.create(state, body, config.max_audiences))
        if name == "audience.get":
            return json_reply(200, audiences.get(state, args[0]))
        if name == "audience.update":
            return json_reply(200, audiences.update(state, args[0], body))
        if name == "audience.delete":
            audiences.delete(state, args[0])
            return Reply(204)
        if name == "audience.contacts.add":
            audiences.add_members(state, args[0], body, config.max_ids_per_call)
            return Reply(204)
        if name in ("audience.contacts.remove", "audience.contacts.empty"):
            audiences.remove_members(state, args[0], body, request.has_body, config.max_ids_per_call)
            return Reply(204)
        if name == "contact.list":
            return json_reply(200, contacts.upsert_list(state, body, config.max_contacts_per_upsert))
        if name == "contact.create":
            contacts.create_one(state, body)
            return Reply(204)
        if name == "contact.get":
            return json_reply(200, contacts.get_one(state, args[0]))
        if name == "contact.update":
            contacts.update_one(state, args[0], body)
            return Reply(204)
        if name == "contact.anonymize":
            contacts.anonymize(state, args[0])
            return Reply(204)
        if name == "contact.properties":
            return json_reply(200, contacts.property_definitions(state))
        if name == "contact.updates":
            return json_reply(200, feeds.updates(state, request.url, params, config.max_page_size))
        if name == "contact.bounces":
            return json_reply(200, feeds.bounces(state, request.url, params, config.max_page_size))
        raise ApiError(404, e.RESOURCE_NOT_FOUND, f"No resource for {name}")


def _json(request: Request) -> Any:
    if not request.body.strip():
        return None
    content_type = next((v for k, v in request.headers.items() if k.lower() == "content-type"), "")
    if "json" not in content_type.lower():
        raise ApiError(415, e.INVALID_PARAMS, f"Content-Type must be application/json, not {content_type!r}")
    try:
        return json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, e.INVALID_PARAMS, f"Request body is not JSON: {exc}") from None
