"""The Flexmail emulator's seed file (YAML): interest labels, sources and contacts (optionally
blacklisted, optionally carrying labels). Parsed once; state.py re-applies it on every reset.

```yaml
interest_labels: [{id: 101, name: Honden}]
sources: [{id: 1, name: CRM sync}]
contacts:
  - {id: 1, email: a@example.com, first_name: A, name: B, language: nl, labels: [101], blacklisted: false}
```
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from include.emulators.kit.seed import SeedError, load_document, required

DEFAULT_SEED_PATH = Path(__file__).with_name("seed.yaml")


@dataclass(frozen=True)
class Seed:
    labels: tuple[tuple[int, str], ...]
    sources: tuple[tuple[int, str], ...]
    contacts: tuple[dict[str, Any], ...]


def load_seed(path: str | Path) -> Seed:
    document = load_document(path)
    labels, sources, contacts = [], [], []
    for i, item in enumerate(document.get("interest_labels") or []):
        labels.append((int(required(item, "id", f"interest_labels[{i}]")), str(item.get("name") or "")))
        if not labels[-1][1]:
            raise SeedError(f"{path}: interest_labels[{i}].name is required")
    for i, item in enumerate(document.get("sources") or []):
        sources.append((int(required(item, "id", f"sources[{i}]")), str(item.get("name") or "")))
    known = {label_id for label_id, _ in labels}
    for i, item in enumerate(document.get("contacts") or []):
        required(item, "id", f"contacts[{i}]")
        required(item, "email", f"contacts[{i}]")
        unknown = set(item.get("labels") or []) - known
        if unknown:
            raise SeedError(f"{path}: contacts[{i}].labels names unknown label(s) {sorted(unknown)}")
        contacts.append(dict(item))
    return Seed(tuple(labels), tuple(sources), tuple(contacts))
