"""RpcRecipient: filling and reading recipient lists (addAll3 and friends).

Shape faults refuse the whole call before anything is applied, in this order: unknown list,
unknown opt-in process, more than 1000 recipients, array lengths differ, unknown attribute. Then
each recipient gets a result code (admission.py).
"""

from __future__ import annotations

from include.emulators.optimizely import errors
from include.emulators.optimizely.admission import add_recipients
from include.emulators.optimizely.lists import EMAIL, PACKED, PENDING, SEPARATOR, AttributeDef, RecipientList
from include.emulators.optimizely.services import lookup
from include.emulators.optimizely.services.base import CallContext, Webservice

SERVICE = Webservice("Recipient", doc="Adds, reads and removes the recipients of a recipient list.")

_ADD_DOC = (
    "Returns one result code per recipient, in input order: 0 added, 1 invalid e-mail address or "
    "empty recipient id, 2 unsubscribed, 3 blocklisted, 4 bounce overflow, 5 already in the list, "
    "6 filtered, 7 other error (e.g. attribute value too long). At most 1000 recipients per call."
)


def _check_batch(
    ctx: CallContext,
    rlist: RecipientList,
    recipient_ids: list,
    emails: list,
    names: list,
    rows: list,
) -> list[AttributeDef]:
    count, limit = len(recipient_ids), ctx.config.max_batch_size
    if count > limit:
        raise errors.illegal_argument(f"Too many recipients: {count} > {limit}")
    if len(emails) != count:
        raise errors.illegal_argument("Array lengths differ")
    if names:
        if len(rows) != count or any(row is None or len(row) != len(names) for row in rows):
            raise errors.illegal_argument("Array lengths differ")
    elif rows and (len(rows) != count or any(row for row in rows)):
        # No attribute names: values may be omitted or be one empty row per recipient.
        raise errors.illegal_argument("Array lengths differ")
    attributes = rlist.resolve_attributes(names)
    if len({a.name for a in attributes}) != len(attributes):
        raise errors.illegal_argument("Duplicate attribute name")
    return attributes


@SERVICE.operation(
    "addAll3",
    [
        ("recipientListId", "long"),
        ("optinProcessId", "long"),
        ("recipientIds", "string[]"),
        ("emailAddresses", "string[]"),
        ("attributeNames", "string[]"),
        ("attributeValues", "string[][]"),
    ],
    returns="int[]",
    doc="Adds up to 1000 recipients with attributes (one row of values per recipient, in the order "
    "of attributeNames). optinProcessId 0 = none, active immediately. " + _ADD_DOC,
)
def add_all3(ctx, list_id, optin_id, recipient_ids, emails, names, rows):
    rlist = lookup.recipient_list(ctx, list_id)
    optin = lookup.optin_process(ctx, optin_id)
    recipient_ids, emails = lookup.non_null(recipient_ids), lookup.non_null(emails)
    names, rows = lookup.non_null(names), lookup.non_null(rows)
    attributes = _check_batch(ctx, rlist, recipient_ids, emails, names, rows)
    return add_recipients(ctx.state, rlist, optin, recipient_ids, emails, attributes, rows or None, ctx.now)


@SERVICE.operation(
    "addAll3Flat",
    [
        ("recipientListId", "long"),
        ("optinProcessId", "long"),
        ("recipientIds", "string[]"),
        ("emailAddresses", "string[]"),
        ("attributeNames", "string[]"),
        ("flatAttributeValues", "string[]"),
    ],
    returns="int[]",
    doc="Like addAll3, for clients that cannot send String[][]: the values are one flat row-major "
    "array (recipient 0's values, then recipient 1's, ...), of length recipients x attributes. " + _ADD_DOC,
)
def add_all3_flat(ctx, list_id, optin_id, recipient_ids, emails, names, flat_values):
    rlist = lookup.recipient_list(ctx, list_id)
    optin = lookup.optin_process(ctx, optin_id)
    recipient_ids, emails = lookup.non_null(recipient_ids), lookup.non_null(emails)
    names, flat_values = lookup.non_null(names), lookup.non_null(flat_values)
    width, count = len(names), len(recipient_ids)
    if count > ctx.config.max_batch_size:
        raise errors.illegal_argument(f"Too many recipients: {count} > {ctx.config.max_batch_size}")
    if len(flat_values) != width * count:
        raise errors.illegal_argument("Array lengths differ")
    rows = [flat_values[i * width : (i + 1) * width] for i in range(count)] if width else []
    attributes = _check_batch(ctx, rlist, recipient_ids, emails, names, rows)
    return add_recipients(ctx.state, rlist, optin, recipient_ids, emails, attributes, rows or None, ctx.now)


