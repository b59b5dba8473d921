"""The heart of addAll3/add2: which result code each recipient gets, and storing the accepted ones.

Per recipient, in input order, the first matching rule wins:

====  ==========================================================================================
code  rule
====  ==========================================================================================
1     invalid e-mail syntax, or empty recipient id
3     address on the blocklist (wildcards, case-insensitive)
4     bounce overflow: the address has >= hard or >= soft bounce threshold bounces
2     unsubscribed (recipient id or address) and the opt-in process is none/single/confirmed;
      with a ``double`` process the unsubscribe is lifted and the recipient added pending (0)
6     filtered: address matches one of the mandator's recipient filters (``postmaster@*``, ...)
7     other error: an attribute value longer than the list attribute's max length
5     already in the list: same recipient id present, or earlier in this same call. A recipient
      pending the same double opt-in process is instead removed and re-added (0), as the
      platform does.
0     added (pending if the opt-in process is ``double``)
====  ==========================================================================================

Recipients with a non-zero code are not stored (5 leaves the existing one untouched). The whole
batch is classified and applied under the list's lock and the registry lock, so concurrent
batches to one list are serialised and each one sees a consistent blocklist/unsubscribe state.
"""

from __future__ import annotations

import re
from operator import gt

from include.emulators.optimizely.lists import (
    OPTIN_PROCESS,
    PENDING,
    AttributeDef,
    OptinProcess,
    RecipientList,
)
from include.emulators.optimizely.state import EmulatorState

ADDED, INVALID, UNSUBSCRIBED, BLOCKLISTED, BOUNCE_OVERFLOW, ALREADY_IN_LIST, FILTERED, OTHER_ERROR = range(8)

# Deliberately pragmatic, like the platform's check: one "@", a local part without blanks, quotes
# or leading/trailing/double dots, and a domain of dot-separated labels ending in a TLD of at
# least two letters. Non-ASCII letters are allowed (internationalised addresses).
_SPECIALS = r"\s@\"(),:;<>\[\]\\"
_ATOM = rf"[^{_SPECIALS}.]+"
_LABEL = rf"[^{_SPECIALS}._\-](?:[^{_SPECIALS}._]*[^{_SPECIALS}._\-])?"
_EMAIL_RE = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[^\W\d_]{{2,}}")


def is_valid_email(address: str) -> bool:
    if not address or len(address) > 254:
        return False
    local, _, _ = address.partition("@")
    return len(local) <= 64 and _EMAIL_RE.fullmatch(address) is not None


def add_recipients(
    state: EmulatorState,
    rlist: RecipientList,
    optin: OptinProcess | None,
    recipient_ids: list[str | None],
    emails: list[str | None],
    attributes: list[AttributeDef],
    rows: list[list[str | None]] | None,
    now: float,
) -> list[int]:
    """Classify and store a batch whose shape the caller has already validated."""
    optin_id = optin.id if optin else 0
    double = optin is not None and optin.is_double
    pack = rlist.packer(attributes)
    empty = pack([""] * len(attributes))
    limits = [attr.max_length for attr in attributes]
    codes: list[int] = []
    append = codes.append
    seen: set[str] = set()
    with rlist.lock, state.registry_lock:
        recipients = rlist.recipients
        blocked, overflowing = state.blocklist.matches_key, state.bounces.overflow_key
        unsubscribed, filtered = state.unsubscribes.is_unsubscribed_key, state.recipient_filters.matches_key
        for index, (rid, email) in enumerate(zip(recipient_ids, emails, strict=True)):
            rid = rid or ""
            email = email or ""
            if not rid or not is_valid_email(email):
                append(INVALID)
                continue
            key = email.lower()
            if blocked(key):
                append(BLOCKLISTED)
                continue
            if overflowing(key):
                append(BOUNCE_OVERFLOW)
                continue
            lift_unsubscribe = False
            if unsubscribed(rid, key):
                if not double:
                    append(UNSUBSCRIBED)
                    continue
                lift_unsubscribe = True
            if filtered(key):
                append(FILTERED)
                continue
            values: list[str] = []
            if rows:
                values = rows[index]
                if None in values:  # nil values are stored as empty strings
                    values = ["" if v is None else v for v in values]
                # map/gt keep the per-value length check in C: this loop runs 1000 times a call.
                if any(map(gt, map(len, values), limits)):
                    append(OTHER_ERROR)
                    continue
            if rid in seen:
                append(ALREADY_IN_LIST)
                continue
            existing = recipients.get(rid)
            if existing is not None and not (
                existing[PENDING] and double and existing[OPTIN_PROCESS] == optin_id
            ):
                seen.add(rid)
                append(ALREADY_IN_LIST)
                continue
            if existing is not None:
                # Pending the same double opt-in: removed and re-added (moves to the end).
                del recipients[rid]
            if lift_unsubscribe:
                state.unsubscribes.lift(rid, email)
            # rid == email is the norm on this platform: store one string object, not two.
            recipients[rid] = (
                rid if rid == email else email,
                pack(values) if values else empty,
                double,
                optin_id,
                now,
            )
            seen.add(rid)
            append(ADDED)
    return codes
