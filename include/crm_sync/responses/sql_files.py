"""The parameterised SQL of the response apply, ``sql/responses/<name>.sql`` (loader shared with the
feedback import: ``imports.sql_files``). Plain SQL both SQLite and PostgreSQL run.
"""

from __future__ import annotations

import functools

from include.crm_sync.config.paths import SQL_ROOT
from include.crm_sync.imports.sql_files import import_sql

SQL_DIR = SQL_ROOT / "responses"

#: ``response_sql(name, **types)``: the statement ``sql/responses/<name>.sql``
response_sql = functools.partial(import_sql, "responses")
