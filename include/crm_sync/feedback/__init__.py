"""Bounce and unsubscribe import from the campaign platform into the CRM (step 1 of every sync).

Public API: ``import_feedback`` (both exports: window + landing + ledger + apply + watermark) and
``apply_feedback_file`` (re-apply one landed file), their reports, counts and errors. Modules:
``window`` (watermark, overlap, retention gap), ``landing`` (CSV landing files), ``csv_schema``
(the file format), ``ledger`` (file ledger), ``load`` (structure check + chunked validation),
``event_key`` (event identity), ``stage`` (temporary tables, bulk insert), ``apply`` (set-based
apply, SQL in ``sql/feedback/``), ``counts``, ``report``, ``errors``, ``importer``, ``holds`` (the
operators' command line for people held by a rejected row). The rules both imports share (a "no"
is applied whenever any field identifies its person, untrusted dates, the fail-safe hold) live in
``include/crm_sync/imports/``.
"""

from include.crm_sync.feedback.counts import FeedbackCounts
from include.crm_sync.feedback.errors import (
    CountMismatchError,
    FeedbackConfigError,
    FeedbackError,
    FeedbackFileError,
    FeedbackGapError,
    FeedbackImportError,
    LedgerConflictError,
)
from include.crm_sync.feedback.importer import apply_feedback_file, import_feedback
from include.crm_sync.feedback.report import FeedbackFileReport, FeedbackImportReport

__all__ = [
    "CountMismatchError",
    "FeedbackConfigError",
    "FeedbackCounts",
    "FeedbackError",
    "FeedbackFileError",
    "FeedbackFileReport",
    "FeedbackGapError",
    "FeedbackImportError",
    "FeedbackImportReport",
    "LedgerConflictError",
    "apply_feedback_file",
    "import_feedback",
]
