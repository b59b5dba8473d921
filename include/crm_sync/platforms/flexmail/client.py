"""``FlexmailClient``: typed calls of Flexmail's REST API (legacy interest labels) on ``requests``.

HTTP Basic auth (account id + personal access token), HAL JSON collections paged with
``limit`` (≤ 500) / ``offset``. Every request -- retries included -- first takes a token from the
limiter (``rate_limit.TokenBucket``, shared by the whole deployment); 429, 5xx and connection
errors are retried with tenacity, waiting what ``Retry-After`` says when Flexmail says it
(exponential backoff otherwise); other 4xx raise at once (errors.py).

Label removal is undocumented for legacy labels: the client and the emulator agree on
``DELETE /contacts/{contact_id}/interest-labels/{label_id}`` (204; 404 = not carried), see
``include/emulators/flexmail/README.md``. Nothing logged carries the token or a full address.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from include.crm_sync.platforms.flexmail.errors import (
    FlexmailConflict,
    FlexmailCredentialsError,
    FlexmailNotFound,
    FlexmailRequestRefused,
    FlexmailTransientError,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.flexmail.eu"
PAGE_SIZE = 500
#: records per ``POST /contacts/imports/{id}/records`` (not documented; the page maximum)
MAX_IMPORT_RECORDS = 500


class Limiter(Protocol):
    def acquire(self) -> None: ...


class _NoLimit:
    def acquire(self) -> None:
        return None


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    initial_wait: float = 1.0
    max_wait: float = 120.0

    def __post_init__(self) -> None:
        if not 1 <= self.max_attempts <= 20:
            raise ValueError(f"max_attempts must be between 1 and 20, got {self.max_attempts}")


@dataclass(frozen=True)
class InterestLabel:
    id: int
    name: str


@dataclass(frozen=True)
class FlexmailContact:
    id: int
    email: str
    blacklisted: bool

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> FlexmailContact:
        return cls(int(item["id"]), str(item["email"]), item.get("status") == "unsubscribed")


@dataclass(frozen=True)
class ImportState:
    import_id: str
    status: str
    message: str
    report: dict[str, int] | None

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed")


class FlexmailClient:
    """One Flexmail account; thread-safe for concurrent calls."""

    def __init__(
        self,
        base_url: str,
        account_id: str,
        token: str,
        *,
        limiter: Limiter | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        verify: bool | str = True,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        if not str(account_id).strip() or not token:
            raise ValueError("the account id and the personal access token are required")
        self.base_url = base_url.rstrip("/")
        self.account_id = str(account_id).strip()
        self.limiter: Limiter = limiter or _NoLimit()
        self._timeout = (connect_timeout, timeout)
        self._retry = retry_policy or RetryPolicy()
        self._sleep = sleep
        self._session = requests.Session()
        self._session.auth = (self.account_id, token)
        self._session.verify = verify
        self._session.headers.update({"Accept": "application/hal+json, application/json"})
        #: requests sent per operation (retries included): tests and the bench read it
        self.calls: dict[str, int] = {}

    def __repr__(self) -> str:  # never the token
        return f"FlexmailClient({self.base_url!r}, account {self.account_id})"

    def close(self) -> None:
        self._session.close()

    # ------------------------------------------------------------------ labels and contacts

    def interest_labels(self) -> list[InterestLabel]:
        return [
            InterestLabel(int(i["id"]), str(i["name"]))
            for i in self._pages("interest_labels", "/interest-labels")
        ]

    def find_contact(self, email: str) -> FlexmailContact | None:
        items = list(self._pages("find_contact", "/contacts", {"email": email}))
        return FlexmailContact.from_json(items[0]) if items else None

    def count_contacts(self) -> int:
        """Contacts in the account (one request: the collection's ``total``)."""
        return int(
            self._call("count_contacts", "GET", "/contacts", params={"limit": 1, "offset": 0}).json()["total"]
        )

    def contact_pages(self) -> Iterator[list[FlexmailContact]]:
        """Every contact of the account, a page (≤ 500) at a time."""
        page: list[FlexmailContact] = []
        for item in self._pages("contact_pages", "/contacts"):
            page.append(FlexmailContact.from_json(item))
            if len(page) == PAGE_SIZE:
                yield page
                page = []
        if page:
            yield page

    def blacklisted_contacts(self) -> Iterator[FlexmailContact]:
        """Every contact that unsubscribed in Flexmail (``status=unsubscribed``), paged."""
        for item in self._pages("blacklisted_contacts", "/contacts", {"status": "unsubscribed"}):
            yield FlexmailContact.from_json(item)

    def label_member_ids(self, label_id: int) -> Iterator[int]:
        """The ids of the contacts carrying this label (Flexmail's own record), paged."""
        for item in self._pages(
            "label_members", "/contact-interest-label-subscriptions", {"interest_label_id": int(label_id)}
        ):
            yield int(item["contact_id"])

    def assign_label(self, contact_id: int, label_id: int) -> bool:
        """Add one label to one contact; False when it was already assigned (409)."""
        try:
            self._call(
                "assign_label",
                "POST",
                "/contact-interest-label-subscriptions",
                body={"contact_id": int(contact_id), "interest_label_id": int(label_id)},
            )
        except FlexmailConflict:
            return False
        return True

    def remove_label(self, contact_id: int, label_id: int) -> bool:
        """Remove one label from one contact; False when the contact did not carry it (404)."""
        try:
            self._call(
                "remove_label", "DELETE", f"/contacts/{int(contact_id)}/interest-labels/{int(label_id)}"
            )
        except FlexmailNotFound:
            return False
        return True

    # ------------------------------------------------------------------ imports

    def create_import(self, import_id: str) -> bool:
        """Create an import (never resubscribing blacklisted contacts); False when the id exists."""
        try:
            self._call(
                "create_import",
                "POST",
                "/contacts/imports",
                body={"id": import_id, "resubscribe_blacklisted_contacts": False},
            )
        except FlexmailConflict:
            return False
        return True

    def add_import_records(self, import_id: str, records: Sequence[Mapping[str, Any]]) -> None:
        if not records or len(records) > MAX_IMPORT_RECORDS:
            raise ValueError(f"1..{MAX_IMPORT_RECORDS} records per call, got {len(records)}")
        self._call(
            "import_records", "POST", f"/contacts/imports/{_seg(import_id)}/records", body=list(records)
        )

    def queue_import(self, import_id: str) -> None:
        self._call("queue_import", "PATCH", f"/contacts/imports/{_seg(import_id)}", body={"status": "queued"})

    def get_import(self, import_id: str) -> ImportState | None:
        try:
            doc = self._call("get_import", "GET", f"/contacts/imports/{_seg(import_id)}").json()
        except FlexmailNotFound:
            return None
        report = doc.get("report")
        return ImportState(
            str(doc.get("id", import_id)),
            str(doc.get("status", "")),
            str(doc.get("message") or ""),
            {k: int(v) for k, v in report.items()} if isinstance(report, dict) else None,
        )

    # ------------------------------------------------------------------ transport

    def _pages(
        self, name: str, path: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            doc = self._call(
                name, "GET", path, params={**(params or {}), "limit": PAGE_SIZE, "offset": offset}
            ).json()
            items = (doc.get("_embedded") or {}).get("item") or []  # _embedded is absent when empty
            yield from items
            offset += len(items)
            if not items or offset >= int(doc.get("total", 0)):
                return

    def _call(
        self, name: str, method: str, path: str, *, params: Mapping[str, Any] | None = None, body: Any = None
    ) -> requests.Response:
        retrying = Retrying(
            retry=retry_if_exception_type(FlexmailTransientError),
            stop=stop_after_attempt(self._retry.max_attempts),
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=lambda state: log.warning(
                "Flexmail %s: attempt %d failed (%s); retrying",
                name,
                state.attempt_number,
                state.outcome.exception(),
            ),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                return self._once(name, method, path, params, body)
        raise AssertionError("unreachable")  # pragma: no cover - Retrying re-raises

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, FlexmailTransientError) and error.retry_after is not None:
            return min(error.retry_after, self._retry.max_wait)
        return min(self._retry.initial_wait * 2 ** (state.attempt_number - 1), self._retry.max_wait)

    def _once(
        self, name: str, method: str, path: str, params: Mapping[str, Any] | None, body: Any
    ) -> requests.Response:
        self.limiter.acquire()
        self.calls[name] = self.calls.get(name, 0) + 1
        try:
            response = self._session.request(
                method, self.base_url + path, params=params, json=body, timeout=self._timeout
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise FlexmailTransientError(f"Flexmail {name}: no answer ({type(exc).__name__})") from None
        status = response.status_code
        if status < 400:
            return response
        message = f"Flexmail {name}: HTTP {status} {_message(response)}"
        if status == 429 or status >= 500:
            raise FlexmailTransientError(message, status=status, retry_after=_retry_after(response))
        if status in (401, 403):
            raise FlexmailCredentialsError(
                f"{message} (check the account id and personal access token of the connection)", status=status
            )
        if status == 404:
            raise FlexmailNotFound(message, status=status)
        if status == 409:
            raise FlexmailConflict(message, status=status)
        raise FlexmailRequestRefused(message, status=status)


def _message(response: requests.Response) -> str:
    try:
        return str(response.json().get("message", ""))[:200]
    except ValueError:
        return ""


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _seg(value: str) -> str:
    return quote(str(value), safe="")
