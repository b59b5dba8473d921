"""Vectorised parsing of ISO 8601 timestamps that must carry an explicit offset (``Z`` or ``±hh:mm``).

Shared by the feedback load and the response parse: both validate a whole chunk's column at once
and need the rows whose time is malformed or has no offset (a time without one would silently be
read as local time).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat

import numpy as np
import pandas as pd


def has_offset(text: str) -> bool:
    """Date, 'T', time and an explicit offset (``Z`` or ``±hh:mm``); pandas validates the rest."""
    return len(text) >= 20 and text[10] == "T" and (text[-1] == "Z" or (text[-6] in "+-" and text[-3] == ":"))


def parse_offset_times(texts: Sequence[str], fast_length: int) -> tuple[pd.Series, np.ndarray]:
    """The UTC times of ``texts`` and a boolean mask of the malformed ones.

    ``fast_length`` is the length of the writer's own ``…Z`` form: when every value has that length,
    a 'T' and a trailing 'Z', the per-value offset check is skipped (the common, fast case).
    """
    if (
        set(map(len, texts)) == {fast_length}
        and all(map(str.endswith, texts, repeat("Z")))
        and {t[10] for t in texts} == {"T"}
    ):
        with_offset: list[str | None] = list(texts)
    else:
        with_offset = [v if has_offset(v) else None for v in texts]
    times = pd.to_datetime(pd.Series(with_offset, dtype=object), format="ISO8601", utc=True, errors="coerce")
    return times, times.isna().to_numpy()
