"""``/contact...``: the 100-contact upsert with its per-contact codes, single-contact calls and
the property definitions."""

from __future__ import annotations

from tests.integration.emulator_spotler.conftest import contact


def _codes(response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    return {r["externalId"]: r["code"] for r in response.json()}


def test_100_contacts_pass_and_101_are_refused(spotler, api):
    batch = [contact(f"c{i}") for i in range(101)]
    refused = api.upsert(batch)
    assert refused.status_code == 400
    assert refused.json() == {
        "errorType": "INVALID_PARAMS",
        "message": "Too many contacts provided (max is 100)",
    }
    assert spotler.control.state()["contact_count"] == 0
    assert set(_codes(api.upsert(batch[:100])).values()) == {"OK"}
    assert spotler.control.state()["contact_count"] == 100


def test_a_contact_without_external_id_refuses_the_call(spotler, api):
    response = api.upsert([contact("c1"), {"properties": {"email": "x@example.com"}}])
    assert response.status_code == 400 and response.json()["errorType"] == "INVALID_PARAMS"
    assert spotler.control.state()["contact_count"] == 0


def test_update_false_leaves_existing_contacts_alone(spotler, api):
    api.upsert([contact("c1", firstName="Ann")])
    codes = _codes(api.upsert([contact("c1", firstName="Bob"), contact("c2")], update=False))
    assert codes == {"c1": "CONTACT_ALREADY_EXISTS", "c2": "OK"}
    assert api.get("/contact/c1").json()["properties"]["firstName"] == "Ann"
    assert _codes(api.upsert([contact("c1", firstName="Bob")])) == {"c1": "OK"}
    assert api.get("/contact/c1").json()["properties"]["firstName"] == "Bob"


def test_a_contact_opted_out_in_spotler_is_not_changed(spotler, api):
    api.upsert([contact("c1", firstName="Ann")])
    spotler.control.opt_out("c1")
    assert _codes(api.upsert([contact("c1", firstName="Bob")])) == {"c1": "CONTACT_OPTOUT"}
    fetched = api.get("/contact/c1").json()
    assert fetched["properties"]["firstName"] == "Ann"
    assert fetched["channels"] == [{"name": "EMAIL", "value": False}]


def test_invalid_properties_and_missing_address(spotler, api):
    codes = _codes(
        api.upsert(
            [
                {"externalId": "bad-email", "properties": {"email": "not-an-address"}},
                {"externalId": "unknown-prop", "properties": {"email": "u@example.com", "shoeSize": 44}},
                {
                    "externalId": "bad-set",
                    "properties": {"email": "s@example.com", "permissions": [{"bit": 9}]},
                },
                {"externalId": "no-email", "properties": {"firstName": "Ann"}},
                contact("fine", permissions=[{"bit": 1, "enabled": True}]),
            ]
        )
    )
    assert codes == {
        "bad-email": "PROPERTY_INVALID",
        "unknown-prop": "PROPERTY_INVALID",
        "bad-set": "PROPERTY_INVALID",
        "no-email": "NO_ACTIVE_CHANNEL",
        "fine": "OK",
    }
    assert [c["externalId"] for c in spotler.control.state()["contacts"]] == ["fine"]
    assert api.get("/contact/fine").json()["properties"]["permissions"] == [{"bit": 1, "enabled": True}]


def test_purge_replaces_properties_and_merge_keeps_them(api):
    api.upsert([contact("c1", firstName="Ann", lastName="Lee")])
    api.upsert([{"externalId": "c1", "properties": {"firstName": "Bo"}}])
    assert api.get("/contact/c1").json()["properties"] == {
        "email": "c1@example.com",
        "firstName": "Bo",
        "lastName": "Lee",
    }
    api.upsert([contact("c1")], purge=True)
    assert api.get("/contact/c1").json()["properties"] == {"email": "c1@example.com"}


def test_single_contact_calls(api):
    assert api.post("/contact", {"update": False, "contact": contact("c1")}).status_code == 204
    duplicate = api.post("/contact", {"update": False, "contact": contact("c1")})
    assert duplicate.status_code == 400 and duplicate.json()["errorType"] == "CONTACT_ALREADY_EXISTS"
    assert api.put("/contact/c1", {"externalId": "c1", "properties": {"lastName": "Lee"}}).status_code == 204
    assert api.get("/contact/c1").json()["properties"]["lastName"] == "Lee"
    assert api.get("/contact/nope").status_code == 404
    assert api.put("/contact/nope", {"properties": {}}).status_code == 404
    assert api.put("/contact/anonymize/c1").status_code == 204
    anonymized = api.get("/contact/c1").json()
    assert anonymized["properties"] == {} and anonymized["channels"][0]["value"] is False


def test_property_definitions(api):
    definitions = {p["name"]: p for p in api.get("/contact/properties/list").json()}
    assert definitions["email"]["type"] == "email"
    assert definitions["permissions"]["type"] == "set"
    assert {e["bit"] for e in definitions["permissions"]["entries"]} == {1, 2}


def test_a_body_that_is_not_declared_json_is_refused(spotler, api):
    response = api.post(
        "/contact/list", data='{"update": true, "contacts": []}', headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.json()["errorType"] == "INVALID_PARAMS"


def test_contact_error_fault_answers_error_per_contact_and_writes_nothing(spotler, api):
    spotler.control.add_fault("contact.list", "contact_error", message="Backend busy")
    assert _codes(api.upsert([contact("c1"), contact("c2")])) == {"c1": "ERROR", "c2": "ERROR"}
    assert spotler.control.state()["contact_count"] == 0
    assert _codes(api.upsert([contact("c1")])) == {"c1": "OK"}  # fired once (times defaults to 1)
