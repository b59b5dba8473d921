"""RpcRecipientList: the mandator's recipient lists (read-only here; they come from the seed)."""

from __future__ import annotations

from include.emulators.optimizely.services import lookup
from include.emulators.optimizely.services.base import CallContext, Webservice

SERVICE = Webservice("RecipientList", doc="Describes the mandator's recipient lists.")


@SERVICE.operation("getAllIds", [], returns="long[]", doc="Ids of all recipient lists of the mandator.")
def get_all_ids(ctx: CallContext) -> list[int]:
    return sorted(ctx.state.lists)


@SERVICE.operation("getName", [("recipientListId", "long")], returns="string", doc="Name of the list.")
def get_name(ctx: CallContext, list_id: int) -> str:
    return lookup.recipient_list(ctx, list_id).name


@SERVICE.operation(
    "getDescription", [("recipientListId", "long")], returns="string", doc="Description of the list."
)
def get_description(ctx: CallContext, list_id: int) -> str:
    return lookup.recipient_list(ctx, list_id).description


@SERVICE.operation(
    "getAttributeNames",
    [("recipientListId", "long"), ("locale", "string")],
    returns="string[]",
    doc="Names of the list's recipient attributes, in their defined order (the locale is accepted "
    "and ignored: the emulator's attribute names are not localised).",
)
def get_attribute_names(ctx: CallContext, list_id: int, locale: str | None) -> list[str]:
    return lookup.recipient_list(ctx, list_id).attribute_names()


@SERVICE.operation(
    "getCount", [("recipientListId", "long")], returns="int", doc="Number of recipients in the list."
)
def get_count(ctx: CallContext, list_id: int) -> int:
    return len(lookup.recipient_list(ctx, list_id).recipients)
