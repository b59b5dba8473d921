"""The emulator's whole mutable world, built from a seed and reset back to it on demand.

Locking: each recipient list has its own lock for its recipients; one re-entrant registry lock
guards everything shared across lists (blocklist, filters, unsubscribes, bounce counters, events,
mailings). Code that needs both takes the list lock first, then the registry lock, never the other
way round, so there is no lock-order deadlock.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from include.emulators.optimizely import feedback as fb
from include.emulators.optimizely.blocklist import Blocklist
from include.emulators.optimizely.bounces import HARD, SOFT, BounceCounter, BounceRegistry
from include.emulators.optimizely.clock import Clock
from include.emulators.optimizely.export_paging import ExportPager
from include.emulators.optimizely.lists import EMAIL, SEPARATOR, OptinProcess, RecipientList
from include.emulators.optimizely.seed import Seed, load_seed
from include.emulators.optimizely.timestamps import iso_utc, parse_time
from include.emulators.optimizely.unsubscribes import UnsubscribeEntry, UnsubscribeRegistry
from include.emulators.optimizely.wildcards import WildcardSet

FEEDBACK_KINDS = ("unsubscribe", "bounce", "open", "click")


class EmulatorState:
    def __init__(self, clock: Clock, seed_path: str | Path) -> None:
        self.clock = clock
        self.seed_path = Path(seed_path)
        self.seed: Seed = load_seed(self.seed_path)
        self.registry_lock = threading.RLock()
        self.reset()

    # ------------------------------------------------------------------ seed
    def reset(self) -> None:
        """Throw away everything and rebuild from the seed (relative seed times resolve to now)."""
        seed, now = self.seed, self.clock.now()
        with self.registry_lock:
            self.lists: dict[int, RecipientList] = {
                s.id: RecipientList(s.id, s.name, s.description, list(s.attributes)) for s in seed.lists
            }
            self.optin_processes: dict[int, OptinProcess] = {
                pid: OptinProcess(pid, name, kind) for pid, name, kind in seed.optin_processes
            }
            self.blocklist = Blocklist()
            for entry, reason in seed.blocklist:
                self.blocklist.add(entry, reason, now)
            self.recipient_filters = WildcardSet(list(seed.recipient_filters))
            self.unsubscribes = UnsubscribeRegistry()
            self.bounces = BounceRegistry(seed.thresholds)
            self.events = fb.EventLog()
            self.mailings: dict[int, fb.Mailing] = {}
            self._mailings_version = 0
            self.export_pager = ExportPager()
            self.retention_seconds = seed.retention_days * 86400.0

            for item in seed.bounce_counters:
                email = str(item["email"])
                counter = BounceCounter(
                    hard=int(item.get("hard", 0)),
                    soft=int(item.get("soft", 0)),
                    last_bounce_at=parse_time(item.get("last_bounce_at", now), now),
                )
                self.bounces.set_counter(str(item.get("recipient_id") or email), email, counter)
            for item in seed.mailings:
                self.add_mailing(
                    list_id=int(item["list_id"]),
                    name=str(item.get("name", "")),
                    dispatched_at=parse_time(item.get("dispatched_at", now), now),
                    recipient_count=int(item.get("recipient_count", 0)),
                    mailing_id=int(item["id"]) if "id" in item else None,
                    wave_id=str(item["wave_id"]) if item.get("wave_id") not in (None, "") else None,
                )
            for item in seed.events:
                self.record_feedback_document(item)
            for list_id, rows in seed.recipients.items():
                rlist = self.lists[list_id]
                for row in rows:
                    rid = str(row.get("id") or row["email"])
                    given = {
                        str(k): str(v).replace(SEPARATOR, " ")
                        for k, v in (row.get("attributes") or {}).items()
                    }
                    attributes = rlist.resolve_attributes(list(given))
                    rlist.recipients[rid] = (
                        str(row["email"]),
                        rlist.packer(attributes)(list(given.values())),
                        bool(row.get("pending", False)),
                        int(row.get("optin_process_id", 0)),
                        now,
                    )

    # ------------------------------------------------------------- lookups
    def optin_process(self, process_id: int) -> OptinProcess | None:
        return self.optin_processes.get(process_id)

    def find_email(self, recipient_id: str, list_id: int | None = None) -> str:
        """The address of a recipient id: from the given list, any list, or the id itself."""
        candidates = [self.lists[list_id]] if list_id in self.lists else list(self.lists.values())
        for rlist in candidates:
            recipient = rlist.recipients.get(recipient_id)
            if recipient is not None:
                return recipient[EMAIL]
        return recipient_id if "@" in recipient_id else ""

    def is_exportable(self, event: fb.FeedbackEvent, now: float) -> bool:
        """Retention: events older than the retention period, or belonging to a mailing dispatched
        longer ago than that, are no longer exported; nor is anything not yet exported."""
        return event.exported_at <= now and self.keep_until(event) >= now - self.retention_seconds

    def keep_until(self, event: fb.FeedbackEvent) -> float:
        """The time the retention cutoff must not pass for ``event`` to be exported: the event's own
        time, or its mailing's dispatch if that is earlier."""
        if event.mailing_id is not None:
            mailing = self.mailings.get(event.mailing_id)
            if mailing is not None:
                return min(event.occurred_at, mailing.dispatched_at)
        return event.occurred_at

    def generation(self) -> tuple[int, int]:
        """Changes whenever an event is logged or a mailing added (export rows may shift)."""
        return (self.events.version, self._mailings_version)

    # ------------------------------------------------------------- updates
    def add_mailing(
        self,
        list_id: int,
        name: str,
        dispatched_at: float,
        recipient_count: int = 0,
        mailing_id: int | None = None,
        wave_id: str | None = None,
    ) -> fb.Mailing:
        with self.registry_lock:
            if mailing_id is None:
                mailing_id = max(self.mailings, default=7000) + 1
            mailing = fb.Mailing(
                mailing_id, list_id, name or f"Mailing {mailing_id}", dispatched_at, recipient_count, wave_id
            )
            self.mailings[mailing_id] = mailing
            self._mailings_version += 1
            return mailing

    def unsubscribe(
        self,
        recipient_id: str,
        email: str,
        list_id: int | None,
        at: float,
        mailing_id: int | None = None,
        exported_at: float | None = None,
    ) -> fb.FeedbackEvent:
        """Put a recipient on the (one, client-wide) unsubscribe list and log the export event."""
        with self.registry_lock:
            self.unsubscribes.add(UnsubscribeEntry(recipient_id, email, list_id, mailing_id, at))
            return self.events.append(
                fb.UNSUBSCRIBE,
                recipient_id=recipient_id,
                email=email,
                list_id=list_id,
                mailing_id=mailing_id,
                occurred_at=at,
                exported_at=at if exported_at is None else exported_at,
            )

    def record_feedback(
        self,
        kind: str,
        recipient_id: str,
        email: str = "",
        list_id: int | None = None,
        mailing_id: int | None = None,
        category: str | None = None,
        occurred_at: float | None = None,
        exported_at: float | None = None,
        link_url: str | None = None,
    ) -> list[fb.FeedbackEvent]:
        """Record one piece of feedback as the platform would: a bounce also counts towards the
        address's bounce counter (and logs an out-bounce when it crosses the threshold), an
        unsubscribe also enters the unsubscribe list. Returns the export events created."""
        if kind not in FEEDBACK_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FEEDBACK_KINDS)}, not {kind!r}")
        now = self.clock.now()
        occurred = now if occurred_at is None else occurred_at
        exported = occurred if exported_at is None else exported_at
        recipient_id = recipient_id or email
        if not recipient_id:
            raise ValueError("recipient_id or email is required")
        email = email or self.find_email(recipient_id, list_id)
        common = {"recipient_id": recipient_id, "email": email, "list_id": list_id, "mailing_id": mailing_id}
        with self.registry_lock:
            self.bounces.remember(recipient_id, email)
            if kind == "unsubscribe":
                return [self.unsubscribe(recipient_id, email, list_id, occurred, mailing_id, exported)]
            if kind in ("open", "click"):
                extra = {"link_url": link_url or ""} if kind == "click" else {}
                return [
                    self.events.append(
                        fb.OPEN if kind == "open" else fb.CLICK,
                        occurred_at=occurred,
                        exported_at=exported,
                        **common,
                        **extra,
                    )
                ]
            category = category or HARD
            if category not in fb.RESPONSE_CATEGORIES:
                raise ValueError(f"category must be one of {', '.join(fb.RESPONSE_CATEGORIES)}")
            created = [
                self.events.append(
                    fb.RESPONSE, occurred_at=occurred, exported_at=exported, category=category, **common
                )
            ]
            if (
                category in (HARD, SOFT)
                and email
                and self.bounces.record(recipient_id, email, category, occurred)
            ):
                counter = self.bounces.counter_for_email(email)
                assert counter is not None
                created.append(
                    self.events.append(
                        fb.OUTBOUNCE,
                        occurred_at=occurred,
                        exported_at=exported,
                        hard_bounce_count=counter.hard,
                        soft_bounce_count=counter.soft,
                        **common,
                    )
                )
            return created

    def record_feedback_document(self, item: dict[str, Any]) -> list[fb.FeedbackEvent]:
        """``record_feedback`` from a seed/control document (times may be ISO or relative)."""
        now = self.clock.now()

        def optional_time(key: str) -> float | None:
            return parse_time(item[key], now) if item.get(key) not in (None, "") else None

        def optional_int(key: str) -> int | None:
            return int(item[key]) if item.get(key) not in (None, "") else None

        return self.record_feedback(
            kind=str(item.get("kind", "")),
            recipient_id=str(item.get("recipient_id") or ""),
            email=str(item.get("email") or ""),
            list_id=optional_int("list_id"),
            mailing_id=optional_int("mailing_id"),
            category=item.get("category"),
            occurred_at=optional_time("occurred_at"),
            exported_at=optional_time("exported_at"),
            link_url=item.get("link_url"),
        )

    # ------------------------------------------------------------- reports
    def summary(self) -> dict[str, Any]:
        with self.registry_lock:
            return {
                "now": iso_utc(self.clock.now()),
                "lists": [
                    {
                        "id": rlist.id,
                        "name": rlist.name,
                        "count": len(rlist.recipients),
                        "pending": len(rlist.recipients) - rlist.active_count(),
                        "attributes": rlist.attribute_names(),
                    }
                    for rlist in self.lists.values()
                ],
                "optin_processes": [
                    {"id": p.id, "name": p.name, "type": p.type} for p in self.optin_processes.values()
                ],
                "blocklist": [{"entry": e.entry, "reason": e.reason} for e in self.blocklist.entries()],
                "recipient_filters": self.recipient_filters.patterns(),
                "unsubscribes": [
                    {
                        "recipient_id": u.recipient_id,
                        "email": u.email,
                        "list_id": u.list_id,
                        "mailing_id": u.mailing_id,
                        "unsubscribed_at": iso_utc(u.unsubscribed_at),
                    }
                    for u in self.unsubscribes.entries()
                ],
                "bounce_counters": [
                    {
                        "email": email,
                        "hard": c.hard,
                        "soft": c.soft,
                        "over_threshold": self.bounces.is_over(c),
                        "last_bounce_at": iso_utc(c.last_bounce_at) if c.last_bounce_at else None,
                    }
                    for email, c in self.bounces.items()
                ],
                "mailings": [m.as_dict() for m in self.mailings.values()],
                "events": {kind: self.events.count(kind) for kind in fb.KINDS},
            }