@SERVICE.operation(
    "add2",
    [
        ("recipientListId", "long"),
        ("optinProcessId", "long"),
        ("recipientId", "string"),
        ("emailAddress", "string"),
        ("attributeNames", "string[]"),
        ("attributeValues", "string[]"),
    ],
    returns="int",
    doc="Adds one recipient; returns its result code (same codes as addAll3).",
)
def add2(ctx, list_id, optin_id, recipient_id, email, names, values):
    rlist = lookup.recipient_list(ctx, list_id)
    optin = lookup.optin_process(ctx, optin_id)
    names, values = lookup.non_null(names), lookup.non_null(values)
    if len(names) != len(values):
        raise errors.illegal_argument("Array lengths differ")
    attributes = _check_batch(ctx, rlist, [recipient_id], [email], names, [values] if names else [])
    rows = [values] if names else None
    return add_recipients(ctx.state, rlist, optin, [recipient_id], [email], attributes, rows, ctx.now)[0]


@SERVICE.operation(
    "clear", [("recipientListId", "long")], doc="Removes every recipient of the list (irreversible)."
)
def clear(ctx, list_id):
    rlist = lookup.recipient_list(ctx, list_id)
    with rlist.lock:
        rlist.recipients.clear()


@SERVICE.operation(
    "getCount",
    [("recipientListId", "long"), ("recipientFilterId", "long")],
    returns="int",
    doc="Number of recipients in the list (pending ones included); recipientFilterId 0 = no filter.",
)
def get_count(ctx, list_id, filter_id):
    rlist = lookup.recipient_list(ctx, list_id)
    if filter_id != 0:
        raise errors.illegal_argument(f"Unknown recipient filter: {filter_id}")
    return len(rlist.recipients)


@SERVICE.operation(
    "getAll",
    [("recipientListId", "long"), ("attributeNames", "string[]")],
    returns="string[][]",
    doc="All recipients of the list in insertion order, one row each: recipient id, e-mail address, "
    "then the value of each requested attribute in the order asked (empty string if unset).",
)
def get_all(ctx, list_id, names):
    rlist = lookup.recipient_list(ctx, list_id)
    values_of = rlist.value_getter(rlist.resolve_attributes(lookup.non_null(names)))
    with rlist.lock:
        return [[rid, r[EMAIL], *values_of(r[PACKED])] for rid, r in rlist.recipients.items()]


@SERVICE.operation(
    "contains",
    [("recipientListId", "long"), ("recipientId", "string")],
    returns="boolean",
    doc="Whether the recipient id is in the list.",
)
def contains(ctx, list_id, recipient_id):
    return (recipient_id or "") in lookup.recipient_list(ctx, list_id).recipients


@SERVICE.operation(
    "remove",
    [("recipientListId", "long"), ("recipientId", "string")],
    doc="Removes one recipient; fault 'Recipient does not exist' if it is not in the list.",
)
def remove(ctx, list_id, recipient_id):
    rlist = lookup.recipient_list(ctx, list_id)
    with rlist.lock:
        if rlist.recipients.pop(recipient_id or "", None) is None:
            raise errors.recipient_not_found()


@SERVICE.operation(
    "removeAll",
    [("recipientListId", "long"), ("recipientIds", "string[]")],
    returns="boolean[]",
    doc="Removes recipients; one boolean per id, true if it was in the list.",
)
def remove_all(ctx, list_id, recipient_ids):
    rlist = lookup.recipient_list(ctx, list_id)
    with rlist.lock:
        return [rlist.recipients.pop(rid or "", None) is not None for rid in lookup.non_null(recipient_ids)]


@SERVICE.operation(
    "setAttributes",
    [
        ("recipientListId", "long"),
        ("recipientId", "string"),
        ("attributeNames", "string[]"),
        ("attributeValues", "string[]"),
    ],
    doc="Sets attribute values of one recipient. Faults: recipient does not exist, unknown "
    "attribute, array lengths differ, value longer than the attribute allows.",
)
def set_attributes(ctx, list_id, recipient_id, names, values):
    rlist = lookup.recipient_list(ctx, list_id)
    names, values = lookup.non_null(names), lookup.non_null(values)
    if len(names) != len(values):
        raise errors.illegal_argument("Array lengths differ")
    attributes = rlist.resolve_attributes(names)
    values = ["" if v is None else v for v in values]
    for attr, value in zip(attributes, values, strict=True):
        if len(value) > attr.max_length:
            raise errors.illegal_argument(
                f"Value too long for attribute {attr.name}: {len(value)} > {attr.max_length}"
            )
    with rlist.lock:
        recipient = rlist.recipients.get(recipient_id or "")
        if recipient is None:
            raise errors.recipient_not_found()
        current = rlist.unpack(recipient[PACKED])
        index = {name: i for i, name in enumerate(rlist.attribute_names())}
        for attr, value in zip(attributes, values, strict=True):
            current[index[attr.name]] = value
        rlist.recipients[recipient_id] = (recipient[EMAIL], SEPARATOR.join(current), *recipient[PENDING:])
