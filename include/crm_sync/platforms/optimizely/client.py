"""``OptimizelyCampaignClient``: the Optimizely Campaign SOAP webservices, the way this project uses them.

Structure
---------
* One zeep client per webservice (``RpcSession``, ``RpcRecipient``, ...), built on first use from
  its WSDL (``<base>/Rpc<Name>?wsdl``) and cached for the client's lifetime. The service endpoint
  is always ``<base>/Rpc<Name>``, whatever address the WSDL names, so the same code talks to the
  platform and to the emulator.
* One shared ``requests.Session`` (keep-alive, connection pool sized to ``max_parallel_calls``)
  under all of them, with a (connect, read) timeout on every request. Schemas are served offline
  (``transport.py``).
* zeep builds and sends each request; ``rpc_response.py`` reads the answer (value or fault).
  ``String[]``/``String[][]`` arguments are ``soap_arrays.EncodedArray`` values. The exception is
  ``addAll3``, the refill's hot path: its envelope is written from a template
  (``addall3_request.py``: same wire format, a fraction of the CPU) with the namespace, part names
  and SOAPAction zeep read from the WSDL.
* Every call runs as: retry policy (``retry.py``) -> session (``session.py``: login on first use,
  re-login + repeat once on an expired session) -> one HTTP request. Errors are the
  Permanent/Transient classes of ``errors.py`` with scrubbed messages.

Uploading (``add_all``)
-----------------------
``add_all`` reads the recipients lazily, ``batch_size`` (<= 1000) at a time, validates each batch
*before* sending it (XML-illegal control characters, attribute count; ``InvalidRecipientDataError``
names the recipient, the masked address and the field) and keeps at most ``max_parallel_calls``
batches in flight on a thread pool. Results are typed (``AddResult`` per recipient,
``AddOutcome`` counts) and handed, batch by batch, to an optional ``on_batch`` callback *in the
calling thread*, so a caller can store them without locking.

Exactly-once, as far as a client can make it: a batch is submitted once and only repeated when
that very call failed. If the connection drops *after* the platform applied a batch, the repeat
finds those recipients in the list and the platform answers code 5 "already in the list" for them
(or re-adds a pending double opt-in): that outcome counts as accepted (``AddOutcome.accepted``) and
the list ends up the same. An expired session is refused before the operation runs, so the
re-login repeat cannot double-apply.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
import zeep
import zeep.exceptions
from requests.adapters import HTTPAdapter

from include.crm_sync.platforms.base import AddOutcome, AddResult, PermanentPlatformError, Recipient
from include.crm_sync.platforms.optimizely.addall3_request import (
    AddAll3Envelope,
    EncodedBatch,
    check_names,
    check_value,
    encode_batch,
)
from include.crm_sync.platforms.optimizely.closed_loop_columns import CLOSED_LOOP_COLUMNS, MAX_ROWS_PER_CALL
from include.crm_sync.platforms.optimizely.errors import (
    OptimizelyPermanentConfigError,
    Scrubber,
    error_for_http_status,
    error_for_request_exception,
)
from include.crm_sync.platforms.optimizely.retry import RetryPolicy
from include.crm_sync.platforms.optimizely.rpc_response import decode_response
from include.crm_sync.platforms.optimizely.session import SessionManager
from include.crm_sync.platforms.optimizely.soap_arrays import string_array
from include.crm_sync.platforms.optimizely.transport import OfflineSchemaTransport, hardened_settings
from include.crm_sync.platforms.recipient_batch import AddResults

log = logging.getLogger(__name__)

#: the platform's ceiling for recipients per addAll3 call
MAX_BATCH_SIZE = 1000

WEBSERVICES = (
    "Session",
    "Recipient",
    "RecipientList",
    "OptinProcess",
    "Blacklist",
    "Unsubscribe",
    "ClosedLoop",
    "Response",
)


@dataclass(frozen=True, slots=True)
class BatchResult:
    """The outcome of one addAll3 call of ``add_all``.

    ``index`` is the batch number (0-based), ``offset`` the position of its first recipient in the
    input; ``results`` has one entry per recipient, in input order.
    """

    index: int
    offset: int
    results: tuple[AddResult, ...]

    @property
    def counts(self) -> Counter[AddOutcome]:
        return Counter(r.outcome for r in self.results)


@dataclass
class AddAllReport:
    """Totals of one ``add_all`` call (per-recipient results went to the ``on_batch`` callback)."""

    list_id: int
    recipients: int = 0
    batches: int = 0
    counts: Counter[AddOutcome] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def accepted(self) -> int:
        """Recipients in the list afterwards (added or already there)."""
        return sum(n for outcome, n in self.counts.items() if outcome.accepted)

    @property
    def rejected(self) -> int:
        return self.recipients - self.accepted

    def as_dict(self) -> dict[str, Any]:
        return {
            "list_id": self.list_id,
            "recipients": self.recipients,
            "batches": self.batches,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "counts": {outcome.name.lower(): self.counts.get(outcome, 0) for outcome in AddOutcome},
            "seconds": round(self.seconds, 3),
        }


@dataclass
class _Webservice:
    client: zeep.Client
    proxy: Any  # zeep ServiceProxy bound to our endpoint


def normalise_base_url(base_url: str) -> str:
    """``https://host`` or ``https://host/soap11/`` -> ``https://host/soap11``."""
    url = (base_url or "").strip().rstrip("/")
    split = urlsplit(url)
    if split.scheme not in ("http", "https") or not split.netloc:
        raise ValueError(f"SOAP base URL must look like https://host/soap11, got {base_url!r}")
    if split.query or split.fragment:
        raise ValueError("SOAP base URL must not have a query or fragment")
    if not url.endswith("/soap11"):
        url += "/soap11"
    return url


