"""Fixtures for the Spotler emulator tests: one emulator per session on an ephemeral loopback
port, reset before each test, and a real OAuth 1.0a client (requests + requests-oauthlib)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from requests_oauthlib import OAuth1

from include.emulators.spotler import SpotlerEmulatorServer

KEY, SECRET = "crm-sync-test-key", "crm-sync-test-secret"


class Api:
    """A signed JSON client of one emulator: ``api.post("/audience", {...})`` -> requests.Response."""

    def __init__(self, base_url: str, key: str = KEY, secret: str = SECRET) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.auth = OAuth1(key, secret)
        self.session.headers["Accept"] = "application/json"

    def request(self, method: str, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        if body is not None:
            kwargs["json"] = body
        return self.session.request(method, f"{self.base_url}{path}", timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, body, **kwargs)

    def delete(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, body, **kwargs)

    # The calls most tests need.
    def create_audience(
        self, external_id: str, name: str | None = None, description: str = ""
    ) -> requests.Response:
        return self.post(
            "/audience",
            {
                "externalId": external_id,
                "name": name or f"Audience {external_id}",
                "description": description,
            },
        )

    def upsert(
        self, contacts: list[dict[str, Any]], update: bool = True, purge: bool = False
    ) -> requests.Response:
        return self.post("/contact/list", {"update": update, "purge": purge, "contacts": contacts})


def contact(external_id: str, **properties: Any) -> dict[str, Any]:
    return {"externalId": external_id, "properties": {"email": f"{external_id}@example.com", **properties}}


@pytest.fixture(scope="session")
def spotler_server() -> Iterator[SpotlerEmulatorServer]:
    with SpotlerEmulatorServer(port=0, consumer_key=KEY, consumer_secret=SECRET) as server:
        yield server


@pytest.fixture
def spotler(spotler_server: SpotlerEmulatorServer) -> Iterator[SpotlerEmulatorServer]:
    spotler_server.control.reset()  # over HTTP: also proves the control endpoint is up
    yield spotler_server
    spotler_server.control.clear_faults()


@pytest.fixture
def api(spotler: SpotlerEmulatorServer) -> Api:
    return Api(spotler.api_url)


def make_contacts(server: SpotlerEmulatorServer, count: int, prefix: str = "c") -> list[str]:
    """``count`` contacts created through the control endpoint (no 100-per-call limit there)."""
    ids = [f"{prefix}{i}" for i in range(count)]
    server.control.add_contacts([contact(i) for i in ids])
    return ids
