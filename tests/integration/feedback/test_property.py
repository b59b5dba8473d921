"""Property: whatever the sequence of feedback, imports, overlaps and re-imports, the CRM ends up with
exactly the effects the platform reported -- every hard-bounced / over-threshold entity bounced,
every unsubscribe's consent(s) revoked -- and nothing else changed.

Runs against the emulator over HTTP with the real client, on SQLite and PostgreSQL. Events are
exported at most ``MAX_LAG`` before the emulator's "now", and every overlap is at least that long:
the contract under which windows selecting by export time miss nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from include.crm_sync.feedback import apply_feedback_file, import_feedback
from tests.integration.feedback.conftest import (
    CRM_TIME,
    EMULATOR_EPOCH,
    LIST_CONSENTS,
    crm_state,
    expected_effects,
    freeze_emulator_clock,
    inject,
    platform_events,
    reset_feedback,
    seed_crm,
)

MAX_LAG = timedelta(minutes=30)
#: a contact and a lead share one address; G is in the platform but not in the CRM
ENTITIES = [(f"C{i}", f"p{i}@example.com") for i in range(6)] + [
    ("C-SH", "shared@example.com"),
    ("L-SH", "Shared@Example.com"),
]
RECIPIENTS = [*ENTITIES, ("G-1", "ghost@example.com")]

event = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["hardbounce", "softbounce", "unsubscribe"]),
        "who": st.integers(0, len(RECIPIENTS) - 1),
        "by_email": st.booleans(),
        "list_id": st.sampled_from([1001, 1002, 1003, 4711, None]),
        "lag_s": st.integers(0, int(MAX_LAG.total_seconds())),
        "age_s": st.integers(0, 3 * 86400),
    }
)
step = st.one_of(
    st.tuples(st.just("events"), st.lists(event, min_size=1, max_size=8)),
    st.tuples(st.just("advance"), st.integers(1, 6 * 3600)),
    st.tuples(st.just("import"), st.integers(int(MAX_LAG.total_seconds() / 60), 180)),
    st.tuples(st.just("reapply"), st.integers(0, 20)),
)


def to_emulator(spec: dict, now: datetime) -> dict:
    rid, email = RECIPIENTS[spec["who"]]
    exported = now - timedelta(seconds=spec["lag_s"])
    document = {
        "recipient_id": "" if spec["by_email"] else rid,
        "email": email,
        "list_id": spec["list_id"],
        "occurred_at": (exported - timedelta(seconds=spec["age_s"])).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "exported_at": exported.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if spec["kind"] == "unsubscribe":
        return {"kind": "unsubscribe", **document}
    return {"kind": "bounce", "category": spec["kind"], **document}


@pytest.mark.slow
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=1, max_size=10))
def test_crm_has_exactly_the_reported_effects(
    staging_engine, optimizely_emulator, make_platform, tmp_path_factory, steps
):
    emulator = optimizely_emulator
    engine = staging_engine
    if not crm_state(engine).entities:
        seed_crm(engine, ENTITIES)
    reset_feedback(engine)
    emulator.control.reset()
    freeze_emulator_clock(emulator)
    landing = tmp_path_factory.mktemp("landing")
    landed = []
    run_ids = count()

    def run_import(overlap_minutes: int) -> None:
        platform = make_platform()
        try:
            report = import_feedback(
                engine,
                platform,
                landing_dir=landing,
                run_id=f"run-{next(run_ids)}",
                list_consents=LIST_CONSENTS,
                overlap=timedelta(minutes=overlap_minutes),
                now=EMULATOR_EPOCH + timedelta(days=30),
            )
        finally:
            platform.close()
        assert all(f.counts.adds_up for f in report.files)
        landed.extend((f.path, f.kind) for f in report.files)

    for action, arg in steps:
        now = datetime.fromisoformat(emulator.control.clock()["now"].replace("Z", "+00:00"))
        if action == "events":
            inject(emulator, [to_emulator(spec, now) for spec in arg])
        elif action == "advance":
            emulator.control.advance_clock(arg)
        elif action == "import":
            run_import(arg)
        elif landed:  # re-apply an earlier landed file: never changes anything
            before = crm_state(engine)
            path, kind = landed[arg % len(landed)]
            assert apply_feedback_file(engine, path, kind, list_consents=LIST_CONSENTS).status in (
                "already_applied",
                "duplicate",
            )
            assert crm_state(engine) == before
    # one more import once everything exported so far is in the past, then check
    emulator.control.advance_clock(1)
    run_import(int(MAX_LAG.total_seconds() / 60))

    bounced, revoked = expected_effects(platform_events(emulator), ENTITIES)
    state = crm_state(engine)
    assert state.bounced == bounced
    assert state.revoked == revoked
    for entity, (is_bounced, bounced_at, category, updated_at) in state.entities.items():
        if not is_bounced:
            assert (bounced_at, category, updated_at) == (None, None, CRM_TIME), entity
        else:
            assert category in ("hardbounce", "overflow")
    for key, (status, revoked_at, source, updated_at) in state.consents.items():
        if status == "granted":
            assert (revoked_at, source, updated_at) == (None, "crm", CRM_TIME), key
        else:
            assert revoked_at is not None and source.startswith("feedback:")
