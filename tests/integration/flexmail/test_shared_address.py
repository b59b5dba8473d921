"""Two CRM entities sharing one address, through the emulator: Flexmail keys contacts by address, so
the import carries ONE record per address with the union of the labels its entities qualify for,
and no label is removed (nor queued for removal) while an entity with that address still qualifies."""

from __future__ import annotations

import csv

from include.crm_sync.platforms.flexmail.export_csv import export_csv
from include.crm_sync.sync.label_records import import_pages
from tests.integration.extract.crm_state import CrmState
from tests.integration.flexmail.crm import prepare, set_consent, sync
from tests.integration.flexmail.scenario import HONDEN, KATTEN

SHARED = "shared@example.com"


def carriers(flexmail, label_id):
    return sorted(flexmail.control.label_members(label_id))


def shared_crm(engine, *, a_events: str | None, b_events: str | None, b_language: str = "nl") -> None:
    """P0000 (nl, newsletter) and P0001 (newsletter, ``b_language``) share one address, written
    differently; each has the events consent given (None: no consent row)."""
    state = CrmState()
    state.entity("P0000", SHARED, consent_id="newsletter")
    state.entity("P0001", " Shared@Example.COM", consent_id="newsletter", language=b_language)
    state.entity("P0002", "other@example.com", consent_id="newsletter")
    for entity_id, status in (("P0000", a_events), ("P0001", b_events), ("P0002", "granted")):
        if status is not None:
            state.consent(entity_id, "events", status)
    state.write(engine, run_id="run-1")


def test_one_import_record_per_address_with_the_union_of_labels(staging_engine, flexmail, tmp_path):
    # P0000 qualifies for dogs only (no events consent), P0001 for cats only (French speaker)
    shared_crm(staging_engine, a_events=None, b_events="granted", b_language="fr")
    ids = prepare(staging_engine)
    path, rows = export_csv(staging_engine, ids, tmp_path)
    with path.open(encoding="utf-8", newline="") as handle:
        exported = {r["email"]: r["interest_labels"] for r in csv.DictReader(handle)}
    assert rows == 2 and exported == {SHARED: "Honden,Katten", "other@example.com": "Honden,Katten"}

    report = sync(staging_engine, flexmail, ids)
    [imported] = report.imports
    assert imported["records"] == 2  # one per address, not one per entity
    assert SHARED in carriers(flexmail, HONDEN) and SHARED in carriers(flexmail, KATTEN)
    # nothing left to add: the next night is quiet
    again = sync(staging_engine, flexmail, prepare(staging_engine, "run-2", new_run=True), run_id="run-2")
    assert again.imports == [] and again.removed == 0


def test_no_removal_while_another_entity_with_the_address_qualifies(staging_engine, flexmail):
    # both qualify for cats; the snapshot keeps P0000 (smallest id) for the address
    shared_crm(staging_engine, a_events="granted", b_events="granted")
    sync(staging_engine, flexmail, prepare(staging_engine))
    set_consent(staging_engine, [0], "events", "revoked")  # now the cats snapshot holds P0001 for it
    before = flexmail.control.calls().get("contact_labels.delete", 0)
    report = sync(staging_engine, flexmail, prepare(staging_engine, "run-2", new_run=True), run_id="run-2")
    assert report.lists["cats"]["enqueued_for_removal"] == 0 and report.removed == 0
    assert flexmail.control.calls().get("contact_labels.delete", 0) == before
    assert SHARED in carriers(flexmail, KATTEN)
    # when nobody with the address qualifies any more, the label goes
    set_consent(staging_engine, [1], "events", "revoked")
    report = sync(staging_engine, flexmail, prepare(staging_engine, "run-3", new_run=True), run_id="run-3")
    assert SHARED not in carriers(flexmail, KATTEN) and report.backlog == 0
    assert SHARED in carriers(flexmail, HONDEN)


def test_a_queued_removal_is_cancelled_when_another_entity_with_the_address_qualifies(
    staging_engine, flexmail
):
    shared_crm(staging_engine, a_events="granted", b_events="revoked")
    sync(staging_engine, flexmail, prepare(staging_engine))
    set_consent(staging_engine, [0], "events", "revoked")
    ids = prepare(staging_engine, "run-2", new_run=True)
    report = sync(staging_engine, flexmail, ids, run_id="run-2", removal_budget_seconds=0)
    assert report.backlog == 1  # queued, not yet worked
    set_consent(staging_engine, [1], "events", "granted")
    before = flexmail.control.calls().get("contact_labels.delete", 0)
    report = sync(staging_engine, flexmail, prepare(staging_engine, "run-3", new_run=True), run_id="run-3")
    assert report.lists["cats"]["removal_cancelled"] == 1 and report.backlog == 0
    assert flexmail.control.calls().get("contact_labels.delete", 0) == before
    assert SHARED in carriers(flexmail, KATTEN)


def test_pages_merge_the_snapshots_in_address_order_whatever_the_page_size(staging_engine):
    state = CrmState()
    for i in range(12):  # addresses shared by two entities, some in one list only, in mixed order
        address = f"{'zyxwvutsrqpo'[i]}{i}@example.com"
        state.entity(f"A{i:02d}", address, consent_id="newsletter", language="nl" if i % 3 else "fr")
        if i % 2:
            state.entity(f"B{i:02d}", address.upper(), consent_id="newsletter", language="fr")
            state.consent(f"B{i:02d}", "events", "granted")
    state.write(staging_engine, run_id="run-1")
    ids = prepare(staging_engine)
    whole = [r for page in import_pages(staging_engine, ids, page_size=1000) for r in page]
    assert [r.email for r in whole] == sorted({r.email for r in whole}) and len(whole) == 10
    for size in (1, 2, 3, 5):
        pages = list(import_pages(staging_engine, ids, page_size=size))
        assert all(len(page) <= size for page in pages)
        assert [r for page in pages for r in page] == whole
