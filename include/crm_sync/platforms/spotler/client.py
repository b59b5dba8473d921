"""``SpotlerClient``: typed calls of Spotler's REST API on ``requests`` + two-legged OAuth 1.0a.

Every request is signed by ``requests_oauthlib.OAuth1(key, secret)`` (HMAC-SHA1, empty token; each
retry is signed anew, with a fresh nonce and timestamp) and sends/accepts JSON. Calls are retried
with tenacity on 429, 5xx and connection errors only, a bounded number of times with exponential
backoff; any other 4xx is raised at once as the exception ``errors`` maps it to.

Two calls share ``DELETE /audience/{id}/contact``: ``remove_members`` sends the ids as a JSON body
(built here as bytes with an explicit ``Content-Type``, so no layer can drop it) and
``empty_audience`` sends no body -- which Spotler reads as "remove everyone". A remove without
ids is refused here rather than sent, because it would empty the audience.

Nothing logged carries the consumer secret, a signature or a full address.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import requests
from requests_oauthlib import OAuth1
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from include.crm_sync.masking import mask_text
from include.crm_sync.platforms.spotler.errors import (
    PRODUCT_SENTENCE,
    AudienceInUse,
    AudienceNotFound,
    ContactsNotFound,
    ProductNotFound,
    SpotlerCredentialsError,
    SpotlerRequestRefused,
    SpotlerTransientError,
)
from include.crm_sync.platforms.spotler.models import (
    MAX_CONTACTS_PER_CALL,
    MAX_MEMBER_IDS_PER_CALL,
    Audience,
    Bounce,
    ContactResult,
    ContactUpdate,
    bounce_from_json,
    format_time,
    update_from_json,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://restapi.mailplus.nl/integrationservice-1.1.0/"
_JSON = {"Accept": "application/json", "Content-Type": "application/json"}


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a transient failure is retried (tests use tiny waits)."""

    max_attempts: int = 5
    initial_wait: float = 1.0
    max_wait: float = 30.0
    jitter: float = 1.0

    def __post_init__(self) -> None:
        if not 1 <= self.max_attempts <= 20:
            raise ValueError(f"max_attempts must be between 1 and 20, got {self.max_attempts}")


