"""RpcUnsubscribe: the mandator's single unsubscribe list.

Signatures follow the platform's documentation: add/addAll take a recipient list id (kept only
for the exports: an unsubscribe always applies client-wide), contains/remove/removeAll/getCount
do not. Unsubscribed recipients stay in their lists but are skipped by mailings and refused by
addAll3 (code 2) unless re-added through a double opt-in.
"""

from __future__ import annotations

from include.emulators.optimizely.services import lookup
from include.emulators.optimizely.services.base import CallContext, Webservice

SERVICE = Webservice(
    "Unsubscribe",
    doc="The client-wide unsubscribe list: an unsubscribed recipient receives no mailing of the client.",
)


def _add(ctx: CallContext, list_id: int, recipient_id: str) -> None:
    state = ctx.state
    email = state.find_email(recipient_id, list_id)
    state.unsubscribe(recipient_id, email, list_id or None, ctx.now)


@SERVICE.operation(
    "add",
    [("recipientListId", "long"), ("recipientId", "string")],
    doc="Unsubscribes the recipient from all mailings of the client (the list id is recorded for "
    "the exports only; 0 is allowed).",
)
def add(ctx: CallContext, list_id: int, recipient_id: str | None) -> None:
    if recipient_id:
        _add(ctx, list_id, recipient_id)


@SERVICE.operation(
    "addAll",
    [("recipientListId", "long"), ("recipientIds", "string[]")],
    doc="Unsubscribes several recipients.",
)
def add_all(ctx: CallContext, list_id: int, recipient_ids: list | None) -> None:
    for recipient_id in lookup.non_null(recipient_ids):
        if recipient_id:
            _add(ctx, list_id, recipient_id)


@SERVICE.operation(
    "contains", [("recipientId", "string")], returns="boolean", doc="Whether the recipient is unsubscribed."
)
def contains(ctx: CallContext, recipient_id: str | None) -> bool:
    with ctx.state.registry_lock:
        return ctx.state.unsubscribes.contains_id(recipient_id or "")


@SERVICE.operation(
    "remove", [("recipientId", "string")], doc="Lifts the unsubscribe: the recipient is mailed again."
)
def remove(ctx: CallContext, recipient_id: str | None) -> None:
    with ctx.state.registry_lock:
        ctx.state.unsubscribes.remove(recipient_id or "")


@SERVICE.operation("removeAll", [("recipientIds", "string[]")], doc="Lifts several unsubscribes.")
def remove_all(ctx: CallContext, recipient_ids: list | None) -> None:
    with ctx.state.registry_lock:
        for recipient_id in lookup.non_null(recipient_ids):
            ctx.state.unsubscribes.remove(recipient_id or "")


@SERVICE.operation("getCount", [], returns="int", doc="Number of currently unsubscribed recipients.")
def get_count(ctx: CallContext) -> int:
    with ctx.state.registry_lock:
        return len(ctx.state.unsubscribes)
