"""Case-insensitive e-mail patterns with ``*`` and ``?`` wildcards (blocklist, recipient filters).

Exact entries are looked up in a set; entries with wildcards are compiled into one alternation so
a 1000-recipient addAll3 does one set lookup and at most one regex match per address.
"""

from __future__ import annotations

import re


def has_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


def _pattern_regex(pattern: str) -> str:
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return "".join(parts)


class WildcardSet:
    """A set of patterns; ``matches(address)`` is true if any pattern matches the whole address."""

    def __init__(self, patterns: list[str] | None = None) -> None:
        self._exact: set[str] = set()
        self._wild: set[str] = set()
        self._regex: re.Pattern[str] | None = None
        for pattern in patterns or ():
            self.add(pattern)

    def add(self, pattern: str) -> None:
        key = pattern.strip().lower()
        (self._wild if has_wildcard(key) else self._exact).add(key)
        self._regex = None

    def discard(self, pattern: str) -> bool:
        key = pattern.strip().lower()
        target = self._wild if has_wildcard(key) else self._exact
        if key not in target:
            return False
        target.discard(key)
        self._regex = None
        return True

    def __contains__(self, pattern: str) -> bool:
        key = pattern.strip().lower()
        return key in self._exact or key in self._wild

    def __len__(self) -> int:
        return len(self._exact) + len(self._wild)

    def patterns(self) -> list[str]:
        return sorted(self._exact | self._wild)

    def matches(self, address: str) -> bool:
        return self.matches_key(address.strip().lower())

    def matches_key(self, key: str) -> bool:
        """``matches`` for an address already stripped and lower-cased (the addAll3 hot path)."""
        if key in self._exact:
            return True
        if not self._wild:
            return False
        regex = self._regex
        if regex is None:
            # DOTALL so that "*" also spans odd characters; fullmatch anchors both ends.
            regex = re.compile("|".join(f"(?:{_pattern_regex(p)})" for p in sorted(self._wild)), re.DOTALL)
            self._regex = regex
        return regex.fullmatch(key) is not None
