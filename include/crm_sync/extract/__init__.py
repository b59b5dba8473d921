"""Extraction: a list's selection, scoped to its one consent, frozen as the list run's snapshot.

``extract_snapshot`` writes the snapshot inside the database (no rows pass through Python);
``iter_snapshot`` reads it back in upload order as ``Recipient`` objects (tools and tests; the
refill itself reads column batches with ``sync.snapshot_pages``, which is cheaper per row and
bounds each page by seq range).
"""

from include.crm_sync.extract.reasons import ExclusionReason
from include.crm_sync.extract.snapshot_reader import SnapshotGapError, iter_snapshot
from include.crm_sync.extract.snapshot_writer import ExtractionError, ExtractionReport, extract_snapshot

__all__ = [
    "ExclusionReason",
    "ExtractionError",
    "ExtractionReport",
    "SnapshotGapError",
    "extract_snapshot",
    "iter_snapshot",
]
