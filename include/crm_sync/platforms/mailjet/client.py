"""``MailjetClient``: typed calls of Mailjet's v3 API on the official ``mailjet-rest`` client
(pinned 1.9.1), with tenacity retries and bulk jobs polled to the end.

What mailjet-rest 1.9.1 does (tests/integration/mailjet/test_client.py proves it against the
emulator): every 4xx and 5xx *raises* -- 401/403 ``MailjetAuthError``, 404 ``DoesNotExistError``,
400 ``ValidationError``, 429 ``ApiRateLimitError`` (all with ``status_code``), any other status a
bare ``ApiError`` whose ``__cause__`` is the ``requests.HTTPError`` holding the response; a
dropped or timed-out connection ``CriticalApiError`` / ``TimeoutError``. Older versions returned
the ``requests.Response`` instead; ``_checked`` handles that shape too, so a change of pin cannot
turn an error into silent success.

Retries: 429 is waited out (``Retry-After`` when given, else exponential backoff) within its own
budget of seconds, separate from the attempts for 5xx / connection errors, so a rate-limit storm
never fails the data; when even that budget is spent the task retries later. A 4xx is raised at
once. (Over https, mailjet-rest's own urllib3 retry also retries 429/5xx up to 3 times; harmless:
every membership action is idempotent.)

Membership actions go through the asynchronous bulk jobs only with ``addnoforce``, ``remove`` or
``unsub`` -- ``addforce`` would re-subscribe someone who unsubscribed and is refused here before
anything is sent. Jobs are polled until ``Completed`` / ``Error`` / ``Abort`` within a bounded wait.

Nothing logged carries the secret key or a full address.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import mailjet_rest
import requests
from mailjet_rest import errors as mj_errors
from tenacity import RetryCallState, Retrying, retry_if_exception_type

from include.crm_sync.masking import mask_text
from include.crm_sync.platforms.mailjet.errors import (
    JobFailed,
    JobTimedOut,
    MailjetCredentialsError,
    MailjetError,
    MailjetNotFound,
    MailjetRateLimited,
    MailjetRequestRefused,
    MailjetTransientError,
)
from include.crm_sync.platforms.mailjet.models import (
    MAX_CONTACTS_PER_JOB,
    PAGE_SIZE,
    SYNC_ACTIONS,
    Contact,
    JobResult,
    Membership,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.mailjet.com/"
FINAL_JOB_STATUSES = ("Completed", "Error", "Abort")


@dataclass(frozen=True)
class RetryPolicy:
    """How often a 5xx / connection failure is retried and how long 429s are waited out."""

    max_attempts: int = 5
    initial_wait: float = 1.0
    max_wait: float = 30.0
    #: total seconds one call may spend waiting out 429s before it gives up (the task retries later)
    rate_limit_budget: float = 600.0

    def __post_init__(self) -> None:
        if not 1 <= self.max_attempts <= 20:
            raise ValueError(f"max_attempts must be between 1 and 20, got {self.max_attempts}")


@dataclass(frozen=True)
class JobPolicy:
    """How a bulk job is polled: every ``poll_interval`` seconds (doubling up to ``max_interval``)
    until it ends, at most ``max_wait`` seconds."""

    poll_interval: float = 1.0
    max_interval: float = 15.0
    max_wait: float = 1800.0


@dataclass
class _Budget:
    attempts: int = 0
    rate_limited_seconds: float = 0.0
    rate_limited: int = 0


class MailjetClient:
    """One Mailjet account. ``base_url`` is the API root (``https://api.mailjet.com/``)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        secret_key: str,
        *,
        timeout: float = 60.0,
        retry_policy: RetryPolicy | None = None,
        job_policy: JobPolicy | None = None,
        max_contacts_per_job: int = MAX_CONTACTS_PER_JOB,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        if not api_key or not secret_key:
            raise ValueError("the API key and the secret key are required")
        self.base_url = base_url.rstrip("/") + "/"
        self._mj = mailjet_rest.Client(
            auth=(api_key, secret_key), version="v3", api_url=self.base_url, timeout=timeout
        )
        self._retry = retry_policy or RetryPolicy()
        self.job_policy = job_policy or JobPolicy()
        self.max_contacts_per_job = max_contacts_per_job
        self._sleep, self._monotonic = sleep, monotonic
        #: calls sent per operation name (retries included), and 429s waited out
        self.calls: dict[str, int] = {}
        self.rate_limited = 0

    def __repr__(self) -> str:  # never the keys
        return f"MailjetClient({self.base_url!r})"

    def close(self) -> None:
        self._mj.close()

    # ------------------------------------------------------------------ account and lists

    def check_credentials(self) -> None:
        """One cheap authenticated call: raises ``MailjetCredentialsError`` when a key is wrong."""
        self._call("check_credentials", lambda: self._mj.contactslist.get(filters={"Limit": 1}))

    def find_list(self, name: str) -> int | None:
        """The ID of the live list with this (unique) name, or None."""
        doc = self._call("find_list", lambda: self._mj.contactslist.get(filters={"Name": name, "Limit": 10}))
        found = [d for d in doc.get("Data", []) if d.get("Name") == name and not d.get("IsDeleted")]
        return int(found[0]["ID"]) if found else None

    def create_list(self, name: str) -> int:
        doc = self._call("create_list", lambda: self._mj.contactslist.create(data={"Name": name}))
        return int(doc["Data"][0]["ID"])

    def ensure_list(self, name: str) -> tuple[int, bool]:
        """(ID, created): the list found by its unique name, or made. A create whose answer was lost
        and retried finds its own list ("already exists")."""
        list_id = self.find_list(name)
        if list_id is not None:
            return list_id, False
        try:
            return self.create_list(name), True
        except MailjetRequestRefused:
            list_id = self.find_list(name)
            if list_id is None:
                raise
            return list_id, True

    def delete_list(self, list_id: int) -> bool:
        try:
            self._call("delete_list", lambda: self._mj.contactslist.delete(id=list_id))
        except MailjetNotFound:
            return False
        return True

    # ------------------------------------------------------------------ reading

    def membership_count(self, list_id: int) -> int:
        """Memberships of the list (subscribed and unsubscribed alike)."""
        doc = self._call(
            "membership_count",
            lambda: self._mj.listrecipient.get(filters={"ContactsList": list_id, "countOnly": 1}),
        )
        return int(doc.get("Total", doc.get("Count", 0)))

    def memberships(self, list_id: int, *, unsubscribed: bool | None = None) -> Iterator[Membership]:
        filters: dict[str, Any] = {"ContactsList": list_id, "Sort": "ContactID"}
        if unsubscribed is not None:
            filters["IsUnsubscribed"] = "true" if unsubscribed else "false"
        for doc in self._pages("memberships", self._mj.listrecipient, filters):
            yield Membership.from_json(doc)

    def recent_memberships(self, list_id: int, since: datetime) -> Iterator[Membership]:
        """Memberships of the list subscribed at or after ``since``, newest membership first: pages
        by descending ID and stops at the first page that reaches back before ``since`` (a new
        membership has a higher ID). A re-subscription of an old membership is not seen here; the
        nightly sync's reconcile covers it."""
        offset = 0
        while True:
            filters = {"ContactsList": list_id, "Sort": "ID desc", "Limit": PAGE_SIZE, "Offset": offset}
            data = self._call("recent_memberships", lambda f=filters: self._mj.listrecipient.get(filters=f))
            rows = [Membership.from_json(d) for d in data.get("Data", [])]
            yield from (m for m in rows if m.subscribed_at is not None and m.subscribed_at >= since)
            if len(rows) < PAGE_SIZE or any(m.subscribed_at and m.subscribed_at < since for m in rows):
                return
            offset += len(rows)

    def contact(self, contact_id: int) -> Contact:
        doc = self._call("contact", lambda: self._mj.contact.get(id=contact_id))
        return Contact.from_json(doc["Data"][0])

    def list_contacts(self, list_id: int) -> Iterator[Contact]:
        """The contacts of the list (with their addresses), by contact ID."""
        for doc in self._pages("list_contacts", self._mj.contact, {"ContactsList": list_id, "Sort": "ID"}):
            yield Contact.from_json(doc)

    def excluded_contacts(self) -> Iterator[Contact]:
        """Every contact excluded from campaigns (the global marketing block)."""
        for doc in self._pages("excluded_contacts", self._mj.contact, {"IsExcludedFromCampaigns": "true"}):
            yield Contact.from_json(doc)

    def _pages(self, name: str, endpoint: Any, filters: dict[str, Any]) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            page_filters = {**filters, "Limit": PAGE_SIZE, "Offset": offset}
            doc = self._call(name, lambda f=page_filters: endpoint.get(filters=f))
            data = doc.get("Data", [])
            yield from data
            if len(data) < PAGE_SIZE:
                return
            offset += len(data)

    # ------------------------------------------------------------------ membership jobs

    def manage(self, list_id: int, action: str, contacts: Sequence[dict[str, Any]]) -> JobResult:
        """Send one bulk job (``addnoforce``, ``remove`` or ``unsub``) and wait for its end.
        ``JobFailed`` when it ends in Error/Abort, ``JobTimedOut`` past the bound."""
        if action not in SYNC_ACTIONS:
            raise ValueError(f"action {action!r} is not allowed for a sync (only {', '.join(SYNC_ACTIONS)})")
        if not contacts:
            raise ValueError("a bulk job needs at least one contact")
        if len(contacts) > self.max_contacts_per_job:
            raise ValueError(f"{len(contacts)} contacts in one job (max {self.max_contacts_per_job})")
        body = {"Action": action, "Contacts": list(contacts)}
        doc = self._call(
            f"manage.{action}", lambda: self._mj.contactslist_managemanycontacts.create(id=list_id, data=body)
        )
        job_id = int(doc["Data"][0]["JobID"])
        return self.wait_job(list_id, job_id, len(contacts))

    def wait_job(self, list_id: int, job_id: int, count: int) -> JobResult:
        policy, started = self.job_policy, self._monotonic()
        interval = policy.poll_interval
        while True:
            doc = self._call(
                "job_status",
                lambda: self._mj.contactslist_managemanycontacts.get(id=list_id, action_id=job_id),
            )["Data"][0]
            status = str(doc.get("Status") or "")
            if status in ("Error", "Abort"):
                raise JobFailed(job_id, status, mask_text(str(doc.get("Error") or "no detail")))
            if status == "Completed":
                errors = self.job_errors(job_id) if doc.get("ErrorFile") or doc.get("ErrorCount") else ()
                return JobResult(job_id, status, int(doc.get("Count") or count), tuple(errors))
            waited = self._monotonic() - started
            if waited >= policy.max_wait:
                raise JobTimedOut(job_id, status or "unknown", waited)
            self._sleep(min(interval, max(policy.max_wait - waited, 0.0)))
            interval = min(interval * 2, policy.max_interval)

    def job_errors(self, job_id: int) -> list[tuple[str, str]]:
        """(address, reason) per contact the job refused (the job's CSV error file)."""
        text = self._call("job_errors", lambda: self._mj.batchjob_csverror.get(id=job_id), raw=True)
        rows = []
        for line in text.splitlines()[1:]:
            email, _, reason = line.partition(",")
            if email or reason:
                rows.append((email.strip(), reason.strip()))
        return rows

    # ------------------------------------------------------------------ one call, retried

    def _call(self, name: str, send: Callable[[], Any], *, raw: bool = False) -> Any:
        budget = _Budget()
        retrying = Retrying(
            retry=retry_if_exception_type(MailjetTransientError),
            stop=lambda state: self._stop(state, budget),
            wait=lambda state: self._wait(state, budget),
            sleep=self._sleep,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                self.calls[name] = self.calls.get(name, 0) + 1
                response = self._send(name, send)
                return response.text if raw else _json(response)
        raise AssertionError("unreachable")  # pragma: no cover

    # tenacity computes the wait before it asks whether to stop: the wait does the accounting.
    def _wait(self, state: RetryCallState, budget: _Budget) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, MailjetRateLimited):
            budget.rate_limited += 1
            self.rate_limited += 1
            backoff = self._retry.initial_wait * 2 ** min(budget.rate_limited - 1, 5)
            wait = error.retry_after if error.retry_after is not None else backoff
            seconds = min(wait, self._retry.max_wait)
            budget.rate_limited_seconds += seconds
            log.info("Mailjet answered 429; waiting %.1fs", seconds)
            return seconds
        budget.attempts += 1
        return min(self._retry.initial_wait * 2 ** (budget.attempts - 1), self._retry.max_wait)

    def _stop(self, state: RetryCallState, budget: _Budget) -> bool:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, MailjetRateLimited):
            # a 429 is not a failed attempt: only the seconds spent waiting it out are bounded
            return budget.rate_limited_seconds > self._retry.rate_limit_budget
        return budget.attempts >= self._retry.max_attempts

    def _send(self, name: str, send: Callable[[], Any]) -> requests.Response:
        try:
            response = send()
        except mj_errors.MailjetNetworkError as exc:
            raise MailjetTransientError(f"{name}: {mask_text(str(exc))}") from exc
        except mj_errors.ApiError as exc:
            raise _mapped(name, exc) from exc
        return _checked(name, response)


