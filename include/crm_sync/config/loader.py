"""Load ``config/lists.yaml`` into ``ListsConfig`` with errors that name file, list, field and line.

A bad lists file must fail DAG parsing with a message a data engineer can act on, e.g.::

    config/lists.yaml: list 'newsletter_nl' (line 4), field 'consent' (line 9): exactly one consent
    id is required, got a list of 2 (newsletter, events); ...

YAML is read with a SafeLoader subclass that remembers the line of every mapping key and sequence
item (and refuses duplicate keys, which plain PyYAML silently collapses); pydantic error locations
are then mapped back to those lines. Only pydantic and PyYAML are imported: this runs at parse time.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from include.crm_sync.config.models import ListsConfig
from include.crm_sync.config.paths import DEFAULT_LISTS_PATH, LISTS_FILE_ENV, SQL_ROOT
from include.crm_sync.config.registry import LIST_BLOCKS


class ListsConfigError(ValueError):
    """The lists file is unreadable or invalid; ``problems`` holds one line per finding."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        head = (
            f"{self.path}: invalid list configuration ({len(problems)} problem{'s' * (len(problems) != 1)})"
        )
        super().__init__(head + "\n" + "\n".join(f"  - {p}" for p in problems))


# libyaml's parser when PyYAML was built with it (the wheels are): the file is read at every DAG
# parse, and the pure-Python parser is several times slower. Both give nodes with their lines.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_SafeLoader):  # type: ignore[misc, valid-type]
    """SafeLoader that records 1-based lines of mapping keys and sequence items by container id."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.key_lines: dict[int, dict[Any, int]] = {}
        self.start_lines: dict[int, int] = {}
        self.duplicates: list[str] = []


def _construct_map(loader: _LineLoader, node: yaml.MappingNode):  # type: ignore[no-untyped-def]
    data: dict[Any, Any] = {}
    yield data
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in seen:
            loader.duplicates.append(f"line {line}: key {key!r} is repeated (first at line {seen[key]})")
        seen.setdefault(key, line)
    data.update(loader.construct_mapping(node, deep=True))
    lines = {loader.construct_object(k, deep=True): k.start_mark.line + 1 for k, _ in node.value}
    loader.key_lines[id(data)] = lines
    loader.start_lines[id(data)] = node.start_mark.line + 1


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode):  # type: ignore[no-untyped-def]
    data: list[Any] = []
    yield data
    data.extend(loader.construct_sequence(node, deep=True))
    loader.key_lines[id(data)] = {i: item.start_mark.line + 1 for i, item in enumerate(node.value)}
    loader.start_lines[id(data)] = node.start_mark.line + 1


_PLAIN_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)", re.ASCII)


def _construct_int(loader: _LineLoader, node: yaml.ScalarNode) -> int | str:
    # YAML 1.1 reads an unquoted 01001 as octal 513, 0x3E9 as 1001 and 1:20 as 80: an id spelled
    # 01001 must name list 1001 (or be refused), never list 513. Only plain decimals become ints;
    # every other int spelling stays the text as written, for the validators to parse or refuse.
    text = loader.construct_scalar(node)
    return int(text) if _PLAIN_DECIMAL.fullmatch(text) else text


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)
_LineLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def _line_of(loader: _LineLoader, data: Any, loc: tuple[Any, ...]) -> tuple[int | None, Any]:
    """Line of the deepest existing element on ``loc``, and that element."""
    line, node = loader.start_lines.get(id(data)), data
    for part in loc:
        lines = loader.key_lines.get(id(node), {})
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            line, node = lines.get(part, line), node[part]
        else:
            break
    return line, node


def _describe(error: dict[str, Any]) -> str:
    """Plain words for a pydantic error."""
    kind, msg = error["type"], error["msg"]
    field = str(error["loc"][-1]) if error["loc"] else ""
    if kind == "extra_forbidden":
        return f"unknown key {field!r} (a typo? unknown keys are refused)"
    if kind == "missing":
        return f"required key {field!r} is missing"
    if kind == "unknown_platform":
        platform = error["input"].get("platform") if isinstance(error["input"], dict) else None
        return f"{platform!r} is not a known platform; use one of {error['ctx']['expected']}"
    if kind == "literal_error":
        return f"{error['input']!r} is not allowed here; use one of {error['ctx']['expected']}"
    if msg.startswith("Value error, "):
        return msg[len("Value error, ") :]
    return msg


def _list_loc(error: dict[str, Any]) -> tuple[Any, ...]:
    """The error's location in the file's terms: the platform tag pydantic's union puts after the
    list index is dropped, and list-wide findings point at the field they are about."""
    loc = tuple(error["loc"])
    ctx = error.get("ctx") or {}
    if len(loc) >= 3 and loc[0] == "lists" and isinstance(loc[1], int) and loc[2] in LIST_BLOCKS:
        loc = loc[:2] + loc[3:]
    if error["type"] in ("duplicate_list", "conflicting_field"):
        # Point at the second definition's field rather than at the whole 'lists:' key.
        loc = (*loc, ctx["index"], *ctx["field"].split("."))
    elif error["type"] in ("unknown_platform", "unsupported_platform"):
        loc = (*loc, "platform")
    return loc


def _format_error(path: Path | str, loader: _LineLoader, data: Any, error: dict[str, Any]) -> str:
    loc = _list_loc(error)
    parts = [str(path)]
    if len(loc) >= 2 and loc[0] == "lists" and isinstance(loc[1], int):
        list_line, item = _line_of(loader, data, loc[:2])
        name = item.get("name") if isinstance(item, dict) else None
        label = f"list {name!r}" if isinstance(name, str) else f"list #{loc[1] + 1}"
        parts.append(f"{label} (line {list_line})" if list_line else label)
        field_loc = loc[2:]
    else:
        field_loc = loc
    if field_loc:
        field_line, _ = _line_of(loader, data, loc)
        field_name = ".".join(str(p) for p in field_loc)
        parts.append(f"field {field_name!r} (line {field_line})" if field_line else f"field {field_name!r}")
    return (
        ", ".join(parts[:1])
        + ": "
        + ", ".join(parts[1:])
        + (": " if len(parts) > 1 else "")
        + _describe(error)
    )


def parse_lists(
    text: str, *, source: Path | str = "<string>", sql_root: Path | str = SQL_ROOT
) -> ListsConfig:
    """Parse lists YAML text; ``source`` is the file name used in error messages."""
    loader = _LineLoader(text)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        raise ListsConfigError(source, [f"{source}: not valid YAML: {exc}"]) from None
    finally:
        loader.dispose()
    if loader.duplicates:
        raise ListsConfigError(
            source, [f"{source}, {d}: duplicate keys are refused" for d in loader.duplicates]
        )
    if not isinstance(data, dict):
        raise ListsConfigError(source, [f"{source}: the file must be a mapping with a 'lists:' sequence"])
    try:
        return ListsConfig.model_validate(data, context={"sql_root": Path(sql_root)})
    except ValidationError as exc:
        raise ListsConfigError(
            source, [_format_error(source, loader, data, e) for e in exc.errors()]
        ) from None


def resolve_lists_path(path: Path | str | None = None) -> Path:
    """``path`` if given, else ``$CRM_SYNC_LISTS_FILE``, else the project's ``config/lists.yaml``."""
    if path is not None:
        return Path(path)
    return Path(os.environ.get(LISTS_FILE_ENV) or DEFAULT_LISTS_PATH)


def load_lists(path: Path | str | None = None, *, sql_root: Path | str = SQL_ROOT) -> ListsConfig:
    """Load and validate the lists file (see ``resolve_lists_path`` for which one).

    Raises ``ListsConfigError`` naming file, list, field and line for every problem found.
    """
    resolved = resolve_lists_path(path)
    try:
        text = resolved.read_text(encoding="utf-8")
    except OSError as exc:
        raise ListsConfigError(
            resolved, [f"{resolved}: cannot read the lists file: {exc.strerror or exc}"]
        ) from None
    return parse_lists(text, source=resolved, sql_root=sql_root)
