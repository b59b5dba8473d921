"""The API under ``/v3/REST`` and ``/v3/DATA``: routing, Basic auth, the per-key rate limit, call
counting and fault injection around the handlers (resources.py).

Order for one request: route (unknown path 404, wrong method 405) -> count the call (and each
membership action it carries, as ``action.<name>``) -> draw a fault -> ``before`` injections ->
Basic auth (401) -> rate limit (429) -> settle due jobs -> handler -> ``after`` injections -> reply.

Fault kinds besides the kit's: ``http429`` (429 with ``Retry-After: 1``), ``job_error`` (the job this
call creates ends in ``Error`` and applies nothing), ``job_hang`` (it never leaves ``Importing``).

Call names: contactslist.list, contactslist.create, contactslist.get, contactslist.update,
contactslist.delete, contactslist.managemanycontacts, contactslist.managemanycontacts.get,
contactslist.managecontact, contact.list, contact.create, contact.get, contact.update,
contact.getcontactslists, contact.managemanycontacts, contact.managemanycontacts.get,
listrecipient.list, listrecipient.get, contactmetadata.list, contactmetadata.create, csvimport.create,
csvimport.get, data.csvdata, data.csverror.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
import urllib.parse
from typing import Any

from include.emulators.kit.calls import CallCounter
from include.emulators.kit.clock import ControllableClock
from include.emulators.kit.faults import GENERIC_KINDS, FaultInjector, Injection, generic_reply
from include.emulators.kit.http import Reply, Request, json_reply
from include.emulators.mailjet import resources as r
from include.emulators.mailjet.config import DATA_PATH, REST_PATH, MailjetConfig
from include.emulators.mailjet.errors import ApiError
from include.emulators.mailjet.state import EMAIL_RE, MailjetState

log = logging.getLogger(__name__)

JOB_KINDS = ("job_error", "job_hang")
_ID = r"([^/]+)"
REST_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (m, re.compile(f"^{p}$", re.IGNORECASE), name)
    for m, p, name in [
        ("GET", "/contactslist", "contactslist.list"),
        ("POST", "/contactslist", "contactslist.create"),
        ("POST", f"/contactslist/{_ID}/managemanycontacts", "contactslist.managemanycontacts"),
        ("GET", f"/contactslist/{_ID}/managemanycontacts/{_ID}", "contactslist.managemanycontacts.get"),
        ("POST", f"/contactslist/{_ID}/managecontact", "contactslist.managecontact"),
        ("GET", f"/contactslist/{_ID}", "contactslist.get"),
        ("PUT", f"/contactslist/{_ID}", "contactslist.update"),
        ("DELETE", f"/contactslist/{_ID}", "contactslist.delete"),
        ("POST", "/contact/managemanycontacts", "contact.managemanycontacts"),
        ("GET", f"/contact/managemanycontacts/{_ID}", "contact.managemanycontacts.get"),
        ("GET", "/contact", "contact.list"),
        ("POST", "/contact", "contact.create"),
        ("GET", f"/contact/{_ID}/getcontactslists", "contact.getcontactslists"),
        ("GET", f"/contact/{_ID}", "contact.get"),
        ("PUT", f"/contact/{_ID}", "contact.update"),
        ("GET", "/listrecipient", "listrecipient.list"),
        ("GET", f"/listrecipient/{_ID}", "listrecipient.get"),
        ("GET", "/contactmetadata", "contactmetadata.list"),
        ("POST", "/contactmetadata", "contactmetadata.create"),
        ("POST", "/csvimport", "csvimport.create"),
        ("GET", f"/csvimport/{_ID}", "csvimport.get"),
    ]
]
DATA_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(f"^/contactslist/{_ID}/CSVData/text:plain$", re.IGNORECASE), "data.csvdata"),
    ("GET", re.compile(f"^/batchjob/{_ID}/CSVError/text:csv$", re.IGNORECASE), "data.csverror"),
]


class MailjetApp:
    def __init__(self, config: MailjetConfig, clock: ControllableClock | None = None) -> None:
        self.config = config
        self.clock = clock or ControllableClock()
        self.state = MailjetState(self.clock, config.seed_path, config.job_seconds)
        self.faults = FaultInjector(
            kinds=(*GENERIC_KINDS, "http429", *JOB_KINDS),
            operation_hint="a call name such as contactslist.managemanycontacts or contact.*",
        )
        self.calls = CallCounter()
        self.requests_per_second = config.requests_per_second
        self._rate: dict[str, tuple[int, int]] = {}  # key -> (second of the emulator clock, requests)
        self._rate_lock = threading.Lock()

    def reset(self) -> None:
        self.clock.reset()
        self.faults.clear()
        self.calls.clear()
        with self._rate_lock:
            self._rate.clear()
        self.state.reset()

    # ------------------------------------------------------------------ dispatch
    def handle(self, request: Request) -> Reply:
        matched = self._match(request)
        if isinstance(matched, Reply):
            return matched
        name, args = matched
        self.calls.count(name)
        body_doc = (
            _json_or_none(request)
            if request.method in ("POST", "PUT")
            and name.startswith(("contactslist.manage", "contact.manage"))
            else None
        )
        for action in _actions(body_doc):
            self.calls.count(f"action.{action}")
        injection = self.faults.draw(name)
        if injection is not None and injection.when == "before":
            if injection.kind == "http429":
                return _too_many("Too many requests (injected)")
            early = generic_reply(injection)
            if early is not None:
                return early
        try:
            self._authenticate(request)
            self._rate_limit(request)
            reply = self._call(request, name, args, injection)
        except ApiError as error:
            reply = error.reply()
        except Exception:  # a bug in the emulator: answer like the platform's backend would
            log.exception("unhandled error in %s", name)
            reply = ApiError(500, "Internal error in the emulator").reply()
        if injection is not None and injection.when == "after":
            if injection.kind == "http429":
                return _too_many("Too many requests (injected)")
            return generic_reply(injection) or reply
        return reply

    def _match(self, request: Request) -> tuple[str, list[str]] | Reply:
        for prefix, routes in ((REST_PATH, REST_ROUTES), (DATA_PATH, DATA_ROUTES)):
            if request.path.lower().startswith(prefix.lower() + "/"):
                relative = request.path[len(prefix) :].rstrip("/")
                allowed = False
                for method, pattern, name in routes:
                    match = pattern.match(relative)
                    if match is None:
                        continue
                    args = [urllib.parse.unquote(g) for g in match.groups()]
                    if name in ("contact.get", "contact.update") and args[0].lower() == "managemanycontacts":
                        continue
                    if method == request.method:
                        return name, args
                    allowed = True
                if allowed:
                    return ApiError(405, f"Method {request.method} not allowed on {relative}").reply()
        return ApiError(404, f"No resource at {request.path}").reply()

    def _authenticate(self, request: Request) -> None:
        header = next((v for k, v in request.headers.items() if k.lower() == "authorization"), "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic":
            raise ApiError(401, "API key authentication/authorization failure: no Basic credentials")
        try:
            key, _, secret = base64.b64decode(token.strip()).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(401, "API key authentication failure: malformed credentials") from None
        if (key, secret) != (self.config.api_key, self.config.secret_key):
            raise ApiError(401, "API key authentication/authorization failure: unknown key or wrong secret")

    def _rate_limit(self, request: Request) -> None:
        limit = self.requests_per_second
        if not limit:
            return
        second = int(self.clock.now())
        with self._rate_lock:
            window, used = self._rate.get(self.config.api_key, (second, 0))
            if window != second:
                window, used = second, 0
            used += 1
            self._rate[self.config.api_key] = (window, used)
        if used > limit:
            raise _rate_error(f"Too many requests: more than {limit} per second for this API key")

    def _call(self, request: Request, name: str, args: list[str], injection: Injection | None) -> Reply:
        state = self.state
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(request.query).items()}
        with state.lock:
            state.settle_jobs()
            now = self.clock.now()
            if name == "data.csvdata":
                return json_reply(200, r.csv_upload(state, args[0], request.body))
            if name == "data.csverror":
                return Reply(200, r.csv_errors(state, args[0]), "text/csv; charset=utf-8")
            body = _json(request) if request.method in ("POST", "PUT") else None
            if injection is not None and injection.kind in JOB_KINDS:
                state.job_outcome_overrides.append("Error" if injection.kind == "job_error" else "hang")
            try:
                return self._resource(name, args, params, body, now)
            finally:
                state.job_outcome_overrides.clear()

    def _resource(self, name: str, args: list[str], params: dict[str, str], body: Any, now: float) -> Reply:
        state, config = self.state, self.config
        if name == "contactslist.list":
            return json_reply(200, r.lists_get(state, params, config))
        if name == "contactslist.create":
            return json_reply(201, r.list_create(state, body, now))
        if name == "contactslist.get":
            return json_reply(200, r.list_get(state, args[0]))
        if name == "contactslist.update":
            return json_reply(200, r.list_update(state, args[0], body))
        if name == "contactslist.delete":
            r.list_delete(state, args[0])
            return Reply(204)
        if name == "contactslist.managemanycontacts":
            job = r.list_job_create(state, args[0], body, now, config)
            state.settle_jobs()
            return json_reply(201, {"Count": 1, "Data": [{"JobID": job.id}], "Total": 1})
        if name == "contactslist.managemanycontacts.get":
            return json_reply(200, r.job_get(state, args[1], args[0]))
        if name == "contactslist.managecontact":
            return json_reply(201, self._manage_one(args[0], body, now))
        if name == "contact.managemanycontacts":
            job = r.contact_job_create(state, body, now, config)
            state.settle_jobs()
            return json_reply(201, {"Count": 1, "Data": [{"JobID": job.id}], "Total": 1})
        if name == "contact.managemanycontacts.get":
            return json_reply(200, r.job_get(state, args[0], None))
        if name == "contact.list":
            return json_reply(200, r.contacts_get(state, params, config))
        if name == "contact.create":
            return json_reply(201, r.contact_create(state, body, now))
        if name == "contact.get":
            return json_reply(200, r.contact_get(state, args[0]))
        if name == "contact.update":
            return json_reply(200, r.contact_update(state, args[0], body, now))
        if name == "contact.getcontactslists":
            return json_reply(200, r.contact_lists(state, args[0]))
        if name == "listrecipient.list":
            return json_reply(200, r.recipients_get(state, params, config))
        if name == "listrecipient.get":
            return json_reply(200, r.recipient_get(state, args[0]))
        if name == "contactmetadata.list":
            return json_reply(200, r.metadata_get(state, params, config))
        if name == "contactmetadata.create":
            return json_reply(201, r.metadata_create(state, body))
        if name == "csvimport.create":
            document = r.csv_import_create(state, body, now)
            state.settle_jobs()  # an import due at once is applied before the answer, as its ID says
            return json_reply(201, r.csv_import_get(state, str(document["Data"][0]["ID"])))
        if name == "csvimport.get":
            return json_reply(200, r.csv_import_get(state, args[0]))
        raise ApiError(404, f"No resource for {name}")

    def _manage_one(self, raw_list: str, body: Any, now: float) -> dict[str, Any]:
        """``POST /contactslist/{id}/managecontact {Email, Name, Action}``: one contact, at once."""
        state = self.state
        contacts_list = r._list(state, raw_list)
        body = r._mapping(body)
        action = r._action(body.get("Action"))
        email = str(body.get("Email") or "").strip()
        if not EMAIL_RE.match(email):
            raise ApiError(400, "Invalid email address")
        contact = state.contact_for(email, now, create=action != "remove", name=str(body.get("Name") or ""))
        if contact is not None:
            state.apply_action(contact, contacts_list.id, action, now)
        return {
            "Count": 1,
            "Data": [{"ContactID": contact.id if contact else 0, "Email": email, "Action": action}],
            "Total": 1,
        }


def _rate_error(message: str) -> ApiError:
    return ApiError(429, message, headers=(("Retry-After", "1"),))


def _too_many(message: str) -> Reply:
    return _rate_error(message).reply()


def _json_or_none(request: Request) -> Any:
    try:
        return json.loads(request.body.decode("utf-8")) if request.body.strip() else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


def _actions(document: Any) -> list[str]:
    """The membership actions a managemanycontacts / managecontact body asks for."""
    if not isinstance(document, dict):
        return []
    actions = [document.get("Action")]
    for item in document.get("ContactsLists") or []:
        if isinstance(item, dict):
            actions.append(item.get("Action"))
    return [str(a) for a in actions if isinstance(a, str)]


def _json(request: Request) -> Any:
    if not request.body.strip():
        return None
    try:
        return json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"Request body is not JSON: {exc}") from None
