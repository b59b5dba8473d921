"""Spotler's bounces and opt-outs back into the CRM through the feedback import (idempotent, before
the sync), and the audience lifecycle: a list gone from the config deletes its audience, unless it is
in use -- then the user is told what to remove, nothing is retried and the other lists go on."""

from __future__ import annotations

import sqlalchemy as sa

from include.crm_sync.feedback import import_feedback
from include.crm_sync.platforms.spotler.errors import IN_USE_ACTION
from include.crm_sync.platforms.spotler.platform import SpotlerPlatform
from include.crm_sync.staging import tables as t
from include.crm_sync.sync.membership_targets import delete_removed_lists
from tests.integration.spotler.scenario import (
    AUDIENCE,
    TARGET,
    audience,
    build_crm,
    calls,
    consent_status,
    contact_id,
    make_platform,
    prepare,
    snapshot_ids,
    sync,
)


def _entity(engine, entity_id):
    with engine.connect() as conn:
        return (
            conn.execute(sa.select(t.crm_entity).where(t.crm_entity.c.entity_id == entity_id))
            .mappings()
            .one()
        )


def test_opt_outs_and_hard_bounces_made_in_spotler_reach_the_crm_once_and_leave_the_audience(
    staging_engine, spotler, tmp_path
):
    build_crm(staging_engine, 5)
    with staging_engine.begin() as conn:  # a service consent survives an opt-out; newsletter does not
        conn.execute(
            sa.insert(t.crm_consent).values(
                entity_id=contact_id(1),
                consent_id="service",
                status="granted",
                source="crm",
                updated_at=sa.func.now(),
            )
        )
    sync(staging_engine, make_platform(spotler), prepare(staging_engine), tmp_path)
    spotler.control.opt_out(contact_id(1))
    spotler.control.add_bounce(contact_id(2), "HARDBOUNCE")
    spotler.control.add_bounce(contact_id(3), "SOFTBOUNCE")

    platform = make_platform(spotler)
    for attempt in range(2):
        report = import_feedback(
            staging_engine,
            platform,
            landing_dir=tmp_path / f"landing{attempt}",
            run_id="run-2",
            list_consents={AUDIENCE: "newsletter"},
        )
        assert all(f.status in ("applied", "already_applied", "duplicate") for f in report.files)
    assert consent_status(staging_engine, contact_id(1)) == "revoked"
    assert consent_status(staging_engine, contact_id(1), "service") == "granted"
    assert _entity(staging_engine, contact_id(2))["is_bounced"]
    assert not _entity(staging_engine, contact_id(3))["is_bounced"]

    list_run_id = prepare(staging_engine, "run-2", new_run=True)
    sync(staging_engine, make_platform(spotler), list_run_id, tmp_path, run_id="run-2")
    assert (
        audience(spotler)
        == snapshot_ids(staging_engine, list_run_id)
        == {contact_id(0), contact_id(3), contact_id(4)}
    )


def test_a_list_removed_from_the_config_deletes_its_audience(staging_engine, spotler, tmp_path):
    build_crm(staging_engine, 2)
    sync(staging_engine, make_platform(spotler), prepare(staging_engine), tmp_path)
    cleanup = delete_removed_lists(staging_engine, make_platform(spotler), configured=[])
    assert cleanup.deleted == [AUDIENCE] and not cleanup.in_use
    assert all(a["externalId"] != AUDIENCE for a in spotler.control.state()["audiences"])
    with staging_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.platform_list_sync)).scalar_one() == 0
    # a list still configured is kept; one marked delete: true goes even if never synced
    assert delete_removed_lists(staging_engine, make_platform(spotler), configured=[AUDIENCE]).deleted == []


def test_an_audience_in_use_is_reported_not_retried_and_does_not_stop_the_others(
    staging_engine, spotler, tmp_path
):
    build_crm(staging_engine, 2)
    sync(staging_engine, make_platform(spotler), prepare(staging_engine), tmp_path)
    platform = make_platform(spotler)
    platform.ensure_target(type(TARGET)("other-aud", "Other", ""))
    spotler.control.set_in_use(AUDIENCE, True, "scheduled mailing")
    before = calls(spotler).get("audience.delete", 0)

    cleanup = delete_removed_lists(staging_engine, platform, configured=[], marked_delete=["other-aud"])
    assert cleanup.in_use == {AUDIENCE: IN_USE_ACTION}
    assert cleanup.deleted == ["other-aud"]
    assert calls(spotler)["audience.delete"] - before == 2  # one each: the in-use one was not retried
    assert {a["externalId"] for a in spotler.control.state()["audiences"]} == {AUDIENCE}
    assert audience(spotler) == {contact_id(0), contact_id(1)}
    # once the mailing is gone, the next run deletes it
    spotler.control.set_in_use(AUDIENCE, False)
    assert delete_removed_lists(staging_engine, platform, configured=[]).deleted == [AUDIENCE]


def test_the_feeds_are_read_to_their_last_page(staging_engine, spotler, tmp_path):
    build_crm(staging_engine, 7)
    sync(staging_engine, make_platform(spotler), prepare(staging_engine), tmp_path)
    for i in (0, 3, 6):
        spotler.control.opt_out(contact_id(i))
        if i + 1 < 7:
            spotler.control.add_bounce(contact_id(i + 1), "HARDBOUNCE")
    client = make_platform(spotler).client
    platform = SpotlerPlatform(client, feed_page_size=2)
    import_feedback(
        staging_engine,
        platform,
        landing_dir=tmp_path / "landing",
        run_id="run-2",
        list_consents={AUDIENCE: "newsletter"},
    )
    assert [consent_status(staging_engine, contact_id(i)) for i in range(7)] == [
        "revoked",
        "granted",
        "granted",
        "revoked",
        "granted",
        "granted",
        "revoked",
    ]
    assert [_entity(staging_engine, contact_id(i))["is_bounced"] for i in range(7)] == [
        False,
        True,
        False,
        False,
        True,
        False,
        False,
    ]
    assert calls(spotler)["contact.updates"] >= 4  # 7 changed contacts, 2 per page
