"""``/audience``: create, read, rename, delete, with every documented status and message, the
configurable maximum, and no member listing in the public API."""

from __future__ import annotations

import pytest

from include.emulators.spotler import SpotlerEmulatorServer
from tests.integration.emulator_spotler.conftest import KEY, SECRET, Api


def _error(response, status: int, error_type: str, message: str | None = None) -> None:
    assert response.status_code == status, response.text
    document = response.json()
    assert document["errorType"] == error_type
    if message is not None:
        assert document["message"] == message


def test_create_and_get(api):
    created = api.create_audience("top-100", "Top 100", "best customers")
    assert created.status_code == 200
    assert created.json()["externalId"] == "top-100"
    fetched = api.get("/audience/top-100").json()
    assert (fetched["name"], fetched["description"]) == ("Top 100", "best customers")
    assert {"createDate", "changeDate", "lastContactAddedAt", "lastContactRemovedAt", "lastSyncDate"} <= set(
        fetched
    )
    _error(api.get("/audience/nope"), 404, "RESOURCE_NOT_FOUND", "Audience not found")


@pytest.mark.parametrize(
    "external_id, name",
    [("", "A"), ("x" * 256, "A"), ("a1", ""), ("a1", "n" * 256), (None, "A"), ("a1", None)],
    ids=["id-empty", "id-256", "name-empty", "name-256", "id-missing", "name-missing"],
)
def test_create_refuses_empty_or_too_long_id_and_name(spotler, api, external_id, name):
    _error(api.post("/audience", {"externalId": external_id, "name": name}), 417, "INVALID_PARAMS")
    assert spotler.control.state()["audiences"] == []


def test_255_characters_are_accepted(api):
    assert api.create_audience("x" * 255, "n" * 255).status_code == 200


def test_name_and_id_must_be_unique(spotler, api):
    assert api.create_audience("a1", "Same").status_code == 200
    _error(api.create_audience("a1", "Other"), 417, "ID_NOTUNIQUE", "Audience id must be unique")
    _error(api.create_audience("a2", "Same"), 417, "NAME_ALREADY_IN_USE", "Audience name must be unique")
    assert [a["externalId"] for a in spotler.control.state()["audiences"]] == ["a1"]


def test_maximum_of_audiences():
    with SpotlerEmulatorServer(consumer_key=KEY, consumer_secret=SECRET, max_audiences=2) as server:
        api = Api(server.api_url)
        assert api.create_audience("a1").status_code == 200
        assert api.create_audience("a2").status_code == 200
        _error(api.create_audience("a3"), 417, "INVALID_STATE", "Maximum of audiences exceeded")
        assert api.delete("/audience/a1").status_code == 204
        assert api.create_audience("a3").status_code == 200


def test_rename_and_redescribe(api):
    api.create_audience("a1", "Old", "old text")
    api.create_audience("a2", "Taken")
    renamed = api.put("/audience/a1", {"externalId": "a1", "name": "New", "description": "new text"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "New"
    assert api.get("/audience/a1").json()["description"] == "new text"
    _error(
        api.put("/audience/a1", {"externalId": "a2", "name": "X"}),
        400,
        "INVALID_PARAMS",
        "Path id doesn't match audience id",
    )
    _error(api.put("/audience/a1", {"externalId": "a1", "name": "Taken"}), 417, "NAME_ALREADY_IN_USE")
    _error(api.put("/audience/a1", {"externalId": "a1", "name": ""}), 417, "INVALID_PARAMS")
    _error(api.put("/audience/zz", {"externalId": "zz", "name": "Z"}), 404, "RESOURCE_NOT_FOUND")
    assert api.get("/audience/a1").json()["name"] == "New"


def test_delete_in_use_is_refused_until_the_use_is_removed(spotler, api):
    api.create_audience("a1")
    spotler.control.set_in_use("a1", True, "scheduled mailing")
    _error(api.delete("/audience/a1"), 417, "INVALID_STATE", "Cannot delete audience, as it's in use")
    assert api.get("/audience/a1").status_code == 200
    spotler.control.set_in_use("a1", False)
    assert api.delete("/audience/a1").status_code == 204
    _error(api.get("/audience/a1"), 404, "RESOURCE_NOT_FOUND")
    _error(api.delete("/audience/a1"), 404, "RESOURCE_NOT_FOUND", "Audience not found")


def test_no_member_listing_in_the_public_api(spotler, api):
    api.create_audience("a1")
    assert "members" not in api.get("/audience/a1").json()
    assert api.get("/audience/a1/contact").status_code == 405
    assert api.get("/audience").status_code == 405  # nor a listing of audiences