class OptimizelyCampaignClient:
    """Client of the Optimizely Campaign SOAP API (thread-safe; use as a context manager).

    :param base_url: SOAP base URL, e.g. ``https://api.campaign.episerver.net/soap11`` (``/soap11``
        is appended when missing)
    :param mandator_id: the client (mandator) id
    :param user: webservice user
    :param password: its password (kept in memory only; never logged)
    :param timeout: read timeout of one request in seconds
    :param connect_timeout: connect timeout in seconds
    :param batch_size: recipients per addAll3 call in ``add_all`` (1..1000)
    :param max_parallel_calls: addAll3 calls in flight at once in ``add_all`` (the platform allows
        10 simultaneous requests per client; stay well below)
    :param retry_policy: retries of transient failures (``RetryPolicy()`` by default)
    :param session_max_age: seconds after which a session id is replaced before use
    :param verify: TLS verification (``requests`` semantics: bool or CA bundle path)
    """

    def __init__(
        self,
        base_url: str,
        mandator_id: int,
        user: str,
        password: str,
        *,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        batch_size: int = MAX_BATCH_SIZE,
        max_parallel_calls: int = 4,
        retry_policy: RetryPolicy | None = None,
        session_max_age: float | None = 15 * 60,
        verify: bool | str = True,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH_SIZE}, got {batch_size}")
        if not 1 <= max_parallel_calls <= 10:
            raise ValueError(f"max_parallel_calls must be between 1 and 10, got {max_parallel_calls}")
        if timeout <= 0 or connect_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if not user or not password:
            raise ValueError("user and password are required")
        self.base_url = normalise_base_url(base_url)
        self.mandator_id = int(mandator_id)
        self._user = user
        self._password = password
        self.batch_size = batch_size
        self.max_parallel_calls = max_parallel_calls
        self.retry_policy = retry_policy or RetryPolicy()
        self._scrubber = Scrubber([password])

        self._http = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max_parallel_calls + 2, max_retries=0)
        self._http.mount("https://", adapter)
        self._http.mount("http://", adapter)
        self._http.verify = verify
        self._transport = OfflineSchemaTransport(
            session=self._http, allowed_prefix=self.base_url, timeout=(connect_timeout, timeout)
        )
        self._http.headers["User-Agent"] = f"crm-sync-optimizely/1 zeep/{zeep.__version__}"
        self._services: dict[str, _Webservice] = {}
        self._services_lock = threading.Lock()
        self._addall3: AddAll3Envelope | None = None
        self._stats_lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._closed = False
        self._session = SessionManager(
            self._login, self._logout, scrubber=self._scrubber, max_age_seconds=session_max_age
        )

    # ------------------------------------------------------------------ plumbing

    def __repr__(self) -> str:
        return (
            f"OptimizelyCampaignClient({self.base_url!r}, mandator_id={self.mandator_id}, "
            f"user={self._user!r})"
        )

    def _webservice(self, name: str) -> _Webservice:
        if name not in WEBSERVICES:
            raise ValueError(f"unknown webservice {name!r}")
        with self._services_lock:
            service = self._services.get(name)
            if service is None:
                service = self._services[name] = self._build_webservice(name)
            return service

    def _build_webservice(self, name: str) -> _Webservice:
        endpoint = f"{self.base_url}/Rpc{name}"
        settings = hardened_settings()
        settings.raw_response = True  # responses are read by rpc_response.py
        try:
            client = zeep.Client(f"{endpoint}?wsdl", transport=self._transport, settings=settings)
        except requests.HTTPError as exc:  # raised by the transport for a non-2xx WSDL answer
            status = exc.response.status_code if exc.response is not None else 0
            error = error_for_http_status(status, None, operation=f"{name} WSDL")
            if isinstance(error, PermanentPlatformError):
                raise OptimizelyPermanentConfigError(
                    f"cannot load {endpoint}?wsdl (HTTP {status}); check the SOAP base URL",
                    operation=f"{name} WSDL",
                ) from None
            raise error from None
        except requests.RequestException as exc:
            raise error_for_request_exception(exc, operation=f"{name} WSDL") from exc
        except zeep.exceptions.Error as exc:
            raise OptimizelyPermanentConfigError(f"unusable WSDL: {exc}", operation=f"{name} WSDL") from exc
        settings.forbid_external = True  # nothing may be fetched after loading
        bindings = list(client.wsdl.bindings)
        if len(bindings) != 1:
            raise OptimizelyPermanentConfigError(
                f"expected one binding in the WSDL, found {len(bindings)}", operation=f"{name} WSDL"
            )
        proxy = client.create_service(bindings[0], endpoint)
        log.debug("loaded WSDL of Rpc%s", name)
        return _Webservice(client, proxy)

    def _send(self, webservice: str, operation: str, args: Sequence[Any]) -> Any:
        """One HTTP request: serialise with zeep, post, decode. No retry, no session handling."""
        name = f"{webservice}.{operation}"
        proxy = self._webservice(webservice).proxy
        with self._stats_lock:
            self._calls[name] += 1
        try:
            response = proxy[operation](*args)
        except requests.RequestException as exc:
            raise error_for_request_exception(exc, operation=name) from exc
        except (zeep.exceptions.ValidationError, TypeError) as exc:
            raise OptimizelyPermanentConfigError(
                f"cannot serialise the arguments: {self._scrubber(str(exc))}", operation=name
            ) from None
        return decode_response(
            response.status_code, response.reason, response.content, operation=name, scrub=self._scrubber
        )

    def _post(self, webservice: str, operation: str, body: bytes, headers: dict[str, str]) -> Any:
        """One HTTP request with a ready body (no zeep); decoded like ``_send``."""
        name = f"{webservice}.{operation}"
        with self._stats_lock:
            self._calls[name] += 1
        try:
            response = self._http.post(
                f"{self.base_url}/Rpc{webservice}",
                data=body,
                headers=headers,
                timeout=self._transport.operation_timeout,
            )
        except requests.RequestException as exc:
            raise error_for_request_exception(exc, operation=name) from exc
        return decode_response(
            response.status_code, response.reason, response.content, operation=name, scrub=self._scrubber
        )

    def _addall3_envelope(self) -> AddAll3Envelope:
        """The addAll3 template, from the Recipient WSDL (loaded through zeep on first use)."""
        envelope = self._addall3
        if envelope is None:
            client = self._webservice("Recipient").client
            binding = next(iter(client.wsdl.bindings.values()))
            try:
                operation = binding.get("addAll3")
            except ValueError as exc:
                raise OptimizelyPermanentConfigError(
                    f"the Recipient WSDL has no addAll3: {exc}", operation="Recipient.addAll3"
                ) from None
            envelope = self._addall3 = AddAll3Envelope.from_operation(operation)
        return envelope

    def _call(self, webservice: str, operation: str, *args: Any) -> Any:
        """A session call (session id prepended) with re-login and the retry policy."""
        if self._closed:
            raise RuntimeError("client is closed")

        def attempt() -> Any:
            return self._session.call(lambda sid: self._send(webservice, operation, (sid, *args)))

        return self.retry_policy.call(f"{webservice}.{operation}", attempt)

    def _login(self) -> str:
        session_id = self._send("Session", "login", (self.mandator_id, self._user, self._password))
        if not session_id:
            raise OptimizelyPermanentConfigError("login returned no session id", operation="Session.login")
        return str(session_id)

    def _logout(self, session_id: str) -> None:
        self._send("Session", "logout", (session_id,))

    @property
    def call_counts(self) -> dict[str, int]:
        """HTTP requests sent per ``Webservice.operation`` (retries and logins included)."""
        with self._stats_lock:
            return dict(self._calls)

    @property
    def logins(self) -> int:
        return self._session.logins

    # ------------------------------------------------------------------ session

    def login(self) -> None:
        """Log in now (normally done on first use). Raises ``InvalidCredentialsError`` etc."""
        self.retry_policy.call("Session.login", self._session.current)

    def logout(self) -> None:
        """Log out if logged in (best effort, never raises)."""
        self._session.close()

    def close(self) -> None:
        """Log out and release connections. Idempotent."""
        if self._closed:
            return
        try:
            self._session.close()
        finally:
            self._closed = True
            self._http.close()

    def __enter__(self) -> OptimizelyCampaignClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ recipients

    def clear(self, list_id: int) -> None:
        """Remove every recipient of the list (irreversible)."""
        self._call("Recipient", "clear", int(list_id))

    def count(self, list_id: int) -> int:
        """Recipients in the list (pending ones included)."""
        return int(self._call("Recipient", "getCount", int(list_id), 0))

    def contains(self, list_id: int, recipient_id: str) -> bool:
        return _as_bool(self._call("Recipient", "contains", int(list_id), recipient_id))

    def get_all(self, list_id: int, attribute_names: Sequence[str] = ()) -> list[list[str]]:
        """Every recipient of the list: ``[recipient_id, email, *attribute values]`` per row."""
        rows = self._call("Recipient", "getAll", int(list_id), string_array(list(attribute_names))) or []
        return [["" if v is None else v for v in row] for row in rows]

    def add_batch(
        self,
        list_id: int,
        optin_process_id: int,
        attribute_names: Sequence[str],
        recipients: Sequence[Recipient],
        *,
        offset: int = 0,
    ) -> Sequence[AddResult]:
        """One addAll3 call (at most ``MAX_BATCH_SIZE`` recipients), validated first.

        Returns one ``AddResult`` per recipient in input order (an ``AddResults``: the outcomes
        are also there as a column, ``.outcomes``). ``offset`` is only used to name
        the position of an invalid recipient in error messages.
        """
        batch = _encoded(attribute_names, recipients, offset)
        return self._send_batch(int(list_id), int(optin_process_id), batch)

    def prepare_batch(
        self,
        list_id: int,
        optin_process_id: int,
        attribute_names: Sequence[str],
        recipients: Sequence[Recipient],
        *,
        offset: int = 0,
    ) -> bytes:
        """The addAll3 request of one batch, validated and encoded, but for the session id.

        ``add_prepared`` sends it later (with the recipient ids, in the same order), at the cost of
        one concatenation: the refill prepares every batch before it clears the list, so encoding
        takes no CPU from the platform while the list is empty. Raises like ``add_batch``.
        """
        batch = _encoded(attribute_names, recipients, offset)
        return self._addall3_envelope().without_session(int(list_id), int(optin_process_id), batch)

    def add_prepared(self, request: bytes, recipient_ids: Sequence[str]) -> AddResults:
        """Send what ``prepare_batch`` made for ``recipient_ids``; results as ``add_batch``'s."""
        if not len(recipient_ids):
            return AddResults([], [])
        if self._closed:
            raise RuntimeError("client is closed")
        envelope = self._addall3_envelope()
        headers = envelope.headers

        def attempt() -> Any:
            return self._session.call(
                lambda sid: self._post("Recipient", "addAll3", envelope.with_session(sid, request), headers)
            )

        codes = self.retry_policy.call("Recipient.addAll3", attempt)
        ids = recipient_ids
        if not isinstance(codes, list) or len(codes) != len(ids):
            raise OptimizelyPermanentConfigError(
                f"addAll3 returned {len(codes) if isinstance(codes, list) else type(codes).__name__} "
                f"result codes for {len(ids)} recipients",
                operation="Recipient.addAll3",
            )
        try:
            outcomes = list(map(_OUTCOMES.__getitem__, codes))
        except TypeError:  # an unhashable (array) member: not a code at all
            outcomes = [_outcome(code) for code in codes]
        return AddResults(ids, outcomes)

    def _send_batch(self, list_id: int, optin_process_id: int, batch: EncodedBatch) -> AddResults:
        if not len(batch):
            return AddResults([], [])
        if self._closed:
            raise RuntimeError("client is closed")
        request = self._addall3_envelope().without_session(list_id, optin_process_id, batch)
        return self.add_prepared(request, batch.recipient_ids)

    def add_all(
        self,
        list_id: int,
        optin_process_id: int,
        attribute_names: Sequence[str],
        recipients: Iterable[Recipient],
        *,
        on_batch: Callable[[BatchResult], None] | None = None,
    ) -> AddAllReport:
        """Add every recipient, ``batch_size`` per addAll3 call, up to ``max_parallel_calls`` at once.

        ``recipients`` is consumed lazily: ``max_parallel_calls`` batches on the wire plus one
        built and waiting for a free worker (so no worker idles while the next batch is read),
        at most ``max_parallel_calls + 1`` batches in memory. ``on_batch`` receives each
        finished batch in the calling thread (in completion order; ``BatchResult.index`` and
        ``offset`` say where it belongs).

        When a call fails (after its retries) or ``on_batch`` raises, no further batch is sent
        (the one waiting for a worker is skipped); the calls on the wire are finished and reported,
        then the error is raised with a note saying how far the upload got. A bad value
        (``InvalidRecipientDataError``) or a failing ``recipients`` source stops reading: every
        batch before it is sent and reported, the batch holding it and everything after are not.
        """
        list_id, optin_process_id = int(list_id), int(optin_process_id)
        names = check_names(attribute_names)
        report = AddAllReport(list_id=list_id)
        started = time.perf_counter()
        iterator = iter(recipients)
        pending: dict[Future[Sequence[AddResult]], tuple[int, int]] = {}
        failure: BaseException | None = None
        batch_index = 0
        offset = 0
        callback_failed = False
        # Set by a worker whose call failed *before* it takes the next batch from the queue, so
        # the batch waiting for a worker is never sent after a failure.
        stop = threading.Event()

        def send(*batch_args: Any) -> Sequence[AddResult]:
            if stop.is_set():
                raise _BatchNotSent
            try:
                return self._send_batch(*batch_args)
            except BaseException:
                stop.set()
                raise

        def collect(done: Iterable[Future[Sequence[AddResult]]]) -> None:
            nonlocal failure, callback_failed
            for future in done:
                index, first = pending.pop(future)
                try:
                    results = future.result()
                except _BatchNotSent:
                    continue
                except BaseException as exc:  # noqa: BLE001 - re-raised below
                    if failure is None:
                        failure = exc
                    continue
                report.batches += 1
                report.recipients += len(results)
                report.counts.update(r.outcome for r in results)
                # Batches finishing after another one failed are still reported: they were applied.
                if on_batch is not None and not callback_failed:
                    try:
                        on_batch(BatchResult(index, first, tuple(results)))
                    except BaseException as exc:  # noqa: BLE001 - re-raised below
                        callback_failed = True
                        stop.set()
                        if failure is None:
                            failure = exc

        executor = ThreadPoolExecutor(
            max_workers=self.max_parallel_calls, thread_name_prefix="optimizely-addAll3"
        )
        try:
            while failure is None:
                try:
                    batch = list(itertools.islice(iterator, self.batch_size))
                    if not batch:
                        break
                    encoded = encode_batch(batch, names, offset)
                except BaseException as exc:  # noqa: BLE001 - bad value, failing source, task killed:
                    failure = exc  # finish and report the batches already sent first, then raise
                    break
                future = executor.submit(send, list_id, optin_process_id, encoded)
                pending[future] = (batch_index, offset)
                batch_index += 1
                offset += len(batch)
                del batch, encoded
                if len(pending) > self.max_parallel_calls:  # workers busy + one batch ready
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    collect(done)
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                collect(done)
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
        report.seconds = time.perf_counter() - started
        if failure is not None:
            if isinstance(failure, Exception):
                failure.add_note(
                    f"add_all to list {list_id} stopped: {report.batches} batches "
                    f"({report.recipients} recipients) completed and reported before the failure"
                )
            raise failure
        log.info(
            "added %d recipients to list %d in %d batches in %.1fs: %s",
            report.recipients,
            list_id,
            report.batches,
            report.seconds,
            {o.name.lower(): n for o, n in sorted(report.counts.items())},
        )
        return report

    # ------------------------------------------------------------------ lists, opt-in, blocklist

    def list_ids(self) -> list[int]:
        return [int(v) for v in self._call("RecipientList", "getAllIds") or []]

    def list_name(self, list_id: int) -> str:
        return self._call("RecipientList", "getName", int(list_id)) or ""

    def list_description(self, list_id: int) -> str:
        return self._call("RecipientList", "getDescription", int(list_id)) or ""

    def list_attribute_names(self, list_id: int, locale: str = "en") -> list[str]:
        return [v or "" for v in self._call("RecipientList", "getAttributeNames", int(list_id), locale) or []]

    def optin_process_ids(self) -> list[int]:
        return [int(v) for v in self._call("OptinProcess", "getIds") or []]

    def optin_process_name(self, process_id: int) -> str:
        return self._call("OptinProcess", "getName", int(process_id)) or ""

    def optin_process_type(self, process_id: int) -> str:
        """``single``, ``confirmed`` or ``double``."""
        return self._call("OptinProcess", "getType", int(process_id)) or ""

    def is_blocklisted(self, email: str) -> bool:
        """Whether the address matches the blocklist (``BlacklistWebservice.isBlacklisted``)."""
        check_value(email, field="email", recipient_id=None, email=email, position=None)
        return _as_bool(self._call("Blacklist", "isBlacklisted", email))

    # ------------------------------------------------------------------ closed loop

    def current_time_ms(self) -> int:
        """The platform's clock in epoch milliseconds (``ClosedLoopWebservice.getCurrentTime``)."""
        return int(self._call("ClosedLoop", "getCurrentTime"))

    def closed_loop_rows(
        self, method: str, since_ms: int, until_ms: int, *, page_size: int = MAX_ROWS_PER_CALL
    ) -> Iterator[list[str | None]]:
        """Every row of a ClosedLoop export in ``[since_ms, until_ms)``, paged ``page_size`` at a time.

        Pages with ``startRow`` until a page comes back shorter than asked. Columns by position,
        see ``closed_loop_columns.CLOSED_LOOP_COLUMNS``. The next page is requested (and decoded) in
        a thread while the caller works through this one, so the platform's time per page and the
        caller's overlap; the calls are the same, one at a time, in the same order.
        """
        if method not in CLOSED_LOOP_COLUMNS:
            raise ValueError(f"unknown ClosedLoop export {method!r}; known: {sorted(CLOSED_LOOP_COLUMNS)}")
        if not 1 <= page_size <= MAX_ROWS_PER_CALL:
            raise ValueError(f"page_size must be between 1 and {MAX_ROWS_PER_CALL}")

        def page(start: int) -> list:
            return self._call("ClosedLoop", method, int(since_ms), int(until_ms), start, page_size) or []

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="closed-loop-page") as pages:
            start = 0
            pending = pages.submit(page, start)
            while True:
                rows = pending.result()
                last = len(rows) < page_size
                if not last:
                    start += len(rows)
                    pending = pages.submit(page, start)
                for row in rows:
                    yield list(row) if isinstance(row, list) else [row]
                if last:
                    return


