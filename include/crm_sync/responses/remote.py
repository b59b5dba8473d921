"""The remote side as the importer needs it: a small SFTP client protocol and the file listing.

``SftpClient`` is the subset of ``paramiko.SFTPClient`` the import uses, so the domain code runs
against the real client (Airflow's ``SFTPHook`` hands one out) and tests drive it against the
emulator's real SFTP server; nothing here imports paramiko or Airflow.
"""

from __future__ import annotations

import fnmatch
import posixpath
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import IO, Any, Protocol


class RemoteAttributes(Protocol):
    filename: str
    st_size: int | None
    st_mtime: float | None
    st_mode: int | None


class SftpClient(Protocol):
    def listdir_attr(self, path: str = ".") -> Sequence[RemoteAttributes]: ...

    def stat(self, path: str) -> RemoteAttributes: ...

    def open(self, filename: str, mode: str = "r", bufsize: int = -1) -> IO[bytes]: ...

    def remove(self, path: str) -> None: ...

    def rename(self, oldpath: str, newpath: str) -> None: ...

    def mkdir(self, path: str, mode: int = 0o777) -> None: ...


@dataclass(frozen=True, slots=True)
class RemoteFile:
    name: str
    path: str
    size: int
    modified_at: datetime

    @property
    def modified_on(self) -> date:
        return self.modified_at.date()

    @property
    def source(self) -> str:
        return f"sftp:{self.path}"


def list_remote_files(client: SftpClient, directory: str, pattern: str = "*") -> list[RemoteFile]:
    """Regular files in ``directory`` whose name matches ``pattern``, oldest first (then by name)."""
    found = []
    for attributes in client.listdir_attr(directory):
        name = attributes.filename
        mode: Any = attributes.st_mode
        if name.startswith(".") or (mode is not None and not stat.S_ISREG(mode)):
            continue
        if not fnmatch.fnmatchcase(name, pattern):
            continue
        modified = datetime.fromtimestamp(attributes.st_mtime or 0, tz=UTC)
        found.append(
            RemoteFile(name, posixpath.join(directory, name), int(attributes.st_size or 0), modified)
        )
    found.sort(key=lambda f: (f.modified_at, f.name))
    return found
