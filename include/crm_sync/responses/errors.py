"""Errors of the response-data import. Messages name the file and say what to do; none carries
row content such as e-mail addresses (invariant 6)."""

from __future__ import annotations


class ResponseImportError(Exception):
    """Base class of the response import's errors."""


class ResponseFileError(ResponseImportError):
    """A response file is unusable as a whole (truncated, wrong header, not UTF-8); nothing of it was
    applied. ``file_name`` names it, ``line`` the first offending line (1-based) where known."""

    def __init__(self, file_name: str, message: str, line: int | None = None) -> None:
        super().__init__(f"{file_name}: {message}")
        self.file_name = file_name
        self.line = line


class DownloadError(ResponseImportError):
    """A download failed part-way (connection dropped, short read); no file was landed or registered.
    Transient: a retry downloads the file again."""


class ResponseGapError(ResponseImportError):
    """The last successful import is older than the platform keeps response files: data may be lost."""


class ResponseCountError(ResponseImportError):
    """read != applied + known + ignored + rejected: a row was lost or counted twice; rolled back."""


class ResponseConfigError(ResponseImportError):
    """The response import configuration (config/response_import.yaml) is invalid."""


class ResponseFilesFailedError(ResponseImportError):
    """Some files could not be imported (listed); the others were. The run must fail loudly."""
