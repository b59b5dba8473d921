"""Errors of the feedback import. Every message names the file/export and says what to do;
none carries an e-mail address or other row content (invariant 6)."""

from __future__ import annotations


class FeedbackError(Exception):
    """Base class of the feedback import's errors."""


class FeedbackFileError(FeedbackError):
    """A landing file is structurally unusable (encoding, header, field count); nothing of it was applied."""


class FeedbackGapError(FeedbackError):
    """The last successful import is older than the platform keeps response data: data may be lost."""


class LedgerConflictError(FeedbackError):
    """A file name is already in the ledger with different content."""


class CountMismatchError(FeedbackError):
    """read != applied + known + rejected: a row was lost or counted twice; the apply is rolled back."""


class FeedbackConfigError(FeedbackError):
    """The list → consent mapping passed in names a consent the CRM does not have."""


class FeedbackImportError(FeedbackError):
    """At least one export failed; the exports that succeeded are applied and their watermarks moved."""