# ---------------------------------------------------------------------- helpers


def _encoded(attribute_names: Sequence[str], recipients: Sequence[Recipient], offset: int) -> EncodedBatch:
    """One batch validated and encoded (``add_batch``, ``prepare_batch``); raises before anything is sent."""
    names = check_names(attribute_names)
    if len(recipients) > MAX_BATCH_SIZE:
        raise ValueError(f"a batch holds at most {MAX_BATCH_SIZE} recipients, got {len(recipients)}")
    return encode_batch(recipients, names, offset)


class _BatchNotSent(Exception):
    """A queued batch skipped because an earlier call failed (internal to ``add_all``)."""


def _as_bool(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1")


def _outcome(code: Any) -> AddOutcome:
    try:
        return AddOutcome(int(code))
    except (TypeError, ValueError):
        log.warning("unknown addAll3 result code %r counted as ERROR", code)
        return AddOutcome.ERROR


class _OutcomeByText(dict):
    """addAll3 code text -> ``AddOutcome``: a dict lookup per recipient instead of ``int`` + enum call."""

    def __missing__(self, code: Any) -> AddOutcome:
        return _outcome(code)  # not cached: unknown codes are logged each time


_OUTCOMES = _OutcomeByText({str(int(o)): o for o in AddOutcome})
