"""Land a remote file atomically: temporary name, size verified, renamed into place.

The file is streamed to ``.<name>.<pid>.part`` in the landing folder while its sha256, its size
and the facts the structure check needs (valid UTF-8, where the first bad line is, whether it
ends with a line feed) are taken from the same bytes, so nothing is read twice. Only when the
byte count equals the size the listing announced is it fsynced and renamed to its real name. Any
failure (connection dropped, short read, disk full) removes the temporary file and raises
``DownloadError``: a landed file is always complete, and the ledger never sees a partial one.
``fingerprint`` reads a remote file the same way without landing it (for tidying up: a file is
only deleted or moved when its current content is the one the ledger has as imported).
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from include.crm_sync.responses.errors import DownloadError
from include.crm_sync.responses.file_format import ENCODING
from include.crm_sync.responses.remote import RemoteFile, SftpClient

log = logging.getLogger(__name__)

BLOCK_SIZE = 1 << 20
#: progress is logged every this many bytes
_PROGRESS_BYTES = 64 << 20


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What one pass over the bytes tells: identity, encoding, whether the file is complete."""

    size: int
    sha256: str
    #: 1-based line of the first byte that is not UTF-8; None if the file is valid UTF-8
    bad_utf8_line: int | None
    bad_utf8_reason: str | None
    #: the last byte is a line feed (a file cut off mid-line does not end with one)
    ends_with_newline: bool


class ByteScanner:
    """Feed it the bytes of a file in order; ``facts()`` afterwards."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self._decoder = codecs.getincrementaldecoder(ENCODING)("strict")
        self._size = 0
        self._newlines = 0
        self._last = b""
        self._bad_line: int | None = None
        self._bad_reason: str | None = None

    def update(self, block: bytes) -> None:
        if not block:
            return
        self._sha.update(block)
        if self._bad_line is None:
            try:
                self._decoder.decode(block)
            except UnicodeDecodeError as exc:
                # exc.start is relative to the decoder's pending bytes + this block: count the
                # line feeds of this block before the bad byte (pending bytes hold none).
                pending = len(exc.object) - len(block)
                offset = max(0, exc.start - pending)
                self._bad_line = self._newlines + block.count(b"\n", 0, offset) + 1
                self._bad_reason = exc.reason
        self._newlines += block.count(b"\n")
        self._size += len(block)
        self._last = block[-1:]

    def facts(self) -> FileFacts:
        if self._bad_line is None:
            try:
                self._decoder.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                self._bad_line, self._bad_reason = self._newlines + 1, exc.reason
        return FileFacts(
            self._size, self._sha.hexdigest(), self._bad_line, self._bad_reason, self._last == b"\n"
        )


def scan_file(path: Path) -> FileFacts:
    """``FileFacts`` of a file already on disk (a landed copy reused by a retry or re-import)."""
    scanner = ByteScanner()
    with open(path, "rb") as f:
        while block := f.read(BLOCK_SIZE):
            scanner.update(block)
    return scanner.facts()


def download(client: SftpClient, remote: RemoteFile, landing_dir: Path) -> FileFacts:
    """Download ``remote`` to ``landing_dir/remote.name`` (replacing an older copy); its facts."""
    landing_dir.mkdir(parents=True, exist_ok=True)
    target = landing_dir / remote.name
    tmp = landing_dir / f".{remote.name}.{os.getpid()}.part"
    try:
        with open(tmp, "wb") as out:
            facts = _read_remote(client, remote, out.write)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
        _fsync_dir(landing_dir)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    log.info("%s: downloaded %d bytes, sha256 %s", remote.name, facts.size, facts.sha256[:12])
    return facts


def fingerprint(client: SftpClient, remote: RemoteFile) -> FileFacts:
    """The facts (sha256 above all) of the server's current bytes of ``remote``, nothing written.

    SFTP offers no checksum of a remote file: knowing a file by its content means reading it."""
    return _read_remote(client, remote, lambda _block: None)


def _read_remote(client: SftpClient, remote: RemoteFile, sink: Callable[[bytes], object]) -> FileFacts:
    """Stream ``remote`` into ``sink`` while taking its facts; ``DownloadError`` unless all of it came."""
    scanner = ByteScanner()
    received = 0
    try:
        try:
            handle = client.open(remote.path, "rb")
        except OSError as exc:
            raise DownloadError(f"{remote.name}: cannot open {remote.path}: {exc}") from exc
        try:
            prefetch = getattr(handle, "prefetch", None)
            if prefetch is not None:
                prefetch(remote.size)  # paramiko: pipeline the reads (several requests in flight)
            next_progress = _PROGRESS_BYTES
            while True:
                block = handle.read(BLOCK_SIZE)
                if not block:
                    break
                sink(block)
                scanner.update(block)
                received += len(block)
                if received > remote.size:
                    break
                if received >= next_progress:
                    log.info("%s: %d of %d bytes read", remote.name, received, remote.size)
                    next_progress += _PROGRESS_BYTES
        finally:
            handle.close()
        if received != remote.size:
            raise DownloadError(
                f"{remote.name}: received {received} bytes but the server listed {remote.size}; "
                "the download is discarded and will be retried"
            )
    except DownloadError:
        raise
    except Exception as exc:  # socket errors, EOFError, paramiko's SSHException, disk full ...
        raise DownloadError(
            f"{remote.name}: download failed after {received} of {remote.size} bytes "
            f"({type(exc).__name__}: {exc}); nothing was landed, a retry downloads it again"
        ) from exc
    return scanner.facts()


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
