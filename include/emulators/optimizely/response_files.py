"""The platform's response-data job: CSV files of mailing responses, delivered over SFTP.

The job turns the feedback events of mailings (``feedback.py``: bounces and autoresponders,
unsubscribes, opens, clicks) into files in the SFTP area, ``/responses/`` under the SFTP root.
It runs on the emulator clock -- daily by default, at every multiple of ``interval_seconds`` since
the epoch (00:00 UTC) -- and on demand (``POST /_control/response-files``). Each run covers the
events *exported* since the previous run (``covered_until <= exported_at < until``), so every
event lands in exactly one file. Files older than ``lifetime_days`` (14-30, as on the platform)
disappear; a scheduled run whose file would already have expired when the clock jumped past it
writes nothing: that data is lost, as it is on the platform when nobody fetched it in time.

Nothing runs in the background: ``catch_up()`` performs every scheduled run that is due and
removes expired files, and the SFTP server and the control endpoint call it before they look at
the files. A client therefore sees exactly what a platform job running on time would have left,
and tests are deterministic (move the clock, then list).

File layout (a contract; the importer in ``include/crm_sync/responses`` reads exactly this):

* name ``responses_<mandator id>_<YYYYMMDDTHHMMSSZ>_<seq>.csv``: the end of the covered window
  and a sequence number that is never reused while the emulator runs, so names are unique;
* CSV, UTF-8 without BOM, ``\\n`` line ends, RFC 4180 quoting where needed, one header row,
  every line (the last one too) terminated by ``\\n``; written to a hidden temporary name and
  renamed, so a client never sees half a file;
* one event per row, in export order, columns ``COLUMNS``:

  ==================  ==============================================================================
  recipient_id        the recipient id the list holds (what the CRM uploaded: its entity id)
  entity_type         the recipient's ``entity-type`` attribute in the list, if known, else empty
  entity_id           the recipient's ``entity-id`` attribute in the list, if known, else empty
  recipient_list_id   the list the mailing went to
  mailing_id          the mailing
  wave_id             closed loop: the CRM campaign ("wave") id the mailing was sent for, else empty
  event_type          ``open`` | ``click`` | ``hardbounce`` | ``softbounce`` | ``unsubscribe`` |
                      ``autoresponder``
  occurred_at         event time, ISO-8601 UTC with whole seconds (``2026-11-25T23:12:01Z``)
  link_url            the clicked link (clicks only), else empty
  ==================  ==============================================================================

Only events of a mailing are response data: unsubscribes without a mailing, responses of the
category ``unknown`` and out-bounces (the SOAP ``getOutBounces`` export) are not in the files.
Retention applies as for the SOAP exports: events older than the retention, or of a mailing
dispatched longer ago than that, are not written.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from include.emulators.optimizely import feedback as fb
from include.emulators.optimizely.clock import Clock
from include.emulators.optimizely.lists import PACKED
from include.emulators.optimizely.state import EmulatorState
from include.emulators.optimizely.timestamps import iso_utc, to_millis

COLUMNS = (
    "recipient_id",
    "entity_type",
    "entity_id",
    "recipient_list_id",
    "mailing_id",
    "wave_id",
    "event_type",
    "occurred_at",
    "link_url",
)
EVENT_TYPES = ("open", "click", "hardbounce", "softbounce", "unsubscribe", "autoresponder")
#: folder of the response files under the SFTP root (remote path ``/responses``)
RESPONSE_DIR = "responses"
FILE_PATTERN = "responses_*.csv"
ENCODING = "utf-8"
LINE_TERMINATOR = "\n"
MIN_LIFETIME_DAYS, MAX_LIFETIME_DAYS = 14, 30
_KINDS = (fb.RESPONSE, fb.UNSUBSCRIBE, fb.OPEN, fb.CLICK)


@dataclass
class ResponseFile:
    """One file in the SFTP area (``path`` relative to the root, posix)."""

    path: str
    created_at: float
    size: int
    events: int | None  # None for files placed with put_raw
    window: tuple[float, float] | None = None

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": "/" + self.path,
            "created_at": iso_utc(self.created_at),
            "size": self.size,
            "events": self.events,
            "window": [iso_utc(self.window[0]), iso_utc(self.window[1])] if self.window else None,
        }


def event_row(event: fb.FeedbackEvent, state: EmulatorState) -> list[str] | None:
    """The file row of one feedback event, or None if it is not response data."""
    if event.mailing_id is None:
        return None
    if event.kind == fb.RESPONSE:
        if event.category not in ("hardbounce", "softbounce", "autoresponder"):
            return None
        event_type = event.category
    elif event.kind == fb.UNSUBSCRIBE:
        event_type = "unsubscribe"
    elif event.kind in (fb.OPEN, fb.CLICK):
        event_type = event.kind
    else:
        return None
    mailing = state.mailings.get(event.mailing_id)
    entity_type, entity_id = _entity_of(state, event.list_id, event.recipient_id)
    return [
        event.recipient_id,
        entity_type,
        entity_id,
        "" if event.list_id is None else str(event.list_id),
        str(event.mailing_id),
        (mailing.wave_id or "") if mailing is not None else "",
        event_type,
        iso_utc(event.occurred_at),
        (event.link_url or "") if event.kind == fb.CLICK else "",
    ]


def _entity_of(state: EmulatorState, list_id: int | None, recipient_id: str) -> tuple[str, str]:
    """``entity-type``/``entity-id`` of the recipient in its list, where the list knows them."""
    rlist = state.lists.get(list_id) if list_id is not None else None
    if rlist is None:
        return "", ""
    recipient = rlist.recipients.get(recipient_id)  # a dict read: safe without the list lock
    if recipient is None:
        return "", ""
    names = rlist.attribute_names()
    values = rlist.unpack(recipient[PACKED])
    # strict=False: stored values are not screened for SEPARATOR; a read must not fail on one.
    by_name = dict(zip(names, values, strict=False))
    return by_name.get("entity-type", ""), by_name.get("entity-id", "")


def write_rows(out: io.BufferedIOBase, rows: Iterable[list[str]]) -> int:
    """Header + rows as the platform writes them (UTF-8, ``\\n``); returns the number of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=LINE_TERMINATOR)
    writer.writerow(COLUMNS)
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
        if count % 5000 == 0:
            out.write(buffer.getvalue().encode(ENCODING))
            buffer.seek(0)
            buffer.truncate()
    out.write(buffer.getvalue().encode(ENCODING))
    return count


