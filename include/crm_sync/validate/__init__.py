"""Validation of a frozen snapshot before it may replace a platform list.

great-expectations runs as SQL against the staging database (the snapshot never enters pandas)
and is imported lazily inside ``validate_snapshot``: importing this package -- as DAG files do --
costs nothing. The e-mail rule shared with the extraction lives in ``email_syntax``.
"""
