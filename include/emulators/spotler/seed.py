"""The seed file (YAML): property definitions, contacts (optionally opted out), audiences with
members and an in-use flag, and bounces. Parsed once; state.py re-applies it on every reset
(relative times such as ``-2d`` resolve against the clock at that moment).

```yaml
properties:
  - {name: email, type: email}
  - {name: permissions, type: set, entries: [{bit: 1, description: Nieuwsbrief}]}
contacts:
  - {externalId: "c-1", properties: {email: a@example.com}, opted_out: false, changed: "-3d"}
audiences:
  - {externalId: top-100, name: Top 100, description: "", members: [c-1], in_use: true,
     in_use_reason: scheduled mailing}
bounces:
  - {externalId: c-1, type: HARDBOUNCE, date: "-1d"}
```
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from include.emulators.kit.seed import SeedError, load_document, required
from include.emulators.spotler.model import BOUNCE_TYPES, PROPERTY_TYPES, PropertyDef

DEFAULT_SEED_PATH = Path(__file__).with_name("seed.yaml")


@dataclass(frozen=True)
class Seed:
    properties: tuple[PropertyDef, ...]
    contacts: tuple[dict[str, Any], ...]
    audiences: tuple[dict[str, Any], ...]
    bounces: tuple[dict[str, Any], ...]


def load_seed(path: str | Path) -> Seed:
    document = load_document(path)
    try:
        return _parse(document)
    except SeedError as exc:
        raise SeedError(f"{path}: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise SeedError(f"{path}: invalid seed: {exc!r}") from None


def _parse(doc: dict[str, Any]) -> Seed:
    properties = []
    for index, item in enumerate(doc.get("properties") or []):
        where = f"properties[{index}]"
        kind = str(required(item, "type", where))
        if kind not in PROPERTY_TYPES:
            raise SeedError(f"{where}.type: {kind!r} is not one of {', '.join(PROPERTY_TYPES)}")
        entries = tuple(
            (int(required(e, "bit", f"{where}.entries")), str(e.get("description", "")))
            for e in item.get("entries") or []
        )
        properties.append(
            PropertyDef(str(required(item, "name", where)), kind, str(item.get("description", "")), entries)
        )
    names = [p.name for p in properties]
    if len(set(names)) != len(names):
        raise SeedError("properties: duplicate name")
    if "email" not in names:
        raise SeedError("properties: an 'email' property is required (the address of every contact)")

    contacts = tuple(doc.get("contacts") or ())
    ids = [str(required(c, "externalId", f"contacts[{i}]")) for i, c in enumerate(contacts)]
    if len(set(ids)) != len(ids):
        raise SeedError("contacts: duplicate externalId")
    known = set(ids)

    audiences = tuple(doc.get("audiences") or ())
    for index, item in enumerate(audiences):
        where = f"audiences[{index}]"
        required(item, "externalId", where)
        required(item, "name", where)
        unknown = [m for m in item.get("members") or [] if str(m) not in known]
        if unknown:
            raise SeedError(f"{where}.members: unknown contact(s) {unknown[:5]}")
    for key in ("externalId", "name"):
        values = [str(a[key]) for a in audiences]
        if len(set(values)) != len(values):
            raise SeedError(f"audiences: duplicate {key}")

    bounces = tuple(doc.get("bounces") or ())
    for index, item in enumerate(bounces):
        where = f"bounces[{index}]"
        if str(required(item, "externalId", where)) not in known:
            raise SeedError(f"{where}.externalId: unknown contact")
        if required(item, "type", where) not in BOUNCE_TYPES:
            raise SeedError(f"{where}.type: one of {', '.join(BOUNCE_TYPES)}")
    return Seed(tuple(properties), contacts, audiences, bounces)