class ResponseFileStore:
    """The SFTP area of one emulator: the response-data job, the files, their lifetime."""

    _sequence_lock = threading.Lock()
    _sequence = 0  # process-wide: a name is never reused, not even across resets

    def __init__(
        self,
        state: EmulatorState,
        clock: Clock,
        *,
        mandator_id: int,
        root: str | Path | None = None,
        lifetime_days: float = 30,
        interval_seconds: float = 86400.0,
    ) -> None:
        if not MIN_LIFETIME_DAYS <= lifetime_days <= MAX_LIFETIME_DAYS:
            raise ValueError(
                f"response file lifetime must be {MIN_LIFETIME_DAYS}-{MAX_LIFETIME_DAYS} days "
                f"(as on the platform), got {lifetime_days}"
            )
        if interval_seconds < 0:
            raise ValueError("the response job interval must be >= 0 seconds (0 = on demand only)")
        self.state = state
        self.clock = clock
        self.mandator_id = mandator_id
        self.lifetime_seconds = lifetime_days * 86400.0
        self.interval_seconds = interval_seconds
        if root is None:
            self.root = Path(tempfile.mkdtemp(prefix="optimizely-sftp-"))
            self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.root), ignore_errors=True)
        else:
            self.root = Path(root).expanduser().resolve()
            self._finalizer = None
        self.lock = threading.RLock()
        self.reset()

    # ------------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        """Empty the SFTP area; the job starts over (its first run covers the whole retention)."""
        with self.lock:
            self.root.mkdir(parents=True, exist_ok=True)
            for child in self.root.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
            (self.root / RESPONSE_DIR).mkdir()
            now = self.clock.now()
            self._files: dict[str, ResponseFile] = {}
            self.covered_until = now - self.state.retention_seconds
            self.next_run_at = self._next_slot(now) if self.interval_seconds else None
            self.runs = 0
            self.lost_runs = 0

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()

    def _next_slot(self, after: float) -> float:
        interval = self.interval_seconds
        return (int(after // interval) + 1) * interval

    # ------------------------------------------------------------------ the job
    def catch_up(self) -> list[ResponseFile]:
        """Run every scheduled job that is due (oldest first) and remove expired files."""
        written = []
        with self.lock:
            now = self.clock.now()
            if now < self.covered_until:
                # The clock was set back (tests, demos): start the job over from there.
                self.covered_until = now - self.state.retention_seconds
                self.next_run_at = self._next_slot(now) if self.interval_seconds else None
            elif self.next_run_at is not None and self.next_run_at - self.interval_seconds > now:
                self.next_run_at = self._next_slot(now)
            while self.next_run_at is not None and self.next_run_at <= now:
                slot = self.next_run_at
                if slot + self.lifetime_seconds <= now:
                    # Its file would be gone already: nobody could have fetched it.
                    self.covered_until = max(self.covered_until, slot)
                    self.lost_runs += 1
                else:
                    written.append(self._run(slot, slot))
                self.next_run_at = slot + self.interval_seconds
            self._purge(now)
        return written

    def run_now(self) -> ResponseFile:
        """The on-demand run (control endpoint): due scheduled runs first, then one up to now."""
        with self.lock:
            self.catch_up()
            now = self.clock.now()
            return self._run(max(now, self.covered_until), now)

    def _run(self, until: float, created_at: float) -> ResponseFile:
        state = self.state
        since = self.covered_until
        since_ms, until_ms = to_millis(since), to_millis(until)
        with state.registry_lock:
            picked = [
                e
                for kind in _KINDS
                for e in state.events.window(kind, since_ms, until_ms)
                if state.is_exportable(e, until)
            ]
        picked.sort(key=lambda e: e.sort_key)
        rows = (row for row in (event_row(e, state) for e in picked) if row is not None)
        with ResponseFileStore._sequence_lock:
            ResponseFileStore._sequence += 1
            seq = ResponseFileStore._sequence
        stamp = datetime.fromtimestamp(int(until), tz=UTC).strftime("%Y%m%dT%H%M%SZ")
        name = f"responses_{self.mandator_id}_{stamp}_{seq:06d}.csv"
        path = f"{RESPONSE_DIR}/{name}"
        count = self._write_atomically(path, lambda out: write_rows(out, rows), created_at)
        record = ResponseFile(path, created_at, (self.root / path).stat().st_size, count, (since, until))
        self._files[path] = record
        self.covered_until = max(self.covered_until, until)
        self.runs += 1
        return record

    def _write_atomically(self, path: str, write: Any, created_at: float) -> Any:
        target = self.root / path
        tmp = target.with_name(f".{target.name}.tmp")
        try:
            with open(tmp, "wb") as out:
                result = write(out)
                out.flush()
                os.fsync(out.fileno())
            os.utime(tmp, (created_at, created_at))
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return result

    def _purge(self, now: float) -> None:
        for path, record in list(self._files.items()):
            if record.created_at + self.lifetime_seconds <= now:
                (self.root / path).unlink(missing_ok=True)
                del self._files[path]

    # ------------------------------------------------------------------ files
    def put_raw(
        self, name: str, data: bytes, *, created_at: float | None = None, directory: str = RESPONSE_DIR
    ) -> ResponseFile:
        """Place a file with exactly these bytes (tests: truncated, badly encoded, wrong header)."""
        if "/" in name or name.startswith(".") or not name:
            raise ValueError(f"not a plain file name: {name!r}")
        with self.lock:
            created = self.clock.now() if created_at is None else created_at
            (self.root / directory).mkdir(parents=True, exist_ok=True)
            path = f"{directory}/{name}"
            self._write_atomically(path, lambda out: out.write(data), created)
            record = ResponseFile(path, created, len(data), None)
            self._files[path] = record
            return record

    def files(self, pattern: str | None = None) -> list[ResponseFile]:
        """Files currently in the area (due runs done, expired files gone), oldest first."""
        self.catch_up()
        with self.lock:
            found = sorted(self._files.values(), key=lambda f: (f.created_at, f.path))
        return [f for f in found if pattern is None or fnmatch.fnmatch(f.name, pattern)]

    def read(self, name: str) -> bytes:
        with self.lock:
            for record in self._files.values():
                if record.name == name:
                    return (self.root / record.path).read_bytes()
        raise FileNotFoundError(name)

    # called by the SFTP server when a client changes the area
    def forget(self, path: str) -> None:
        with self.lock:
            self._files.pop(path, None)

    def moved(self, old: str, new: str) -> None:
        with self.lock:
            record = self._files.pop(old, None)
            if record is not None:
                record.path = new
                self._files[new] = record

    def summary(self) -> dict[str, Any]:
        files = self.files()
        with self.lock:
            return {
                "root": str(self.root),
                "directory": "/" + RESPONSE_DIR,
                "lifetime_days": self.lifetime_seconds / 86400.0,
                "interval_seconds": self.interval_seconds,
                "covered_until": iso_utc(self.covered_until),
                "next_run_at": iso_utc(self.next_run_at) if self.next_run_at is not None else None,
                "runs": self.runs,
                "lost_runs": self.lost_runs,
                "files": [f.as_dict() for f in files],
            }
