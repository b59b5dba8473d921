"""Turn a list's ``selection`` into a SQL predicate on ``crm_entity AS e``, with its bind parameters.

A file selection is read from ``sql/lists/`` and used as written (its ``:params`` bound from the
config) inside ``e.entity_id IN (SELECT sel.entity_id FROM (<file>) AS sel)``. A declarative
filter becomes plain conditions on ``e``: no second pass over ``crm_entity`` for the common case.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from include.crm_sync.config.models import ListDefinition, ListFilter
from include.crm_sync.config.paths import SQL_ROOT
from include.crm_sync.extract.sql_text import strip_comments


def selection_predicate(list_def: ListDefinition, sql_root: Path = SQL_ROOT) -> tuple[str, dict[str, Any]]:
    """(SQL predicate on ``e``, bind parameters) of the list's selection."""
    selection = list_def.selection
    if selection.sql is not None:
        text = strip_comments((sql_root / selection.sql).read_text(encoding="utf-8")).strip().rstrip(";")
        return f"e.entity_id IN (SELECT sel.entity_id FROM (\n{text}\n) AS sel)", dict(selection.params or {})
    assert selection.filter is not None  # the model guarantees exactly one of sql / filter
    return _filter_predicate(selection.filter)


def _in_list(column: str, prefix: str, values: list[str], params: dict[str, Any]) -> str:
    names = []
    for i, value in enumerate(values):
        params[f"{prefix}_{i}"] = value
        names.append(f":{prefix}_{i}")
    return f"{column} IN ({', '.join(names)})"


def _filter_predicate(flt: ListFilter) -> tuple[str, dict[str, Any]]:
    # Values are bound, never spliced; only fixed column names appear in the text.
    params: dict[str, Any] = {}
    conditions = ["1 = 1"]
    if flt.entity_types:
        conditions.append(_in_list("e.entity_type", "sys_f_type", flt.entity_types, params))
    if flt.languages:
        conditions.append(_in_list("lower(e.language)", "sys_f_lang", flt.languages, params))
    if flt.countries:
        conditions.append(_in_list("upper(e.country)", "sys_f_country", flt.countries, params))
    if flt.marketing_list:
        params["sys_f_marketing_list"] = flt.marketing_list
        conditions.append(
            "e.entity_id IN (SELECT m.entity_id FROM crm_marketing_list_member AS m "
            "WHERE m.list_key = :sys_f_marketing_list)"
        )
    return "(" + "\n  AND ".join(conditions) + ")", params
