"""Recipient lists and opt-in processes: the mandator's configuration plus each list's recipients.

Recipients are kept per list in an insertion-ordered dict (recipient id -> recipient tuple, see
below), which is what getAll returns and what a mailing is sent to. Each list has its own lock:
concurrent addAll3 calls to one list are serialised on it, calls to different lists are not.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter

from include.emulators.optimizely import errors

DEFAULT_ATTRIBUTE_MAX_LENGTH = 255
OPTIN_TYPES = ("single", "confirmed", "double")


@dataclass(frozen=True)
class AttributeDef:
    name: str
    max_length: int = DEFAULT_ATTRIBUTE_MAX_LENGTH


@dataclass(frozen=True)
class OptinProcess:
    id: int
    name: str
    type: str  # single | confirmed | double; only "double" leaves recipients pending

    @property
    def is_double(self) -> bool:
        return self.type == "double"


# A recipient is a plain tuple (email, packed attributes, pending, opt-in process id, added at),
# indexed with the constants below, and its attribute values are packed into one string in the
# list's attribute order. Why: CPython's cyclic GC stops tracking tuples that hold only strings
# and numbers, so a list of a million recipients costs the collector nothing (objects with
# __slots__ or dicts would be rescanned on every full collection, making big refills slower and
# slower), and one packed string instead of a dict of ten keeps such a list at a few hundred MB.
EMAIL, PACKED, PENDING, OPTIN_PROCESS, ADDED_AT = range(5)
Recipient = tuple
# The unit separator cannot occur in XML 1.0 text, so no value received over SOAP contains it.
SEPARATOR = "\x1f"


@dataclass
class RecipientList:
    id: int
    name: str
    description: str
    attributes: list[AttributeDef]
    recipients: dict[str, tuple] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        # Attribute names are matched case-insensitively and stored under the list's spelling.
        self._by_lower = {attr.name.lower(): attr for attr in self.attributes}

    def attribute_names(self) -> list[str]:
        return [attr.name for attr in self.attributes]

    def resolve_attributes(self, names: list[str]) -> list[AttributeDef]:
        """The list's attribute definitions for ``names``; fault on the first unknown name."""
        resolved = []
        for name in names:
            attr = self._by_lower.get((name or "").lower())
            if attr is None:
                raise errors.illegal_argument(f"Unknown attribute: {name}")
            resolved.append(attr)
        return resolved

    def packer(self, given: list[AttributeDef]) -> Callable[[Sequence[str]], str]:
        """A function packing values given in the order of ``given`` into the list's order
        (attributes not given are empty). The common case, all attributes in list order, is a
        plain join; otherwise one C-level itemgetter reorders the row."""
        order = self.attribute_names()
        names = [attr.name for attr in given]
        if not order:
            return lambda values: ""
        if names == order:
            return SEPARATOR.join
        missing = len(names)  # index of the "" appended to each row
        positions = [names.index(name) if name in names else missing for name in order]
        if len(positions) == 1:
            only = positions[0]
            return lambda values: [*values, ""][only]
        pick = itemgetter(*positions)
        return lambda values: SEPARATOR.join(pick([*values, ""]))

    def unpack(self, packed: str) -> list[str]:
        return packed.split(SEPARATOR) if self.attributes else []

    def value_getter(self, names: list[AttributeDef]) -> Callable[[str], list[str]]:
        """A function from a packed string to the values of ``names``, in that order."""
        index = {name: i for i, name in enumerate(self.attribute_names())}
        positions = [index[attr.name] for attr in names]
        unpack = self.unpack
        return lambda packed: [values[i] for values in (unpack(packed),) for i in positions]

    def describe(self, recipient_id: str) -> dict[str, object] | None:
        """A recipient as a JSON-able document (attributes: the non-empty ones), for the control
        endpoint and test assertions."""
        recipient = self.recipients.get(recipient_id)
        if recipient is None:
            return None
        values = self.unpack(recipient[PACKED])
        # strict=False: stored values are not screened for SEPARATOR; a read must not fail on one.
        return {
            "recipient_id": recipient_id,
            "email": recipient[EMAIL],
            "attributes": {
                name: value for name, value in zip(self.attribute_names(), values, strict=False) if value
            },
            "pending": recipient[PENDING],
            "optin_process_id": recipient[OPTIN_PROCESS],
        }

    def active_count(self) -> int:
        return sum(1 for r in self.recipients.values() if not r[PENDING])
