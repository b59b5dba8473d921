"""Load the parameterised SQL of the feedback apply from ``sql/feedback/<name>.sql``.

The statements are plain SQL that SQLite and PostgreSQL both run (SQLite gets the few PostgreSQL
functions they use registered, see ``event_key.register_sqlite_functions``). Comments are
stripped with the project's ``strip_comments`` (a ``:word`` in a comment would otherwise become a
bind parameter). Parameters are bound (``:name``), never formatted in.
"""

from __future__ import annotations

import functools

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from include.crm_sync.config.paths import SQL_ROOT
from include.crm_sync.extract.sql_text import strip_comments

SQL_DIR = SQL_ROOT / "feedback"


@functools.cache
def _read(name: str) -> str:
    path = SQL_DIR / f"{name}.sql"
    if not path.exists():
        raise FileNotFoundError(f"no SQL file {path.name} in {SQL_DIR}")
    return strip_comments(path.read_text(encoding="utf-8"))


def feedback_sql(name: str, **types: TypeEngine) -> sa.TextClause:
    """The statement ``sql/feedback/<name>.sql``; ``types`` types its bind parameters."""
    statement = sa.text(_read(name))
    if types:
        statement = statement.bindparams(*(sa.bindparam(key, type_=type_) for key, type_ in types.items()))
    return statement
