"""Land one export as a CSV file: written to a temporary name, renamed into place atomically.

The file is the raw record of what the platform sent (values as exported, not cleaned: the loader
judges them), so a landed file can always be re-applied or inspected later. Size and sha256 are
computed from the bytes as they are written, so the ledger needs no second read.

A landed file is trusted for its sha256 only, never for its name or size: an existing file of the
same name is kept only if its bytes hash the same, and ``verify_unchanged`` re-reads the file
after it was applied (inside the apply's transaction) so that bytes that changed on disk since
they were registered never take effect under the registered sha256.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from include.crm_sync.feedback.csv_schema import COLUMN_NAMES, ENCODING, LINE_TERMINATOR, row_values
from include.crm_sync.feedback.errors import LedgerConflictError
from include.crm_sync.platforms.base import FeedbackKind, FeedbackRow

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_FLUSH_ROWS = 5000
PROGRESS_EVERY = 100_000


@dataclass(frozen=True, slots=True)
class LandedFile:
    path: Path
    kind: FeedbackKind
    size_bytes: int
    sha256: str
    rows: int

    @property
    def name(self) -> str:
        return self.path.name


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%S") + f"{value.microsecond // 1000:03d}Z"


def landing_file_name(
    platform: str, kind: FeedbackKind, since: datetime, until: datetime, run_id: str
) -> str:
    """``<platform>_<kind>_<since>_<until>_<run id>.csv``; the run id is made file-name safe.

    A run id that had to be altered (Airflow's ``scheduled__2025-01-01T00:00:00+00:00``) gets a short
    hash of the original, so two run ids never collapse into one name.
    """
    safe = _UNSAFE.sub("_", run_id).strip("_")[:80] or "run"
    if safe != run_id:
        safe += "-" + hashlib.sha256(run_id.encode()).hexdigest()[:8]
    return f"{_UNSAFE.sub('_', platform)}_{kind.value}_{_stamp(since)}_{_stamp(until)}_{safe}.csv"


def write_landing_file(
    directory: Path,
    name: str,
    kind: FeedbackKind,
    rows: Iterable[FeedbackRow],
) -> LandedFile:
    """Write ``rows`` under ``directory/name``; on any error no file of that name appears.

    If the name already exists with the same content (a retry of the very same window) it is kept;
    with different content the write is refused rather than overwriting a landed record.
    """
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    tmp = directory / f".{name}.{os.getpid()}.tmp"
    digest = hashlib.sha256()
    size = 0
    count = 0
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=LINE_TERMINATOR)
    writer.writerow(COLUMN_NAMES)
    try:
        with open(tmp, "wb") as out:

            def flush() -> None:
                nonlocal size
                data = buffer.getvalue().encode(ENCODING)
                buffer.seek(0)
                buffer.truncate()
                digest.update(data)
                size += len(data)
                out.write(data)

            for row in rows:
                if row.kind != kind:
                    raise ValueError(
                        f"{name}: the platform returned a {row.kind.value} row in the {kind.value} export"
                    )
                writer.writerow(row_values(row))
                count += 1
                if count % _FLUSH_ROWS == 0:
                    flush()
                if count % PROGRESS_EVERY == 0:
                    log.info("%s: %d rows received", name, count)
            flush()
            out.flush()
            os.fsync(out.fileno())
        landed = LandedFile(target, kind, size, digest.hexdigest(), count)
        if target.exists():
            if sha256_of(target) != landed.sha256:
                raise FileExistsError(
                    f"{target} exists with different content; refusing to overwrite a landed file"
                )
            tmp.unlink()
        else:
            os.replace(tmp, target)
            _fsync_dir(directory)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    log.info("%s: landed %d rows, %d bytes, sha256 %s", name, count, size, landed.sha256[:12])
    return landed


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify_unchanged(landed: LandedFile) -> None:
    """Raise ``LedgerConflictError`` unless the file on disk still has ``landed``'s size and sha256.

    Called after the apply read the file, before it is marked applied: a file rewritten before or
    while it was read rolls the apply back instead of being recorded as the content registered."""
    size = landed.path.stat().st_size if landed.path.exists() else -1
    sha256 = sha256_of(landed.path) if size == landed.size_bytes else None
    if sha256 != landed.sha256:
        raise LedgerConflictError(
            f"{landed.name}: the landed file changed since it was registered (now {size} bytes"
            f"{f', sha256 {sha256[:12]}' if sha256 else ''}; registered {landed.size_bytes} bytes, sha256 "
            f"{landed.sha256[:12]}); nothing of it was applied. Find out what rewrote it; a retry lands it "
            "again"
        )


def describe_file(path: Path, kind: FeedbackKind, rows: int = -1) -> LandedFile:
    """A ``LandedFile`` for a file already on disk (size and sha256 read from it)."""
    return LandedFile(path, kind, path.stat().st_size, sha256_of(path), rows)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
