"""Platform list id -> consent id, looked up in canonical form.

A platform's feedback names the list an unsubscribe came from in its own spelling; the mapping
canonicalises every lookup, so ``consents.get("01001")`` finds list 1001's consent and an id that
cannot be canonical finds nothing (the importer then treats the unsubscribe as unscoped, which
revokes more, never less).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from include.crm_sync.config.registry import canonical_platform_list_id


@lru_cache(maxsize=4096)
def _canonical_or_none(platform: str, raw: str) -> str | None:
    # Cached: the importer looks up every feedback row, and a file names only a few lists.
    try:
        return canonical_platform_list_id(platform, raw)
    except ValueError:
        return None


class PlatformListConsents(Mapping[str, str]):
    """A read-only ``{canonical platform list id: consent id}`` for one platform."""

    def __init__(self, platform: str, consents: Mapping[str, str]) -> None:
        self.platform = platform
        self._consents = dict(consents)

    def _key(self, raw: Any) -> str | None:
        if not isinstance(raw, str):
            raw = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else None
        return None if raw is None else _canonical_or_none(self.platform, raw)

    def __getitem__(self, raw: Any) -> str:
        key = self._key(raw)
        if key is None or key not in self._consents:
            raise KeyError(raw)
        return self._consents[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._consents)

    def __len__(self) -> int:
        return len(self._consents)

    def __repr__(self) -> str:
        return f"PlatformListConsents({self.platform!r}, {self._consents!r})"
