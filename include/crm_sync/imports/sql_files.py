"""Load the parameterised SQL of an import from ``sql/<folder>/<name>.sql``.

The statements are plain SQL that SQLite and PostgreSQL both run. Comments are stripped with the
project's ``strip_comments`` first: SQLAlchemy's ``text()`` would take a ``:word`` inside a comment
for a bind parameter. Parameters are bound (``:name``), never formatted in.
"""

from __future__ import annotations

import functools

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from include.crm_sync.config.paths import SQL_ROOT
from include.crm_sync.extract.sql_text import strip_comments


@functools.cache
def _read(folder: str, name: str) -> str:
    path = SQL_ROOT / folder / f"{name}.sql"
    if not path.exists():
        raise FileNotFoundError(f"no SQL file {path.name} in {path.parent}")
    return strip_comments(path.read_text(encoding="utf-8"))


def import_sql(folder: str, name: str, **types: TypeEngine) -> sa.TextClause:
    """The statement ``sql/<folder>/<name>.sql``; ``types`` types its bind parameters."""
    statement = sa.text(_read(folder, name))
    if types:
        statement = statement.bindparams(*(sa.bindparam(key, type_=type_) for key, type_ in types.items()))
    return statement
