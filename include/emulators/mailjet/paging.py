"""The collection envelope ``{Count, Data, Total}`` with ``Limit`` (default 10, at most 1000),
``Offset``, ``Sort`` (``ID``, ``ID desc``, or any returned field) and ``countOnly=1``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from include.emulators.mailjet.errors import ApiError


def envelope(
    items: Sequence[Any],
    params: dict[str, str],
    render: Callable[[Any], dict[str, Any]],
    max_limit: int,
    default_limit: int,
    sort_keys: dict[str, Callable[[Any], Any]] | None = None,
) -> dict[str, Any]:
    """One page of ``items``; ``sort_keys`` are fast keys of sortable fields (else the rendered field)."""
    if params.get("countOnly") in ("1", "true", "True"):
        return {"Count": len(items), "Data": [], "Total": len(items)}
    try:
        limit = int(params.get("Limit", default_limit))
        offset = int(params.get("Offset", 0))
    except ValueError:
        raise ApiError(400, "Limit and Offset must be integers") from None
    if limit < 1 or limit > max_limit:
        raise ApiError(400, f"Limit must be between 1 and {max_limit}")
    if offset < 0:
        raise ApiError(400, "Offset must not be negative")
    rendered_sort = params.get("Sort")
    rows = list(items)
    if rendered_sort:
        field, _, direction = rendered_sort.partition(" ")
        reverse = direction.strip().lower() == "desc"
        key = (sort_keys or {}).get(field) or (lambda item: render(item)[field])
        try:
            rows.sort(key=key, reverse=reverse)
        except KeyError:
            raise ApiError(400, f"Cannot sort on {field!r}") from None
    page = [render(item) for item in rows[offset : offset + limit]]
    return {"Count": len(page), "Data": page, "Total": len(items)}


def flag(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.strip().lower() in ("1", "true", "yes")
