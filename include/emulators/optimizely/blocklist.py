"""The mandator's blocklist ("Blacklist" in the API): e-mail entries with ``*``/``?`` wildcards,
matched case-insensitively, each with the reason it was added. Callers hold the registry lock."""

from __future__ import annotations

from dataclasses import dataclass

from include.emulators.optimizely.wildcards import WildcardSet


@dataclass(frozen=True)
class BlocklistEntry:
    entry: str
    reason: str
    added_at: float


class Blocklist:
    def __init__(self) -> None:
        self._patterns = WildcardSet()
        self._entries: dict[str, BlocklistEntry] = {}

    def add(self, entry: str, reason: str, at: float) -> None:
        key = entry.strip().lower()
        self._patterns.add(key)
        self._entries[key] = BlocklistEntry(entry.strip(), reason, at)

    def remove(self, entry: str) -> bool:
        key = entry.strip().lower()
        self._entries.pop(key, None)
        return self._patterns.discard(key)

    def matches(self, email: str) -> bool:
        return self._patterns.matches(email)

    def matches_key(self, key: str) -> bool:
        return self._patterns.matches_key(key)

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[BlocklistEntry]:
        return [self._entries[key] for key in sorted(self._entries)]
