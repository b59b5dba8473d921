"""Reading the project's SQL files: comment stripping and ``${slot}`` templating.

Comments are removed before a file is used because SQLAlchemy's ``text()`` takes every
``:word`` -- also one inside a comment -- for a bind parameter, and because a slot mentioned in a
comment must not be filled there. String literals are left exactly as written.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from string import Template

from include.crm_sync.config.paths import SQL_ROOT

# A string literal (kept) or a comment (dropped); literals first so "--" inside quotes survives.
_LITERAL_OR_COMMENT = re.compile(r"('(?:[^']|'')*')|--[^\n]*|/\*.*?\*/", re.S)


def strip_comments(sql: str) -> str:
    """``sql`` without ``--`` and ``/* */`` comments; string literals untouched."""
    return _LITERAL_OR_COMMENT.sub(lambda m: m.group(1) or "", sql)


@lru_cache(maxsize=32)
def _read(path: Path) -> str:
    return strip_comments(path.read_text(encoding="utf-8"))


def render_query(name: str, sql_root: Path = SQL_ROOT, **slots: str) -> str:
    """``sql/queries/<name>.sql`` with its ``${slots}`` filled (every slot must be given)."""
    return Template(_read(sql_root / "queries" / f"{name}.sql")).substitute(slots)
