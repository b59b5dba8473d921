"""RpcBlacklist: the blocklist by e-mail address; entries may use ``*`` and ``?`` wildcards."""

from __future__ import annotations

from include.emulators.optimizely import errors
from include.emulators.optimizely.services import lookup
from include.emulators.optimizely.services.base import CallContext, Webservice

SERVICE = Webservice(
    "Blacklist",
    doc="Blocklist of e-mail addresses; entries may contain the wildcards * and ?, "
    "matched case-insensitively.",
)


def _entry(entry: str | None) -> str:
    if not entry or not entry.strip():
        raise errors.illegal_argument("Invalid blacklist entry: empty")
    return entry.strip()


@SERVICE.operation(
    "add",
    [("entry", "string"), ("reason", "string")],
    doc="Adds an address or wildcard pattern (e.g. *@example.com) with a reason.",
)
def add(ctx: CallContext, entry: str | None, reason: str | None) -> None:
    entry = _entry(entry)
    with ctx.state.registry_lock:
        ctx.state.blocklist.add(entry, reason or "", ctx.now)


@SERVICE.operation(
    "addAll",
    [("entries", "string[]"), ("reasons", "string[]")],
    doc="Adds several entries; reasons has one element per entry (or is empty).",
)
def add_all(ctx: CallContext, entries: list | None, reasons: list | None) -> None:
    entries, reasons = lookup.non_null(entries), lookup.non_null(reasons)
    if reasons and len(reasons) != len(entries):
        raise errors.illegal_argument("Array lengths differ")
    cleaned = [_entry(e) for e in entries]
    with ctx.state.registry_lock:
        for index, entry in enumerate(cleaned):
            ctx.state.blocklist.add(entry, (reasons[index] if reasons else "") or "", ctx.now)


@SERVICE.operation("remove", [("entry", "string")], doc="Removes an entry (no effect if absent).")
def remove(ctx: CallContext, entry: str | None) -> None:
    with ctx.state.registry_lock:
        ctx.state.blocklist.remove(entry or "")


@SERVICE.operation("removeAll", [("entries", "string[]")], doc="Removes several entries.")
def remove_all(ctx: CallContext, entries: list | None) -> None:
    with ctx.state.registry_lock:
        for entry in lookup.non_null(entries):
            ctx.state.blocklist.remove(entry or "")


@SERVICE.operation(
    "isBlacklisted",
    [("emailAddress", "string")],
    returns="boolean",
    doc="Whether the address matches any entry (wildcards applied, case-insensitive).",
)
def is_blacklisted(ctx: CallContext, email: str | None) -> bool:
    with ctx.state.registry_lock:
        return ctx.state.blocklist.matches(email or "")
