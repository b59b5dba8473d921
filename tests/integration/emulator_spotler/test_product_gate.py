"""``--no-automation-product``: every audience call answers 403 PRODUCT_NOTFOUND with the
documented message; contact calls still work."""

from __future__ import annotations

import pytest

from include.emulators.spotler import SpotlerEmulatorServer
from tests.integration.emulator_spotler.conftest import KEY, SECRET, Api, contact


@pytest.fixture(scope="module")
def no_product_api():
    with SpotlerEmulatorServer(consumer_key=KEY, consumer_secret=SECRET, automation_product=False) as server:
        yield Api(server.api_url)


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", "/audience", {"externalId": "a1", "name": "A"}),
        ("GET", "/audience/a1", None),
        ("PUT", "/audience/a1", {"externalId": "a1", "name": "A"}),
        ("DELETE", "/audience/a1", None),
        ("POST", "/audience/a1/contact", {"contacts": ["c1"]}),
        ("DELETE", "/audience/a1/contact", {"contacts": ["c1"]}),
        ("DELETE", "/audience/a1/contact", None),
    ],
)
def test_every_audience_call_is_refused(no_product_api, method, path, body):
    response = no_product_api.request(method, path, body)
    assert response.status_code == 403
    assert response.json() == {
        "errorType": "PRODUCT_NOTFOUND",
        "message": "Only Automation or eCommerce products can use this call",
    }


def test_contact_calls_still_work(no_product_api):
    assert no_product_api.upsert([contact("c1")]).status_code == 200
    assert no_product_api.get("/contact/c1").status_code == 200
