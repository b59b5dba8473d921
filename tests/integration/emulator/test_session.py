"""RpcSession over real HTTP with a plain zeep client: login, logout, expiry on the emulator clock."""

from __future__ import annotations

import re

import pytest
import zeep.exceptions


def test_login_returns_unguessable_distinct_session_ids(soap):
    first, second = soap.login(), soap.login()
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert first != second
    assert soap.service("Recipient").getCount(first, 1001, 0) == 0


@pytest.mark.parametrize(
    "mandator_id, user, password",
    [(1, "demo", "wrong"), (1, "nobody", "demo"), (2, "demo", "demo"), (1, "", "")],
)
def test_login_with_bad_credentials_is_an_axis_fault(soap, mandator_id, user, password):
    with pytest.raises(zeep.exceptions.Fault) as excinfo:
        soap.login(mandator_id, user, password)
    assert excinfo.value.message == "com.optivo.webservice.InvalidCredentialsException: Invalid credentials"
    assert excinfo.value.code == "soapenv:Server.userException"
    assert soap.server.emulator.sessions.summary() == []


def test_logout_invalidates_the_session(soap, sid):
    soap.service("Session").logout(sid)
    with pytest.raises(zeep.exceptions.Fault, match="InvalidWebserviceSessionException: Invalid sessionId"):
        soap.service("Recipient").getCount(sid, 1001, 0)


def test_unknown_session_id_is_refused(soap):
    with pytest.raises(zeep.exceptions.Fault) as excinfo:
        soap.service("RecipientList").getAllIds("f" * 64)
    assert (
        excinfo.value.message == "com.optivo.webservice.InvalidWebserviceSessionException: Invalid sessionId"
    )


def test_session_expires_ttl_after_login_not_after_last_use(soap, sid, optimizely_emulator):
    recipient = soap.service("Recipient")
    optimizely_emulator.control.advance_clock(1199)
    assert recipient.getCount(sid, 1001, 0) == 0  # still valid one second before the TTL, and used
    optimizely_emulator.control.advance_clock(1)
    with pytest.raises(zeep.exceptions.Fault, match="Invalid sessionId"):
        recipient.getCount(sid, 1001, 0)
    fresh = soap.login()  # a new login works on the advanced clock
    assert recipient.getCount(fresh, 1001, 0) == 0
