"""Lookups shared by the webservices that fault the way the platform does when an id is unknown."""

from __future__ import annotations

from include.emulators.optimizely import errors
from include.emulators.optimizely.lists import OptinProcess, RecipientList
from include.emulators.optimizely.services.base import CallContext


def recipient_list(ctx: CallContext, list_id: int) -> RecipientList:
    rlist = ctx.state.lists.get(list_id)
    if rlist is None:
        raise errors.illegal_argument(f"Unknown recipient list: {list_id}")
    return rlist


def optin_process(ctx: CallContext, process_id: int) -> OptinProcess | None:
    """``None`` for process id 0 (no opt-in: recipients are active immediately)."""
    if process_id == 0:
        return None
    process = ctx.state.optin_process(process_id)
    if process is None:
        raise errors.illegal_argument(f"Unknown opt-in process: {process_id}")
    return process


def non_null(values: list | None) -> list:
    """A nil array parameter counts as an empty one."""
    return [] if values is None else values
