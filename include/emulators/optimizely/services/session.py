"""RpcSession: login/logout. Sessions expire a fixed TTL after login (see sessions.py)."""

from __future__ import annotations

import secrets

from include.emulators.optimizely import errors
from include.emulators.optimizely.services.base import CallContext, Webservice

SERVICE = Webservice("Session", doc="Opens and closes webservice sessions.")


@SERVICE.operation(
    "login",
    [("mandatorId", "long"), ("user", "string"), ("password", "string")],
    returns="string",
    needs_session=False,
    doc="Returns a session id for the mandator, valid for the session TTL (20 minutes by default) "
    "after login. Fault 'Invalid credentials' on a wrong mandator, user or password.",
)
def login(ctx: CallContext, mandator_id: int, user: str | None, password: str | None) -> str:
    config = ctx.config
    # compare_digest on every field so a wrong user and a wrong password take the same time.
    checks = [
        mandator_id == config.mandator_id,
        secrets.compare_digest((user or "").encode(), config.user.encode()),
        secrets.compare_digest((password or "").encode(), config.password.encode()),
    ]
    if not all(checks):
        raise errors.invalid_credentials()
    return ctx.sessions.create(mandator_id, user or "").id


@SERVICE.operation("logout", [], doc="Ends the session; later calls with its id fault 'Invalid sessionId'.")
def logout(ctx: CallContext) -> None:
    assert ctx.session is not None
    ctx.sessions.invalidate(ctx.session.id)
