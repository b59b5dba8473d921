"""The emulator kit on its own, with a toy application: routing, fault injection on the Nth call
and at a rate, the control endpoint (faults, clock, calls, reset), keep-alive, absent vs empty body."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest

from include.emulators.kit import (
    CallCounter,
    ControlClient,
    ControlError,
    ControllableClock,
    ControlRouter,
    FaultInjector,
    HttpRunner,
    Reply,
    Request,
    generic_reply,
    json_reply,
)


class EchoApp:
    """Counts POST /echo and answers what it received (method, body presence, body)."""

    def __init__(self) -> None:
        self.faults = FaultInjector()
        self.clock = ControllableClock()
        self.calls = CallCounter()
        self.applied = 0

    def handle(self, request: Request) -> Reply:
        self.calls.count("echo")
        injection = self.faults.draw("echo")
        if injection is not None and injection.when == "before":
            early = generic_reply(injection)
            if early is not None:
                return early
        self.applied += 1
        reply = json_reply(
            200, {"method": request.method, "has_body": request.has_body, "body": request.body.decode()}
        )
        if injection is not None and injection.when == "after":
            return generic_reply(injection) or reply
        return reply


class EchoControl(ControlRouter):
    def __init__(self, app: EchoApp) -> None:
        super().__init__(app.faults, app.clock, app.calls)
        self.app = app

    def reset_all(self) -> None:
        self.faults.clear()
        self.calls.clear()
        self.clock.reset()
        self.app.applied = 0

    def state(self, params: dict[str, str]) -> dict[str, Any]:
        return {"applied": self.app.applied}


@pytest.fixture
def echo():
    app = EchoApp()
    with HttpRunner(app, EchoControl(app), port=0) as runner:
        yield app, runner


def _request(runner: HttpRunner, method: str, body: bytes | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", runner.port, timeout=10)
    try:
        connection.request(method, "/echo", body=body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_absent_body_differs_from_a_body(echo):
    _, runner = echo
    status, raw = _request(runner, "DELETE")
    assert status == 200 and json.loads(raw)["has_body"] is False
    status, raw = _request(runner, "DELETE", b'{"contacts": ["a"]}')
    assert json.loads(raw) == {"method": "DELETE", "has_body": True, "body": '{"contacts": ["a"]}'}


def test_fault_on_the_nth_call_fires_once_and_after_applies_first(echo):
    app, runner = echo
    control = ControlClient(runner.base_url)
    control.add_fault("echo", "http500", nth=2, when="after")
    statuses = [_request(runner, "POST", b"x")[0] for _ in range(3)]
    assert statuses == [200, 500, 200]
    assert app.applied == 3  # "after": the 2nd call was applied, then failed
    assert control.faults()[0]["fired"] == 1
    assert control.calls() == {"echo": 3}


def test_drop_closes_the_connection_without_an_answer(echo):
    _, runner = echo
    ControlClient(runner.base_url).add_fault("ec*", "drop")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        _request(runner, "POST", b"x")
    assert _request(runner, "POST", b"x")[0] == 200


def test_rate_is_reproducible_with_a_seed(echo):
    app, runner = echo
    control = ControlClient(runner.base_url)
    runs = []
    for _ in range(2):
        control.reset()
        control.add_fault("*", "http503", rate=0.5, times=0, seed=7)
        runs.append([_request(runner, "POST", b"x")[0] for _ in range(20)])
    assert runs[0] == runs[1] and 200 in runs[0] and 503 in runs[0]


def test_control_validates_faults_and_moves_the_clock(echo):
    app, runner = echo
    control = ControlClient(runner.base_url)
    with pytest.raises(ControlError) as excinfo:
        control.add_fault("echo", "explode")
    assert excinfo.value.status == 400 and "kind" in excinfo.value.message
    control.set_clock("2026-11-25T23:00:00Z", frozen=True)
    assert control.advance_clock(90)["now"] == "2026-11-25T23:01:30Z"
    assert app.clock.frozen
    control.reset()
    assert not app.clock.frozen and control.state() == {"applied": 0}
    with pytest.raises(ControlError) as excinfo:
        control._call("GET", "/nope")
    assert excinfo.value.status == 404
