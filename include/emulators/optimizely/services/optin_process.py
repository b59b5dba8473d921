"""RpcOptinProcess: the mandator's opt-in processes (single, confirmed, double)."""

from __future__ import annotations

from include.emulators.optimizely import errors
from include.emulators.optimizely.lists import OptinProcess
from include.emulators.optimizely.services.base import CallContext, Webservice

SERVICE = Webservice("OptinProcess", doc="Describes the mandator's opt-in processes.")


def _process(ctx: CallContext, process_id: int) -> OptinProcess:
    process = ctx.state.optin_process(process_id)
    if process is None:
        raise errors.illegal_argument(f"Unknown opt-in process: {process_id}")
    return process


@SERVICE.operation("getIds", [], returns="long[]", doc="Ids of all opt-in processes.")
def get_ids(ctx: CallContext) -> list[int]:
    return sorted(ctx.state.optin_processes)


@SERVICE.operation("getName", [("optinProcessId", "long")], returns="string", doc="Name of the process.")
def get_name(ctx: CallContext, process_id: int) -> str:
    return _process(ctx, process_id).name


@SERVICE.operation(
    "getType",
    [("optinProcessId", "long")],
    returns="string",
    doc="'single', 'confirmed' or 'double' (double: a recipient is active only after confirming).",
)
def get_type(ctx: CallContext, process_id: int) -> str:
    return _process(ctx, process_id).type
