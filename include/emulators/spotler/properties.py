"""Validation of contact properties against the account's property definitions.

A value that does not fit its definition makes the contact PROPERTY_INVALID (nothing of it is
written): an unknown property, an e-mail address that is not one (or longer than 255), a string
longer than 255, an int that is not an integer, a date that is not ISO-8601, a SET value that is
not a list of ``{bit, enabled}`` with defined bits. SET values are stored as ``{bit: enabled}``.
"""

from __future__ import annotations

import re
import sys
from datetime import date
from typing import Any

from include.emulators.spotler.model import PropertyDef

MAX_TEXT = 255
# Deliberately simple: one @, something before it, a dotted domain after it, no spaces.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class PropertyInvalid(ValueError):
    pass


def parse_properties(definitions: dict[str, PropertyDef], raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise PropertyInvalid("properties must be an object")
    parsed: dict[str, Any] = {}
    for name, value in raw.items():
        definition = definitions.get(name)
        if definition is None:
            raise PropertyInvalid(f"Unknown property '{name}'")
        # One shared key object per property name: at a million contacts the per-contact copies
        # that JSON decoding makes would cost ~50 bytes each.
        parsed[sys.intern(name)] = _value(definition, value)
    return parsed


def _value(definition: PropertyDef, value: Any) -> Any:
    name, kind = definition.name, definition.type
    if value is None:
        return None
    if kind == "email":
        if not isinstance(value, str) or len(value) > MAX_TEXT or not _EMAIL.match(value):
            raise PropertyInvalid(f"Property '{name}' is not a valid e-mail address")
        return value
    if kind == "string":
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise PropertyInvalid(f"Property '{name}' must be a string of at most {MAX_TEXT} characters")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise PropertyInvalid(f"Property '{name}' must be an integer")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise PropertyInvalid(f"Property '{name}' must be true or false")
        return value
    if kind == "date":
        try:
            date.fromisoformat(str(value)[:10])
        except ValueError:
            raise PropertyInvalid(f"Property '{name}' must be an ISO-8601 date") from None
        return str(value)
    if kind == "set":
        bits = {bit for bit, _ in definition.entries}
        if not isinstance(value, list):
            raise PropertyInvalid(f"Property '{name}' must be a list of {{bit, enabled}}")
        parsed: dict[int, bool] = {}
        for entry in value:
            if (
                not isinstance(entry, dict)
                or entry.get("bit") not in bits
                or not isinstance(entry.get("enabled"), bool)
            ):
                raise PropertyInvalid(
                    f"Property '{name}': each entry is {{bit: one of {sorted(bits)}, enabled: bool}}"
                )
            parsed[entry["bit"]] = entry["enabled"]
        return parsed
    raise PropertyInvalid(f"Property '{name}' has unsupported type {kind}")


def merge(current: dict[str, Any], update: dict[str, Any], purge: bool) -> dict[str, Any]:
    """The properties after an upsert: ``purge`` replaces them all, else the given ones win
    (SET values merge bit by bit: bits not mentioned keep their state)."""
    if purge:
        return dict(update)
    merged = dict(current)
    for name, value in update.items():
        old = merged.get(name)
        merged[name] = {**old, **value} if isinstance(old, dict) and isinstance(value, dict) else value
    return merged
