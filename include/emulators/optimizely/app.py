"""The emulator as a transport-independent application: SOAP dispatch with sessions, call
counting and fault injection. server.py maps HTTP requests (from the kit's server) onto it.

Order of events for one SOAP call:
  parse and decode (malformed -> fault) -> count the call -> draw a fault-injection rule ->
  ``before`` injections (slow / drop / http500 / soap_fault) -> ``expire_session`` ->
  session check -> take a concurrent-request slot on the session -> handler ->
  ``after`` injections (still holding the slot) -> response.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from typing import Any

from include.emulators.kit.calls import CallCounter
from include.emulators.kit.faults import generic_reply
from include.emulators.kit.http import Reply
from include.emulators.optimizely import errors, soap
from include.emulators.optimizely.clock import ControllableClock
from include.emulators.optimizely.config import EmulatorConfig
from include.emulators.optimizely.faults import FaultInjector, Injection
from include.emulators.optimizely.response_files import ResponseFileStore
from include.emulators.optimizely.services import WEBSERVICES
from include.emulators.optimizely.services.base import CallContext, Webservice
from include.emulators.optimizely.sessions import SessionStore
from include.emulators.optimizely.sftp_faults import SftpFaultInjector
from include.emulators.optimizely.state import EmulatorState
from include.emulators.optimizely.wsdl import render_wsdl

log = logging.getLogger(__name__)

SOAP_CONTENT_TYPE = "text/xml; charset=utf-8"

__all__ = ["SOAP_CONTENT_TYPE", "Emulator", "Reply", "fault_reply"]


def fault_reply(fault: errors.SoapFault) -> Reply:
    return Reply(500, soap.encode_fault(fault), SOAP_CONTENT_TYPE)


class Emulator:
    def __init__(self, config: EmulatorConfig, clock: ControllableClock | None = None) -> None:
        self.config = config
        self.clock = clock or ControllableClock()
        self.state = EmulatorState(self.clock, config.seed_path)
        self.sessions = SessionStore(
            self.clock, config.session_ttl_seconds, config.max_concurrent_per_session
        )
        self.faults = FaultInjector()
        self.calls = CallCounter()
        # The response-data job and its SFTP area; the runner attaches the SFTP server (``sftp``).
        self.response_files = ResponseFileStore(
            self.state,
            self.clock,
            mandator_id=config.mandator_id,
            root=config.sftp_root,
            lifetime_days=config.response_file_lifetime_days,
            interval_seconds=config.response_job_interval_seconds,
        )
        self.sftp_faults = SftpFaultInjector()
        self.sftp: Any = None

    # ------------------------------------------------------------------ control
    def reset(self) -> None:
        """Back to the seed: state, sessions, fault rules, call counters, the clock and the SFTP area."""
        self.clock.reset()
        self.faults.clear()
        self.sftp_faults.clear()
        self.sessions.clear()
        self.calls.clear()
        self.state.reset()
        self.response_files.reset()

    def call_counts(self) -> dict[str, int]:
        return self.calls.snapshot()

    # --------------------------------------------------------------------- SOAP
    @staticmethod
    def webservice(path: str) -> Webservice | None:
        return WEBSERVICES.get(path.rstrip("/"))

    def wsdl(self, service: Webservice, base_url: str) -> bytes:
        return render_wsdl(service, base_url)

    def handle_soap(self, service: Webservice, body: bytes) -> Reply:
        try:
            request = soap.parse_request(body)
            operation = service.operations.get(request.operation)
            if operation is None:
                raise errors.SoapFault(
                    "no_such_operation", f"No such operation '{request.operation}'", errors.CLIENT_FAULT
                )
            self.calls.count(f"{service.name}.{operation.name}")
            args = soap.decode_params(request, operation.params)
        except errors.SoapFault as fault:
            return fault_reply(fault)

        injection = self.faults.draw(service.name, operation.name)
        if injection is not None and injection.when == "before" and injection.kind != "expire_session":
            early = self._inject(injection)
            if early is not None:
                return early

        ctx = CallContext(self.state, self.sessions, self.config)
        try:
            if operation.needs_session:
                if injection is not None and injection.kind == "expire_session":
                    self.sessions.invalidate(args[0])
                ctx.session = self.sessions.get(args[0])
                slot = self.sessions.in_flight(ctx.session)
                args = args[1:]
            else:
                slot = nullcontext()
            with slot:
                result = operation.handler(ctx, *args)
                if injection is not None and injection.when == "after" and injection.kind != "expire_session":
                    late = self._inject(injection)
                    if late is not None:
                        return late
            return Reply(
                200,
                soap.encode_response(service.namespace, operation.name, operation.returns, result),
                SOAP_CONTENT_TYPE,
            )
        except errors.SoapFault as fault:
            return fault_reply(fault)
        except Exception:  # a bug in the emulator: report it like Axis would, keep serving
            log.exception("Unhandled error in %s.%s", service.name, operation.name)
            return fault_reply(errors.SoapFault("runtime", "Internal error in the emulator"))

    @staticmethod
    def _inject(injection: Injection) -> Reply | None:
        """The reply an injection forces, or None to carry on (after a ``slow`` delay).

        The kit's ``http500`` body is nginx's error page, which is not XML (an unclosed <hr>), so
        zeep raises TransportError(status_code=500); a well-formed HTML page would instead
        surface as Fault("Unknown fault occured") with code None."""
        if injection.kind == "soap_fault":
            return fault_reply(errors.SoapFault("runtime", injection.message))
        return generic_reply(injection)
