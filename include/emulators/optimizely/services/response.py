"""RpcResponse: bounce counters per recipient (counted per e-mail address by the platform)."""

from __future__ import annotations

from include.emulators.optimizely import errors
from include.emulators.optimizely.services.base import CallContext, Webservice

SERVICE = Webservice("Response", doc="Bounce counters of recipients.")

# Accepted spellings of the category parameter -> counter field.
_CATEGORIES = {"hardbounce": "hard", "hard": "hard", "softbounce": "soft", "soft": "soft"}


@SERVICE.operation(
    "getBounceCounter",
    [("recipientId", "string"), ("category", "string")],
    returns="int",
    doc="Number of bounces of the category 'hardbounce' or 'softbounce' ('hard'/'soft' also "
    "accepted) counted for the recipient's address; 0 if none.",
)
def get_bounce_counter(ctx: CallContext, recipient_id: str | None, category: str | None) -> int:
    field = _CATEGORIES.get((category or "").strip().lower())
    if field is None:
        raise errors.illegal_argument(f"Unknown bounce category: {category}")
    with ctx.state.registry_lock:
        counter = ctx.state.bounces.counter_for_recipient(recipient_id or "")
        return getattr(counter, field) if counter else 0


@SERVICE.operation(
    "resetBounceCounter",
    [("recipientId", "string")],
    doc="Resets both bounce counters of the recipient's address (it is no longer over the threshold).",
)
def reset_bounce_counter(ctx: CallContext, recipient_id: str | None) -> None:
    with ctx.state.registry_lock:
        ctx.state.bounces.reset_recipient(recipient_id or "")
