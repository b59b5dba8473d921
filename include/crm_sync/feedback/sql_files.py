"""The parameterised SQL of the feedback apply, ``sql/feedback/<name>.sql`` (loader shared with the
response import: ``imports.sql_files``). The statements run on SQLite and PostgreSQL alike (SQLite
gets the few PostgreSQL functions they use registered, see ``event_key.register_sqlite_functions``).
"""

from __future__ import annotations

import functools

from include.crm_sync.config.paths import SQL_ROOT
from include.crm_sync.imports.sql_files import import_sql

SQL_DIR = SQL_ROOT / "feedback"

#: ``feedback_sql(name, **types)``: the statement ``sql/feedback/<name>.sql``
feedback_sql = functools.partial(import_sql, "feedback")
