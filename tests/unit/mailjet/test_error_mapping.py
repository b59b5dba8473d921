"""Responses *returned* instead of raised (older mailjet-rest, or its dry-run mock) are checked
as strictly as raised ones: an error status never passes as success."""

from __future__ import annotations

import pytest
import requests

from include.crm_sync.platforms.mailjet.client import _checked
from include.crm_sync.platforms.mailjet.errors import (
    MailjetCredentialsError,
    MailjetError,
    MailjetNotFound,
    MailjetRateLimited,
    MailjetRequestRefused,
    MailjetTransientError,
)


def _response(status: int, body: str = "", headers: dict[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body.encode()
    response.headers.update(headers or {})
    return response


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, MailjetRequestRefused),
        (401, MailjetCredentialsError),
        (403, MailjetCredentialsError),
        (404, MailjetNotFound),
        (500, MailjetTransientError),
        (503, MailjetTransientError),
    ],
)
def test_returned_error_statuses_raise(status, error):
    with pytest.raises(error):
        _checked("call", _response(status, '{"ErrorMessage": "no"}'))


def test_returned_429_carries_retry_after():
    with pytest.raises(MailjetRateLimited) as exc:
        _checked("call", _response(429, "", {"Retry-After": "7"}))
    assert exc.value.retry_after == 7.0


def test_a_response_without_status_is_an_error_and_addresses_are_masked():
    with pytest.raises(MailjetError):
        _checked("call", object())
    with pytest.raises(MailjetRequestRefused) as exc:
        _checked("call", _response(400, '{"ErrorMessage": "jane.doe@example.com is bad"}'))
    assert "jane.doe@example.com" not in str(exc.value)


def test_success_passes():
    assert _checked("call", _response(200, "{}")).status_code == 200
