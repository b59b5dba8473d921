"""Platform ids in their canonical form: one platform list has one spelling, however it is written.

``"1001"``, ``"01001"``, ``1001`` and ``" 1001 "`` name the same Optimizely list; two lists that
spell it differently would both clear and refill it, each with its own consent's people. So every
id is parsed into its canonical form when the lists file loads, duplicates are compared on that
form, and the feedback code compares a platform's own spelling of a list id through the same
functions (see ``registry.canonical_platform_list_id``).

Every function raises ``ValueError`` with a plain sentence; the loader adds file, list, field and
line. Standard library only: this runs at DAG parse time.
"""

from __future__ import annotations

import re
from typing import Any

#: Optimizely ids are Java ``long``s on the wire (``xsd:long``)
OPTIMIZELY_ID_MAX = 2**63 - 1
#: Spotler refuses an audience external id or name that is empty or longer than this (HTTP 417)
SPOTLER_TEXT_MAX = 255

# ASCII digits only: str.isdigit() and \d also accept other scripts' digits ("١٠٠١").
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def optimizely_id(raw: Any, *, what: str, minimum: int, example: str) -> str:
    """``raw`` as the decimal string of a whole number >= ``minimum`` (``"01001"`` -> ``"1001"``).

    A YAML int is accepted; a float (``1001.0``), a sign, a blank, ``1_001``, ``0x3E9`` or a bool
    is refused rather than guessed at.
    """
    text = str(raw).strip() if isinstance(raw, (str, int)) and not isinstance(raw, bool) else None
    if text is None or not _DIGITS.fullmatch(text) or int(text) < minimum:
        raise ValueError(
            f"{what} must be a whole number of {minimum} or more, such as {example}, got {raw!r}"
        )
    value = int(text)
    if value > OPTIMIZELY_ID_MAX:
        raise ValueError(f"{what} {raw!r} is too large for the platform (at most {OPTIMIZELY_ID_MAX})")
    return str(value)


def optimizely_list_id(raw: Any) -> str:
    """Canonical Optimizely recipient list id: a whole number of 1 or more."""
    return optimizely_id(raw, what="an Optimizely list id", minimum=1, example="1001")


def optimizely_optin_process_id(raw: Any) -> str:
    """Canonical Optimizely opt-in process id; 0 is the platform's "activate immediately"."""
    return optimizely_id(
        raw, what="an Optimizely opt-in process id", minimum=0, example="2001 (0: activate immediately)"
    )


def _spotler_text(raw: Any, what: str) -> str:
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)  # e.g. external_id: 12345 in YAML
    if not isinstance(raw, str):
        raise ValueError(f"{what} must be text, got {raw!r}")
    if not raw.strip():
        raise ValueError(f"{what} must have at least 1 character besides spaces, got {raw!r}")
    if len(raw) > SPOTLER_TEXT_MAX:
        raise ValueError(f"{what} may have at most {SPOTLER_TEXT_MAX} characters, got {len(raw)}")
    if _CONTROL.search(raw):
        raise ValueError(f"{what} may not contain control characters (tabs, line breaks), got {raw!r}")
    return raw


def spotler_external_id(raw: Any) -> str:
    """Canonical Spotler audience external id: surrounding spaces dropped, otherwise exact."""
    return _spotler_text(raw.strip() if isinstance(raw, str) else raw, "a Spotler audience external id")


def spotler_audience_name(raw: Any) -> str:
    """A Spotler audience name, kept exactly as written: Spotler compares names exactly."""
    return _spotler_text(raw, "a Spotler audience name")
