"""Reading and validating a seed file (YAML) into plain records; state.py applies them.

Times stay unresolved here (``-3d`` is relative to the moment the state is reset, not to when the
file was read), so one parsed seed can be re-applied on every ``/_control/reset``. A malformed
seed fails with a message naming the file and the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from include.emulators.kit.seed import SeedError, load_document, required
from include.emulators.optimizely.bounces import BounceThresholds
from include.emulators.optimizely.lists import DEFAULT_ATTRIBUTE_MAX_LENGTH, OPTIN_TYPES, AttributeDef

__all__ = ["ListSeed", "Seed", "SeedError", "load_seed"]


@dataclass(frozen=True)
class ListSeed:
    id: int
    name: str
    description: str
    attributes: tuple[AttributeDef, ...]


@dataclass(frozen=True)
class Seed:
    lists: tuple[ListSeed, ...]
    optin_processes: tuple[tuple[int, str, str], ...]
    blocklist: tuple[tuple[str, str], ...]
    recipient_filters: tuple[str, ...]
    thresholds: BounceThresholds
    retention_days: float
    bounce_counters: tuple[dict[str, Any], ...] = ()
    mailings: tuple[dict[str, Any], ...] = ()
    events: tuple[dict[str, Any], ...] = ()
    recipients: dict[int, tuple[dict[str, Any], ...]] = field(default_factory=dict)


def load_seed(path: str | Path) -> Seed:
    path = Path(path)
    document = load_document(path)
    try:
        return _parse(document)
    except SeedError as exc:
        raise SeedError(f"{path}: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise SeedError(f"{path}: invalid seed: {exc!r}") from None


def _parse(doc: dict[str, Any]) -> Seed:
    lists = []
    for index, item in enumerate(doc.get("lists") or []):
        where = f"lists[{index}]"
        attributes = tuple(_attribute(a, f"{where}.attributes") for a in item.get("attributes") or [])
        names = [a.name.lower() for a in attributes]
        if len(set(names)) != len(names):
            raise SeedError(f"{where}.attributes: duplicate attribute name")
        lists.append(
            ListSeed(
                id=int(required(item, "id", where)),
                name=str(required(item, "name", where)),
                description=str(item.get("description", "")),
                attributes=attributes,
            )
        )
    if len({lst.id for lst in lists}) != len(lists):
        raise SeedError("lists: duplicate list id")

    processes = []
    for index, item in enumerate(doc.get("optin_processes") or []):
        where = f"optin_processes[{index}]"
        kind = str(required(item, "type", where))
        if kind not in OPTIN_TYPES:
            raise SeedError(f"{where}.type: {kind!r} is not one of {', '.join(OPTIN_TYPES)}")
        process_id = int(required(item, "id", where))
        if process_id == 0:
            raise SeedError(f"{where}.id: 0 means 'no opt-in process' and cannot be defined")
        processes.append((process_id, str(item.get("name", f"Opt-in {process_id}")), kind))

    blocklist = []
    for index, item in enumerate(doc.get("blocklist") or []):
        if isinstance(item, str):
            blocklist.append((item, ""))
        else:
            blocklist.append(
                (str(required(item, "entry", f"blocklist[{index}]")), str(item.get("reason", "")))
            )

    thresholds_doc = doc.get("bounce_thresholds") or {}
    thresholds = BounceThresholds(
        hard=int(thresholds_doc.get("hard", 3)), soft=int(thresholds_doc.get("soft", 5))
    )

    recipients: dict[int, tuple[dict[str, Any], ...]] = {}
    known_ids = {lst.id for lst in lists}
    for list_id, rows in (doc.get("recipients") or {}).items():
        if int(list_id) not in known_ids:
            raise SeedError(f"recipients.{list_id}: unknown list")
        recipients[int(list_id)] = tuple(rows or ())

    return Seed(
        lists=tuple(lists),
        optin_processes=tuple(processes),
        blocklist=tuple(blocklist),
        recipient_filters=tuple(str(p) for p in doc.get("recipient_filters") or ()),
        thresholds=thresholds,
        retention_days=float(doc.get("retention_days", 30)),
        bounce_counters=tuple(doc.get("bounce_counters") or ()),
        mailings=tuple(doc.get("mailings") or ()),
        events=tuple(doc.get("events") or ()),
        recipients=recipients,
    )


def _attribute(item: Any, where: str) -> AttributeDef:
    if isinstance(item, str):
        return AttributeDef(item)
    if isinstance(item, dict):
        return AttributeDef(
            str(required(item, "name", where)), int(item.get("max_length", DEFAULT_ATTRIBUTE_MAX_LENGTH))
        )
    raise SeedError(f"{where}: an attribute is a name or {{name, max_length}}")