def _checked(name: str, response: Any) -> requests.Response:
    """A response returned instead of raised (older mailjet-rest, or its dry-run mock) is checked too."""
    status = getattr(response, "status_code", None)
    if not isinstance(status, int):
        raise MailjetError(f"{name}: no HTTP answer")
    if status >= 400:
        raise _error_for(name, status, response.headers, response.text)
    return response


def _mapped(name: str, exc: mj_errors.ApiError) -> MailjetError:
    cause = exc.__cause__
    response = getattr(cause, "response", None)
    status = getattr(exc, "status_code", None) or getattr(response, "status_code", None)
    if status is None:
        return MailjetTransientError(f"{name}: {mask_text(str(exc))}")
    headers = getattr(response, "headers", {}) or {}
    body = getattr(exc, "response_body", "") or getattr(response, "text", "")
    return _error_for(name, int(status), headers, body)


def _error_for(name: str, status: int, headers: Any, body: str) -> MailjetError:
    message = f"{name}: HTTP {status}: {mask_text(_error_message(body))}"
    if status == 429:
        return MailjetRateLimited(message, retry_after=_retry_after(headers))
    if status >= 500 or status == 408:
        return MailjetTransientError(message, status=status)
    if status in (401, 403):
        return MailjetCredentialsError(message + " (check the API key and the secret key)", status=status)
    if status == 404:
        return MailjetNotFound(message, status=status)
    return MailjetRequestRefused(message, status=status)


def _error_message(body: str) -> str:
    try:
        doc = json.loads(body)
        return str(doc.get("ErrorMessage") or body)[:300]
    except (ValueError, AttributeError):
        return (body or "")[:300]


def _retry_after(headers: Any) -> float | None:
    try:
        value = headers.get("Retry-After")
        return None if value is None else max(float(value), 0.0)
    except (TypeError, ValueError):
        return None


def _json(response: requests.Response) -> dict[str, Any]:
    if response.status_code == 204 or not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        raise MailjetTransientError(f"answer is not JSON (HTTP {response.status_code})") from None


__all__ = ["DEFAULT_BASE_URL", "JobPolicy", "MailjetClient", "RetryPolicy"]
