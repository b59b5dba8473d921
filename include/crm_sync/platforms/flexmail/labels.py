"""Matching configured interest label names with the account's labels, exactly.

Flexmail assigns labels by exact name; a configured name that differs in case, spaces or accents
would label nobody, so such a list fails before anything changes, and the message names the list,
the configured name and the closest existing label (``difflib``, compared case- and
accent-insensitively so "honden" points at "Honden").
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class LabelMismatch:
    list_name: str
    configured: str
    closest: str | None

    @property
    def message(self) -> str:
        hint = (
            f"; the closest existing label is {self.closest!r}"
            if self.closest
            else "; the account has no labels"
        )
        return (
            f"list {self.list_name!r}: interest label {self.configured!r} does not exist in the Flexmail "
            f"account (names must match exactly: case, spaces, accents){hint}. "
            "Nothing was changed for this list"
        )


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).casefold().split())


def closest_label(name: str, existing: Iterable[str]) -> str | None:
    names = list(existing)
    folded = {_fold(n): n for n in names}
    if _fold(name) in folded:
        return folded[_fold(name)]
    best = difflib.get_close_matches(_fold(name), list(folded), n=1, cutoff=0.0)
    return folded[best[0]] if best else None


def match_labels(
    wanted: Mapping[str, str], account_labels: Mapping[str, int]
) -> tuple[dict[str, int], dict[str, LabelMismatch]]:
    """``wanted``: list name -> configured label; returns (list name -> label id, list name -> mismatch)."""
    found: dict[str, int] = {}
    missing: dict[str, LabelMismatch] = {}
    for list_name, label in wanted.items():
        if label in account_labels:
            found[list_name] = account_labels[label]
        else:
            missing[list_name] = LabelMismatch(list_name, label, closest_label(label, account_labels))
    return found, missing