class SpotlerClient:
    """One Spotler account; thread-safe for concurrent calls (one ``requests.Session``).

    :param base_url: e.g. ``https://restapi.mailplus.nl/integrationservice-1.1.0/``
    :param consumer_key: the account's consumer key
    :param consumer_secret: its consumer secret (never logged)
    """

    def __init__(
        self,
        base_url: str,
        consumer_key: str,
        consumer_secret: str,
        *,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        retry_policy: RetryPolicy | None = None,
        verify: bool | str = True,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        if not consumer_key or not consumer_secret:
            raise ValueError("the consumer key and secret are required")
        self.base_url = base_url.rstrip("/") + "/"
        self._timeout = (connect_timeout, timeout)
        self._retry = retry_policy or RetryPolicy()
        self._session = requests.Session()
        self._session.auth = OAuth1(consumer_key, consumer_secret, signature_method="HMAC-SHA1")
        self._session.verify = verify
        #: calls sent per operation name (retries included): the bench and tests read it
        self.calls: dict[str, int] = {}

    def __repr__(self) -> str:  # never the secret
        return f"SpotlerClient({self.base_url!r})"

    # ------------------------------------------------------------------ audiences

    def get_audience(self, external_id: str) -> Audience | None:
        """The audience, or ``None`` when Spotler answers 404."""
        try:
            return Audience.from_json(self._call("get_audience", "GET", f"audience/{_seg(external_id)}"))
        except AudienceNotFound:
            return None

    def create_audience(self, audience: Audience) -> None:
        self._call("create_audience", "POST", "audience", body=audience.to_json())

    def update_audience(self, audience: Audience) -> None:
        """PUT: rename / re-describe (the body's external id must equal the path's)."""
        self._call(
            "update_audience", "PUT", f"audience/{_seg(audience.external_id)}", body=audience.to_json()
        )

    def delete_audience(self, external_id: str) -> None:
        """Delete; ``AudienceInUse`` (not retried) while a mailing, automailer or filter uses it."""
        self._call("delete_audience", "DELETE", f"audience/{_seg(external_id)}", in_use_of=external_id)

    def add_members(self, external_id: str, contact_ids: Sequence[str]) -> None:
        """Add contacts (their external ids; they must exist) -- at most 2500 per call."""
        ids = _ids(contact_ids, "add_members")
        self._call(
            "add_members",
            "POST",
            f"audience/{_seg(external_id)}/contact",
            body={"contacts": ids},
            members_of=external_id,
        )

    def remove_members(self, external_id: str, contact_ids: Sequence[str]) -> None:
        """Remove exactly these contacts -- at most 2500 per call. The ids travel as the DELETE's body."""
        ids = _ids(contact_ids, "remove_members")
        self._call(
            "remove_members", "DELETE", f"audience/{_seg(external_id)}/contact", body={"contacts": ids}
        )

    def empty_audience(self, external_id: str) -> None:
        """Remove every member: the DELETE without a body."""
        self._call("empty_audience", "DELETE", f"audience/{_seg(external_id)}/contact")

    # ------------------------------------------------------------------ contacts

    def upsert_contacts(
        self, contacts: Sequence[Mapping[str, Any]], *, update: bool = True
    ) -> list[ContactResult]:
        """``POST /contact/list`` (at most 100): one result per contact, in Spotler's order."""
        if not contacts:
            return []
        if len(contacts) > MAX_CONTACTS_PER_CALL:
            raise ValueError(f"at most {MAX_CONTACTS_PER_CALL} contacts per call, got {len(contacts)}")
        answer = self._call(
            "upsert_contacts",
            "POST",
            "contact/list",
            body={"update": update, "purge": False, "contacts": list(contacts)},
        )
        items = answer if isinstance(answer, list) else (answer or {}).get("results") or []
        return [
            ContactResult(str(r.get("externalId")), str(r.get("code")), str(r.get("message") or ""))
            for r in items
        ]

    def get_contact(self, external_id: str) -> dict[str, Any] | None:
        try:
            return self._call("get_contact", "GET", f"contact/{_seg(external_id)}")
        except SpotlerRequestRefused as exc:
            if exc.status == 404:
                return None
            raise

    def contact_properties(self) -> list[dict[str, Any]]:
        """``GET /contact/properties/list``: the account's property definitions (a cheap signed call)."""
        answer = self._call("contact_properties", "GET", "contact/properties/list")
        return list(answer if isinstance(answer, list) else _items(answer))

    def bounces(self, since: datetime, until: datetime, *, page_size: int = 100) -> Iterator[Bounce]:
        """Bounces made in Spotler in ``[since, until)``, every page."""
        for item in self._pages("bounces", "contact/bounces/list", since, until, page_size):
            yield bounce_from_json(item)

    def updates(self, since: datetime, until: datetime, *, page_size: int = 100) -> Iterator[ContactUpdate]:
        """Contacts changed in Spotler in ``[since, until)`` (opt-outs among them), every page."""
        for item in self._pages("updates", "contact/updates/list", since, until, page_size):
            yield update_from_json(item)

    def _pages(
        self, operation: str, path: str, since: datetime, until: datetime, page_size: int
    ) -> Iterator[Any]:
        params: dict[str, Any] = {
            "fromDate": format_time(since),
            "toDate": format_time(until),
            "pageSize": page_size,
        }
        seen: set[str] = set()
        while True:
            answer = self._call(operation, "GET", path, params=params) or {}
            items = _items(answer)
            yield from items
            paging = answer.get("paging") if isinstance(answer, Mapping) else None
            after = _next_cursor(paging)
            if not items or after is None or after in seen:  # a repeated cursor would loop forever
                return
            seen.add(after)
            params = {**params, "after": after}

    # ------------------------------------------------------------------ plumbing

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> SpotlerClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        in_use_of: str | None = None,
        members_of: str | None = None,
    ) -> Any:
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode("utf-8")
        url = self.base_url + path
        retrying = Retrying(
            retry=retry_if_exception_type(SpotlerTransientError),
            stop=stop_after_attempt(self._retry.max_attempts),
            wait=wait_exponential_jitter(
                multiplier=self._retry.initial_wait, max=self._retry.max_wait, jitter=self._retry.jitter
            ),
            before_sleep=lambda state: log.warning(
                "Spotler %s: attempt %d failed (%s); retrying",
                operation,
                state.attempt_number,
                state.outcome.exception() if state.outcome else "?",
            ),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                self.calls[operation] = self.calls.get(operation, 0) + 1
                try:
                    response = self._session.request(
                        method, url, data=data, params=params, headers=_JSON, timeout=self._timeout
                    )
                except (requests.ConnectionError, requests.Timeout) as exc:
                    raise SpotlerTransientError(f"Spotler {operation}: {type(exc).__name__}") from exc
                return _answer(operation, response, in_use_of=in_use_of, members_of=members_of)
        raise AssertionError("unreachable")  # pragma: no cover - Retrying re-raises


def _answer(
    operation: str, response: requests.Response, *, in_use_of: str | None, members_of: str | None
) -> Any:
    status = response.status_code
    if status < 300:
        if status == 204 or not response.content:
            return None
        return response.json()
    try:
        error = response.json()
    except ValueError:
        error = {}
    if not isinstance(error, dict):
        error = {}
    error_type = error.get("errorType")
    message = mask_text(str(error.get("message") or response.reason or ""))[:300]
    text = f"Spotler {operation}: HTTP {status}{f' {error_type}' if error_type else ''}: {message}"
    if status == 429 or status >= 500:
        raise SpotlerTransientError(text, status=status, error_type=error_type)
    if status == 401:
        raise SpotlerCredentialsError(
            f"{text} (check the consumer key and secret of the Spotler connection)",
            status=status,
            error_type=error_type,
        )
    if status == 403 and error_type == "PRODUCT_NOTFOUND":
        raise ProductNotFound(PRODUCT_SENTENCE, status=status, error_type=error_type)
    if status == 417 and in_use_of is not None and "in use" in message.lower():
        raise AudienceInUse(in_use_of, message)
    if status == 404 and members_of is not None and error.get("externalContactIds"):
        raise ContactsNotFound(members_of, [str(i) for i in error["externalContactIds"]])
    if status == 404 and "audience" in message.lower():
        raise AudienceNotFound(text, status=status, error_type=error_type)
    raise SpotlerRequestRefused(text, status=status, error_type=error_type)


def _seg(value: str) -> str:
    """A path segment, percent-encoded (an external id may hold '/', '?' or spaces)."""
    return quote(str(value), safe="")


def _ids(contact_ids: Sequence[str], operation: str) -> list[str]:
    ids = [str(i) for i in contact_ids]
    if not ids:
        # an empty body means "remove everyone" to Spotler: never send it by accident
        raise ValueError(f"{operation}: no contact ids given")
    if len(ids) > MAX_MEMBER_IDS_PER_CALL:
        raise ValueError(f"{operation}: at most {MAX_MEMBER_IDS_PER_CALL} ids per call, got {len(ids)}")
    return ids


def _items(answer: Any) -> list[Any]:
    """The items of a page: the answer itself when it is a list, else its first list-valued field."""
    if isinstance(answer, list):
        return answer
    if isinstance(answer, Mapping):
        for key, value in answer.items():
            if key != "paging" and isinstance(value, list):
                return value
    return []


def _next_cursor(paging: Any) -> str | None:
    if not isinstance(paging, Mapping):
        return None
    for key in ("after", "next"):
        value = paging.get(key)
        if isinstance(value, Mapping):  # {"next": {"after": "..."}}
            value = value.get("after")
        if isinstance(value, str) and "after=" in value:  # a next-page URL: its cursor
            value = parse_qs(urlsplit(value).query).get("after", [None])[0]
        if value not in (None, ""):
            return str(value)
    return None
