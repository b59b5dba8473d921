"""Load the parameterised SQL of the response apply from ``sql/responses/<name>.sql``.

Plain SQL both SQLite and PostgreSQL run; parameters are bound (``:name``), never formatted in.
Comments are stripped first (the project's ``strip_comments``): SQLAlchemy's ``text()`` would take a
``:word`` inside a comment for a bind parameter.
"""

from __future__ import annotations

import functools

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from include.crm_sync.config.paths import SQL_ROOT
from include.crm_sync.extract.sql_text import strip_comments

SQL_DIR = SQL_ROOT / "responses"


@functools.cache
def _read(name: str) -> str:
    path = SQL_DIR / f"{name}.sql"
    if not path.exists():
        raise FileNotFoundError(f"no SQL file {path.name} in {SQL_DIR}")
    return strip_comments(path.read_text(encoding="utf-8"))


def response_sql(name: str, **types: TypeEngine) -> sa.TextClause:
    """The statement ``sql/responses/<name>.sql``; ``types`` types its bind parameters."""
    statement = sa.text(_read(name))
    if types:
        statement = statement.bindparams(*(sa.bindparam(key, type_=type_) for key, type_ in types.items()))
    return statement
