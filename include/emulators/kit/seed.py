"""Reading a seed file (YAML, or JSON which is YAML too) into a mapping, with errors that name the
file and the field. Each emulator turns the mapping into its own records and re-applies them on
every ``/_control/reset``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class SeedError(ValueError):
    pass


def load_document(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SeedError(f"{path}: cannot read seed: {exc}") from exc
    if not isinstance(document, dict):
        raise SeedError(f"{path}: the seed must be a mapping")
    return document


def required(item: Any, key: str, where: str) -> Any:
    """``item[key]``, or SeedError("<where>.<key> is required") when missing or empty."""
    if not isinstance(item, dict) or item.get(key) in (None, ""):
        raise SeedError(f"{where}.{key} is required")
    return item[key]
