"""Response data from the campaign platform's SFTP area into the CRM (step 4, own schedule).

Public API: ``import_response_files`` (list, land, ledger, parse, load, apply, record success),
``tidy_remote_files`` (optional delete/move of imported files), ``check_gap``,
``load_response_settings`` and the report, count and error types. Modules: ``remote`` (SFTP
client protocol, listing), ``download`` (atomic landing + byte facts), ``parse`` (structure check,
chunked validation), ``stage`` (temporary tables), ``apply`` (set-based apply; bounces and
unsubscribes through the feedback apply of step 2), ``mapping`` (mailing → CRM campaign),
``gap``, ``settings``, ``counts``, ``report``, ``tidy``, ``file_format``.
"""

from include.crm_sync.responses.counts import ResponseCounts
from include.crm_sync.responses.errors import (
    DownloadError,
    ResponseConfigError,
    ResponseCountError,
    ResponseFileError,
    ResponseFilesFailedError,
    ResponseGapError,
    ResponseImportError,
)
from include.crm_sync.responses.gap import GapCheck, check_gap
from include.crm_sync.responses.importer import ReimportRange, import_response_files
from include.crm_sync.responses.report import ResponseFileReport, ResponseImportReport
from include.crm_sync.responses.settings import ResponseImportSettings, load_response_settings
from include.crm_sync.responses.tidy import TidyAction, tidy_remote_files

__all__ = [
    "DownloadError",
    "GapCheck",
    "ReimportRange",
    "ResponseConfigError",
    "ResponseCountError",
    "ResponseCounts",
    "ResponseFileError",
    "ResponseFileReport",
    "ResponseFilesFailedError",
    "ResponseGapError",
    "ResponseImportError",
    "ResponseImportReport",
    "ResponseImportSettings",
    "TidyAction",
    "check_gap",
    "import_response_files",
    "load_response_settings",
    "tidy_remote_files",
]
