"""Column-wise checks of imported values, and what to do with a value that fails one.

Both imports validate a whole chunk's column at once: a fast whole-column test in C first, the
per-value scan only for a column that fails it. The checks:

* a non-printable character (C0/C1 controls, line/paragraph separators, zero-width and bidi format
  characters): such a value is not what the platform meant, and unsafe to pass on;
* a leading spreadsheet formula trigger (``= + - @``): only a concern where a value is later
  exported to a spreadsheet; e-mail addresses may legally start with ``-``, ``+`` or ``=``, so
  this check is never applied to a value that identifies a person;
* longer than the column that stores it.

A value failing a check is *neutralised*, not a reason to drop a bounce or unsubscribe: an
identifying value (recipient id, entity id, address) is not used to find the person (another
field may still identify them); any other value is stored as NULL, or where the column must hold
something, as ``fit_text`` of it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from itertools import repeat

NON_PRINTABLE = "control or other non-printable character in value (CSV/XML injection guard)"
FORMULA = "value starts with a formula trigger (= + - @; CSV injection guard)"
FORMULA_TRIGGERS = ("=", "+", "-", "@")
_REPLACEMENT = "\ufffd"
_HASH_CHARS = 16


def too_long(limit: int) -> str:
    return f"longer than {limit} characters"


def column_problems(
    raws: Sequence[str], values: Sequence[str], limit: int, *, formula_guard: bool
) -> dict[int, str]:
    """Row index -> the first problem of the column's value: ``raws`` as read, ``values`` stripped."""
    problems: dict[int, str] = {}
    if not "".join(raws).isprintable():
        problems.update((i, NON_PRINTABLE) for i, r in enumerate(raws) if not r.isprintable())
    if formula_guard and any(map(str.startswith, values, repeat(FORMULA_TRIGGERS))):
        for i, v in enumerate(values):
            if i not in problems and v.startswith(FORMULA_TRIGGERS):
                problems[i] = FORMULA
    if max(map(len, values), default=0) > limit:
        for i, v in enumerate(values):
            if i not in problems and len(v) > limit:
                problems[i] = too_long(limit)
    return problems


def printable(value: str) -> str:
    """``value`` without its non-printable characters (to find whom a rejected row names)."""
    return value if value.isprintable() else "".join(c for c in value if c.isprintable())


def fit_text(value: str, limit: int) -> str:
    """``value`` made safe to store in a column of ``limit`` characters, deterministically.

    Non-printable characters become U+FFFD; a value still too long keeps its start and ends with
    ``~`` and a hash of the whole value, so two different long values stay different.
    """
    if not value.isprintable():
        value = "".join(c if c.isprintable() else _REPLACEMENT for c in value)
    if len(value) <= limit:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]
    return f"{value[: limit - _HASH_CHARS - 1]}~{digest}"
