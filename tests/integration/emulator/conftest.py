"""Fixtures for the emulator tests: plain zeep clients built from the emulator's own WSDLs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
import zeep

from include.emulators.optimizely import EmulatorServer
from tests.integration.emulator import offline_zeep

# zeep clients are reusable across tests; loading a WSDL costs more than most tests, so keep
# one client per (emulator URL, webservice).
_CLIENTS: dict[tuple[str, str], zeep.Client] = {}

LIST_ID = 1001
OTHER_LIST_ID = 1002
SINGLE, CONFIRMED, DOUBLE = 2001, 2002, 2003


class Soap:
    """zeep clients for one running emulator plus the array helpers the WSDLs need."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.base_url = server.base_url

    def client(self, service: str) -> zeep.Client:
        key = (self.base_url, service)
        if key not in _CLIENTS:
            _CLIENTS[key] = offline_zeep.client(self.base_url, service)
        return _CLIENTS[key]

    def service(self, name: str) -> Any:
        return self.client(name).service

    def login(self, mandator_id: int = 1, user: str = "demo", password: str = "demo") -> str:
        return self.service("Session").login(mandator_id, user, password)

    def strings(self, values: Iterable[str], service: str = "Recipient") -> Any:
        return offline_zeep.string_array(self.client(service), list(values))

    def matrix(self, rows: Iterable[Iterable[str]]) -> Any:
        return offline_zeep.string_matrix(self.client("Recipient"), [list(r) for r in rows])

    def add_all3(
        self,
        sid: str,
        list_id: int,
        optin_id: int,
        ids: list[str],
        emails: list[str] | None = None,
        names: list[str] | None = None,
        rows: list[list[str]] | None = None,
    ) -> list[int]:
        emails = ids if emails is None else emails
        names = names or []
        rows = rows if rows is not None else [[] for _ in ids]
        result = self.service("Recipient").addAll3(
            sid,
            list_id,
            optin_id,
            self.strings(ids),
            self.strings(emails),
            self.strings(names),
            self.matrix(rows),
        )
        return list(result or [])

    def get_all(self, sid: str, list_id: int, names: list[str] | None = None) -> list[list[str]]:
        return offline_zeep.call_matrix(
            self.client("Recipient"), "getAll", sid, list_id, self.strings(names or [])
        )


@pytest.fixture
def soap(optimizely_emulator: EmulatorServer) -> Soap:
    return Soap(optimizely_emulator)


@pytest.fixture
def sid(soap: Soap) -> str:
    return soap.login()
