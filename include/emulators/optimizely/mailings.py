"""Simulated mailings: "send" a mailing to a list's active recipients and produce its feedback.

Who receives it: recipients of the list that are not pending a double opt-in, not unsubscribed,
not blocklisted and not over the bounce threshold, the same people the platform would mail.
For each of them, with a random generator seeded by ``seed`` (same seed, same outcome):

  bounce_rate          hard bounce (counts towards the bounce counter; may produce an out-bounce)
  soft_bounce_rate     soft bounce
  autoresponder_rate   an autoresponder reply (a response, not a bounce)
  unsubscribe_rate     unsubscribes via the mailing (enters the unsubscribe list)
  open_rate            opens it (probability per delivered recipient)
  click_rate           clicks a link (probability per recipient who opened)

Events occur at the dispatch time plus a seeded offset of up to ``spread_seconds`` (0 by default:
all at dispatch), and are exported ``export_delay_seconds`` after they occur (0 by default). Events
whose export time is still in the future are not exported until the clock gets there.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from include.emulators.optimizely.lists import EMAIL, PENDING
from include.emulators.optimizely.state import EmulatorState

_RATES = (
    "bounce_rate",
    "soft_bounce_rate",
    "autoresponder_rate",
    "unsubscribe_rate",
    "open_rate",
    "click_rate",
)
_LINKS = (
    "https://www.example.com/",
    "https://www.example.com/offers?utm_source=newsletter&utm_medium=email",
    "https://www.example.com/events/webinar",
)


@dataclass(frozen=True)
class MailingSpec:
    list_id: int
    name: str = ""
    bounce_rate: float = 0.0
    soft_bounce_rate: float = 0.0
    autoresponder_rate: float = 0.0
    unsubscribe_rate: float = 0.0
    open_rate: float = 0.0
    click_rate: float = 0.0
    seed: int | None = None
    spread_seconds: float = 0.0
    export_delay_seconds: float = 0.0
    #: closed loop: the CRM campaign ("wave") id the mailing is sent for; in the response files
    wave_id: str | None = None

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> MailingSpec:
        known = set(cls.__dataclass_fields__)
        unknown = set(doc) - known
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
        if "list_id" not in doc:
            raise ValueError("list_id is required")
        spec = cls(
            list_id=int(doc["list_id"]),
            name=str(doc.get("name") or ""),
            seed=None if doc.get("seed") is None else int(doc["seed"]),
            spread_seconds=float(doc.get("spread_seconds", 0.0)),
            export_delay_seconds=float(doc.get("export_delay_seconds", 0.0)),
            wave_id=str(doc["wave_id"]) if doc.get("wave_id") not in (None, "") else None,
            **{rate: float(doc.get(rate, 0.0)) for rate in _RATES},
        )
        for rate in _RATES:
            if not 0.0 <= getattr(spec, rate) <= 1.0:
                raise ValueError(f"{rate} must be between 0 and 1")
        if spec.bounce_rate + spec.soft_bounce_rate + spec.autoresponder_rate > 1.0:
            raise ValueError("bounce_rate + soft_bounce_rate + autoresponder_rate must not exceed 1")
        return spec


def send_mailing(state: EmulatorState, spec: MailingSpec) -> dict[str, Any]:
    """Simulate the mailing; returns the mailing and how many events of each kind it produced."""
    rlist = state.lists.get(spec.list_id)
    if rlist is None:
        raise ValueError(f"unknown list {spec.list_id}")
    rng = random.Random(spec.seed)
    now = state.clock.now()
    counts = {
        "recipients": 0,
        "hardbounce": 0,
        "softbounce": 0,
        "autoresponder": 0,
        "unsubscribe": 0,
        "open": 0,
        "click": 0,
    }
    with rlist.lock, state.registry_lock:
        audience = [
            (rid, r[EMAIL])
            # by recipient id: the list's insertion order depends on which concurrent addAll3 batch
            # arrived first, and the seeded draws must meet the same people in the same order
            for rid, r in sorted(rlist.recipients.items())
            if not r[PENDING]
            and not state.unsubscribes.is_unsubscribed(rid, r[EMAIL])
            and not state.blocklist.matches(r[EMAIL])
            and not state.bounces.overflow(r[EMAIL])
        ]
        mailing = state.add_mailing(spec.list_id, spec.name, now, len(audience), wave_id=spec.wave_id)
        counts["recipients"] = len(audience)

        def record(kind: str, rid: str, email: str, **extra: Any) -> None:
            occurred = now + (rng.uniform(0, spec.spread_seconds) if spec.spread_seconds else 0.0)
            state.record_feedback(
                kind,
                rid,
                email,
                list_id=spec.list_id,
                mailing_id=mailing.id,
                occurred_at=occurred,
                exported_at=occurred + spec.export_delay_seconds,
                **extra,
            )

        for rid, email in audience:
            draw = rng.random()
            if draw < spec.bounce_rate:
                record("bounce", rid, email, category="hardbounce")
                counts["hardbounce"] += 1
                continue
            if draw < spec.bounce_rate + spec.soft_bounce_rate:
                record("bounce", rid, email, category="softbounce")
                counts["softbounce"] += 1
                continue
            if draw < spec.bounce_rate + spec.soft_bounce_rate + spec.autoresponder_rate:
                record("bounce", rid, email, category="autoresponder")
                counts["autoresponder"] += 1
            if rng.random() < spec.open_rate:
                record("open", rid, email)
                counts["open"] += 1
                if rng.random() < spec.click_rate:
                    record("click", rid, email, link_url=rng.choice(_LINKS))
                    counts["click"] += 1
            if rng.random() < spec.unsubscribe_rate:
                record("unsubscribe", rid, email)
                counts["unsubscribe"] += 1
    return {"mailing": mailing.as_dict(), "counts": counts}
