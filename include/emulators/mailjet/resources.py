"""Handlers of the REST and DATA resources, called by app.py under the state lock.

Each takes the state, the path arguments, the query parameters and the JSON body, and returns
the answer document (or raises ``ApiError``)."""

from __future__ import annotations

import csv
import io
from typing import Any

from include.emulators.mailjet.config import MailjetConfig
from include.emulators.mailjet.errors import ApiError
from include.emulators.mailjet.model import ACTIONS, DATATYPES, Job
from include.emulators.mailjet.paging import envelope, flag
from include.emulators.mailjet.state import MailjetState

CSV_METHODS = ("addforce", "addnoforce", "remove", "unsub", "excludemarketing", "includemarketing")


def _one(document: dict[str, Any]) -> dict[str, Any]:
    return {"Count": 1, "Data": [document], "Total": 1}


def _mapping(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object")
    return body


def _list(state: MailjetState, raw: str) -> Any:
    contacts_list = state.lists.get(int(raw)) if raw.isdigit() else None
    if contacts_list is None or contacts_list.is_deleted:
        raise ApiError(404, f"Object not found: contactslist {raw}")
    return contacts_list


# ---------------------------------------------------------------------- contactslist


def lists_get(state: MailjetState, params: dict[str, str], config: MailjetConfig) -> dict[str, Any]:
    items = [x for x in state.lists.values() if not x.is_deleted]
    if "Name" in params:
        items = [x for x in items if x.name == params["Name"]]
    return envelope(
        items, params, lambda x: x.as_json(state.subscribers(x.id)), config.max_limit, config.default_limit
    )


def list_create(state: MailjetState, body: Any, now: float) -> dict[str, Any]:
    name = str(_mapping(body).get("Name") or "").strip()
    if not name:
        raise ApiError(400, "Mandatory field Name is missing")
    if state.list_by_name(name) is not None:
        raise ApiError(400, f'A contact list with name "{name}" already exists', "MJ18")
    return _one(state.create_list(name, now).as_json(0))


def list_get(state: MailjetState, raw: str) -> dict[str, Any]:
    contacts_list = _list(state, raw)
    return _one(contacts_list.as_json(state.subscribers(contacts_list.id)))


def list_update(state: MailjetState, raw: str, body: Any) -> dict[str, Any]:
    contacts_list = _list(state, raw)
    body = _mapping(body)
    if "Name" in body:
        name = str(body["Name"]).strip()
        other = state.list_by_name(name)
        if other is not None and other.id != contacts_list.id:
            raise ApiError(400, f'A contact list with name "{name}" already exists', "MJ18")
        contacts_list.name = name
    if "IsDeleted" in body:
        contacts_list.is_deleted = bool(body["IsDeleted"])
    return _one(contacts_list.as_json(state.subscribers(contacts_list.id)))


def list_delete(state: MailjetState, raw: str) -> None:
    contacts_list = _list(state, raw)
    contacts_list.is_deleted = True
    for key in [k for k in state.memberships if k[1] == contacts_list.id]:
        del state.memberships[key]


# ---------------------------------------------------------------------- contact


def contacts_get(state: MailjetState, params: dict[str, str], config: MailjetConfig) -> dict[str, Any]:
    items = list(state.contacts.values())
    if "ContactsList" in params:
        list_id = int(params["ContactsList"])
        items = [c for c in items if (c.id, list_id) in state.memberships]
    excluded = flag(params.get("IsExcludedFromCampaigns"))
    if excluded is not None:
        items = [c for c in items if c.excluded == excluded]
    return envelope(
        items, params, lambda c: c.as_json(), config.max_limit, config.default_limit, {"ID": lambda c: c.id}
    )


def contact_create(state: MailjetState, body: Any, now: float) -> dict[str, Any]:
    body = _mapping(body)
    email = str(body.get("Email") or "").strip()
    if not email:
        raise ApiError(400, "Mandatory field Email is missing")
    if state.find_contact(email) is not None:
        raise ApiError(400, f'A contact with email "{email}" already exists', "MJ18")
    contact = state.contact_for(email, now, create=True, name=str(body.get("Name") or ""))
    assert contact is not None
    if body.get("IsExcludedFromCampaigns"):
        contact.excluded, contact.excluded_at = True, now
    return _one(contact.as_json())


def contact_get(state: MailjetState, ref: str) -> dict[str, Any]:
    contact = state.find_contact(ref)
    if contact is None:
        raise ApiError(404, f"Object not found: contact {ref}")
    return _one(contact.as_json())


def contact_update(state: MailjetState, ref: str, body: Any, now: float) -> dict[str, Any]:
    """PUT behaves like PATCH: only the fields sent change."""
    contact = state.find_contact(ref)
    if contact is None:
        raise ApiError(404, f"Object not found: contact {ref}")
    body = _mapping(body)
    if "Name" in body:
        contact.name = str(body["Name"] or "")
    if "IsExcludedFromCampaigns" in body:
        excluded = bool(body["IsExcludedFromCampaigns"])
        if excluded != contact.excluded:
            contact.excluded, contact.excluded_at = excluded, now
    return _one(contact.as_json())


def contact_lists(state: MailjetState, ref: str) -> dict[str, Any]:
    contact = state.find_contact(ref)
    if contact is None:
        raise ApiError(404, f"Object not found: contact {ref}")
    data = [
        {
            "ListID": m.list_id,
            "IsActive": not m.unsubscribed,
            "IsUnsub": m.unsubscribed,
            "SubscribedAt": m.as_json("")["SubscribedAt"],
        }
        for m in state.memberships.values()
        if m.contact_id == contact.id
    ]
    return {"Count": len(data), "Data": data, "Total": len(data)}


# ---------------------------------------------------------------------- listrecipient


def recipients_get(state: MailjetState, params: dict[str, str], config: MailjetConfig) -> dict[str, Any]:
    items = list(state.memberships.values())
    if "ContactsList" in params:
        list_id = int(params["ContactsList"])
        items = [m for m in items if m.list_id == list_id]
    if "Contact" in params:
        contact_id = int(params["Contact"])
        items = [m for m in items if m.contact_id == contact_id]
    if "ContactEmail" in params:
        contact = state.find_contact(params["ContactEmail"])
        items = [m for m in items if contact is not None and m.contact_id == contact.id]
    for name, attr in (("IsUnsubscribed", True), ("Unsub", True), ("IsActive", False)):
        wanted = flag(params.get(name))
        if wanted is not None:
            items = [m for m in items if m.unsubscribed == (wanted if attr else not wanted)]
    items.sort(key=lambda m: m.id)
    return envelope(
        items,
        params,
        lambda m: m.as_json(state.lists[m.list_id].name),
        config.max_limit,
        config.default_limit,
        {"ID": lambda m: m.id, "ContactID": lambda m: m.contact_id},
    )


def recipient_get(state: MailjetState, raw: str) -> dict[str, Any]:
    membership = next((m for m in state.memberships.values() if str(m.id) == raw), None)
    if membership is None:
        raise ApiError(404, f"Object not found: listrecipient {raw}")
    return _one(membership.as_json(state.lists[membership.list_id].name))


# ---------------------------------------------------------------------- bulk jobs


def _contacts_of(body: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    contacts = body.get("Contacts")
    if not isinstance(contacts, list) or not contacts:
        raise ApiError(400, "Contacts must be a non-empty list")
    if len(contacts) > limit:
        raise ApiError(400, f"Too many contacts in one call: {len(contacts)} (max {limit})")
    if not all(isinstance(c, dict) for c in contacts):
        raise ApiError(400, "Every contact must be an object with Email")
    return contacts


def _action(value: Any) -> str:
    if value not in ACTIONS:
        raise ApiError(400, f"Action must be one of {', '.join(ACTIONS)}")
    return str(value)


def list_job_create(state: MailjetState, raw: str, body: Any, now: float, config: MailjetConfig) -> Job:
    contacts_list = _list(state, raw)
    body = _mapping(body)
    action = _action(body.get("Action"))
    contacts = _contacts_of(body, config.max_contacts_per_job)
    return state.add_job(Job(state.new_id("job"), "contacts", now, [(contacts_list.id, action)], contacts))


def contact_job_create(state: MailjetState, body: Any, now: float, config: MailjetConfig) -> Job:
    body = _mapping(body)
    lists = body.get("ContactsLists")
    if not isinstance(lists, list) or not lists:
        raise ApiError(400, "ContactsLists must be a non-empty list of {ListID, Action}")
    pairs = []
    for item in lists:
        item = _mapping(item)
        pairs.append((_list(state, str(item.get("ListID"))).id, _action(item.get("Action"))))
    contacts = _contacts_of(body, config.max_contacts_per_job)
    return state.add_job(Job(state.new_id("job"), "contacts", now, pairs, contacts))


def job_document(state: MailjetState, job: Job) -> dict[str, Any]:
    status = job.status(state.clock.now(), state.job_seconds)
    errors = len(job.errors)
    document = {
        "JobID": job.id,
        "Status": status,
        "Count": len(job.contacts),
        "Error": job.error_message or (f"{errors} contact(s) in error" if errors else ""),
        "ErrorFile": f"/v3/DATA/BatchJob/{job.id}/CSVError/text:csv" if errors else "",
        "ErrorCount": errors,
        "JobStart": "",
        "JobEnd": "",
    }
    return document


def job_get(state: MailjetState, raw: str, list_raw: str | None) -> dict[str, Any]:
    job = state.jobs.get(int(raw)) if raw.isdigit() else None
    if job is None or job.kind != "contacts":
        raise ApiError(404, f"Object not found: job {raw}")
    if list_raw is not None and all(str(list_id) != list_raw for list_id, _ in job.lists):
        raise ApiError(404, f"Object not found: job {raw} of contactslist {list_raw}")
    return _one(job_document(state, job))


# ---------------------------------------------------------------------- CSV import


def csv_upload(state: MailjetState, raw: str, body: bytes) -> dict[str, Any]:
    _list(state, raw)
    data_id = state.new_id("data")
    state.uploads[data_id] = body
    return {"ID": data_id}


def csv_import_create(state: MailjetState, body: Any, now: float) -> dict[str, Any]:
    body = _mapping(body)
    data_id = body.get("DataID")
    if data_id not in state.uploads:
        raise ApiError(400, f"Unknown DataID {data_id}")
    method = str(body.get("Method") or "addnoforce")
    if method not in CSV_METHODS:
        raise ApiError(400, f"Method must be one of {', '.join(CSV_METHODS)}")
    list_id = body.get("ContactsListID")
    if list_id is not None:
        _list(state, str(list_id))
    elif method not in ("excludemarketing", "includemarketing"):
        raise ApiError(400, "ContactsListID is required for this Method")
    text = state.uploads[data_id].decode("utf-8-sig", "replace")
    rows = list(csv.reader(io.StringIO(text)))
    header = [h.strip().lower() for h in rows[0]] if rows else []
    if "email" not in header:
        raise ApiError(400, "The CSV has no email column")
    at = header.index("email")
    contacts = [{"Email": row[at] if at < len(row) else ""} for row in rows[1:] if any(row)]
    action = method if list_id is not None else method
    job = Job(
        state.new_id("job"),
        "csv",
        now,
        [(int(list_id or 0), action)],
        contacts,
        data_id=data_id,
        method=method,
    )
    if method == "includemarketing":
        job.lists = [(0, "includemarketing")]
    state.add_job(job)
    return _one(_csv_document(state, job))


def _csv_document(state: MailjetState, job: Job) -> dict[str, Any]:
    list_id = job.lists[0][0] or None
    return {
        "ID": job.id,
        "ContactsListID": list_id,
        "DataID": job.data_id,
        "Method": job.method,
        "Status": job.status(state.clock.now(), state.job_seconds),
        "Count": len(job.contacts),
        "Current": len(job.contacts) if job.applied else 0,
        "Errcount": len(job.errors),
        "ErrTreshold": 0,
        "JobStart": "",
        "JobEnd": "",
    }


def csv_import_get(state: MailjetState, raw: str) -> dict[str, Any]:
    job = state.jobs.get(int(raw)) if raw.isdigit() else None
    if job is None or job.kind != "csv":
        raise ApiError(404, f"Object not found: csvimport {raw}")
    return _one(_csv_document(state, job))


def csv_errors(state: MailjetState, raw: str) -> bytes:
    job = state.jobs.get(int(raw)) if raw.isdigit() else None
    if job is None:
        raise ApiError(404, f"Object not found: batchjob {raw}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["email", "error"])
    writer.writerows(job.errors)
    return out.getvalue().encode("utf-8")


# ---------------------------------------------------------------------- contactmetadata


def metadata_get(state: MailjetState, params: dict[str, str], config: MailjetConfig) -> dict[str, Any]:
    return envelope(
        list(state.metadata.values()), params, lambda m: m, config.max_limit, config.default_limit
    )


def metadata_create(state: MailjetState, body: Any) -> dict[str, Any]:
    body = _mapping(body)
    name = str(body.get("Name") or "").strip()
    datatype = body.get("Datatype")
    if not name or datatype not in DATATYPES:
        raise ApiError(400, f"Name and Datatype ({', '.join(DATATYPES)}) are required")
    if name.lower() in state.metadata:
        raise ApiError(400, f'A property named "{name}" already exists', "MJ18")
    document = {
        "ID": state.new_id("meta"),
        "Name": name,
        "Datatype": datatype,
        "NameSpace": body.get("NameSpace", "static"),
    }
    state.metadata[name.lower()] = document
    return _one(document)
