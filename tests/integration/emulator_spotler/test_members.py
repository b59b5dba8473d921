"""``/audience/{externalId}/contact``: add and remove members by contact external id, at most
2,500 per call; contacts must exist; a removal with a body removes exactly those, a DELETE
without a body empties the audience."""

from __future__ import annotations

from tests.integration.emulator_spotler.conftest import make_contacts


def test_add_then_remove_only_the_named_contacts(spotler, api):
    ids = make_contacts(spotler, 6)
    api.create_audience("a1")
    assert api.post("/audience/a1/contact", {"contacts": ids}).status_code == 204
    removed = api.delete("/audience/a1/contact", {"contacts": ids[:2]})
    assert removed.status_code == 204
    assert spotler.control.members("a1") == ids[2:]
    audience = api.get("/audience/a1").json()
    assert audience["lastContactAddedAt"] and audience["lastContactRemovedAt"] and audience["lastSyncDate"]


def test_delete_without_body_empties_the_audience(spotler, api):
    ids = make_contacts(spotler, 5)
    api.create_audience("a1")
    api.create_audience("a2")
    api.post("/audience/a1/contact", {"contacts": ids})
    api.post("/audience/a2/contact", {"contacts": ids})
    assert api.delete("/audience/a1/contact").status_code == 204
    assert spotler.control.members("a1") == []
    assert spotler.control.members("a2") == ids  # only that audience
    assert spotler.control.calls()["audience.contacts.empty"] == 1


def test_a_body_naming_no_contacts_empties_too(spotler, api):
    ids = make_contacts(spotler, 3)
    api.create_audience("a1")
    api.post("/audience/a1/contact", {"contacts": ids})
    assert api.delete("/audience/a1/contact", {"contacts": []}).status_code == 204
    assert spotler.control.members("a1") == []


def test_unknown_contacts_are_named_and_nothing_is_added(spotler, api):
    ids = make_contacts(spotler, 2)
    api.create_audience("a1")
    response = api.post("/audience/a1/contact", {"contacts": [ids[0], "ghost-1", ids[1], "ghost-2"]})
    assert response.status_code == 404
    assert response.json() == {
        "errorType": "CONTACT_NOT_FOUND",
        "message": "Contacts not found",
        "externalContactIds": ["ghost-1", "ghost-2"],
    }
    assert spotler.control.members("a1") == []
    assert api.delete("/audience/a1/contact", {"contacts": ["ghost-1"]}).status_code == 404


def test_unknown_audience(spotler, api):
    ids = make_contacts(spotler, 1)
    response = api.post("/audience/nope/contact", {"contacts": ids})
    assert response.status_code == 404 and response.json()["message"] == "Audience not found"
    assert api.delete("/audience/nope/contact").status_code == 404


def test_2500_ids_pass_and_2501_are_refused(spotler, api):
    ids = make_contacts(spotler, 2501)
    api.create_audience("a1")
    too_many = api.post("/audience/a1/contact", {"contacts": ids})
    assert too_many.status_code == 413
    assert too_many.json()["message"] == "Maximum batch size of contact ids exceeded (maximum is 2500)"
    assert spotler.control.audience("a1")["size"] == 0
    assert api.post("/audience/a1/contact", {"contacts": ids[:2500]}).status_code == 204
    assert api.delete("/audience/a1/contact", {"contacts": ids}).status_code == 413
    assert spotler.control.audience("a1")["size"] == 2500
    assert api.delete("/audience/a1/contact", {"contacts": ids[:2500]}).status_code == 204
    assert spotler.control.audience("a1")["size"] == 0


def test_adding_twice_is_idempotent(spotler, api):
    ids = make_contacts(spotler, 3)
    api.create_audience("a1")
    api.post("/audience/a1/contact", {"contacts": ids})
    api.post("/audience/a1/contact", {"contacts": ids})
    assert spotler.control.members("a1") == ids


def test_malformed_member_body(spotler, api):
    api.create_audience("a1")
    assert api.post("/audience/a1/contact", {"contacts": "c1"}).status_code == 400
    assert api.post("/audience/a1/contact").status_code == 400
