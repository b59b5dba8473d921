"""crm_campaign_sync on a real CeleryExecutor deployment, triggered over the REST API.

The run goes scheduler -> Redis -> Celery worker (two slots) -> task processes that reach the
api-server's execution API, the CRM on PostgreSQL and the emulators over HTTP. At the end every
Optimizely list holds exactly what the audit says was accepted, every Spotler audience holds
exactly the snapshot's people minus those Spotler refused, every Flexmail label is carried by the
snapshot's addresses (and by no one else but the emulator seed's own carrier), every Mailjet list
holds exactly the snapshot's addresses, and the per-list
tasks ran side by side in the worker's two slots. "Side by side" is proven by a barrier, not by
comparing start and end times: the first refill to clear its platform list waits inside the
emulator until a second list's refill clears its own (tests/e2e/list_barrier.py), which only a
second slot can run.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from include.crm_sync.staging import tables as t
from scripts.local_stack import FINISHED_RUN_STATES, LocalAirflowStack
from tests.e2e.conftest import DAG_ID, LIST_IDS, OPTIMIZELY_REQUEST_TIMEOUT, platform_lists
from tests.e2e.list_barrier import ListBarrier

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def celery_workloads_received(worker_log: Path) -> set[str]:
    """Ids of the task instances whose workload the Celery worker took off the broker and ran
    (logged by the worker's execute_workload task before it starts the task process)."""
    pattern = re.compile(r"Executing workload in Celery: .*?ti=TaskInstanceDTO\(id=UUID\('([0-9a-f-]+)'\)")
    return {m.group(1) for m in map(pattern.search, worker_log.read_text(errors="replace").splitlines()) if m}


#: how long the first refill waits in Recipient.clear for a second list's refill (generous: the
#: other slot has to run that list's extract, validate and the start of its refill meanwhile)
BARRIER_TIMEOUT = 420
#: how long until the first refill reaches the barrier (start_run, import_feedback, extract, validate)
FIRST_ARRIVAL_TIMEOUT = 900
assert OPTIMIZELY_REQUEST_TIMEOUT > BARRIER_TIMEOUT, "a waiting clear must not time out and be retried"


def wait_for_barrier(stack: LocalAirflowStack, run_id: str, barrier: ListBarrier) -> None:
    """Until the barrier is met or broken; stop early if the run ends first or never gets there."""
    deadline = time.monotonic() + FIRST_ARRIVAL_TIMEOUT + BARRIER_TIMEOUT
    while not barrier.wait_settled(timeout=3):
        if stack.run_state(DAG_ID, run_id) in FINISHED_RUN_STATES or time.monotonic() > deadline:
            return


def snapshot_emails(staging_url: str, list_run_id: int) -> set[str]:
    engine = sa.create_engine(staging_url)
    try:
        with engine.connect() as conn:
            return set(
                conn.execute(
                    sa.select(t.list_snapshot.c.email).where(t.list_snapshot.c.list_run_id == list_run_id)
                ).scalars()
            )
    finally:
        engine.dispose()


def snapshot_and_rejected_ids(staging_url: str, list_run_id: int) -> tuple[set[str], set[str]]:
    """The recipient ids of a list run's snapshot, and of those the platform refused."""
    engine = sa.create_engine(staging_url)
    try:
        with engine.connect() as conn:
            return tuple(  # type: ignore[return-value]
                {
                    str(v)
                    for v in conn.execute(
                        sa.select(table.c.recipient_id).where(table.c.list_run_id == list_run_id)
                    ).scalars()
                }
                for table in (t.list_snapshot, t.list_rejected)
            )
    finally:
        engine.dispose()


def audit(staging_url: str, run_id: str) -> tuple[str, dict, dict[int, int], dict[int, int]]:
    """(sync_run status, list name -> list_run row, snapshot rows and rejected rows by list_run_id)."""
    engine = sa.create_engine(staging_url)
    try:
        with engine.connect() as conn:
            status = conn.execute(
                sa.select(t.sync_run.c.status).where(t.sync_run.c.run_id == run_id)
            ).scalar_one()
            runs = {
                r.list_name: r
                for r in conn.execute(sa.select(t.list_run).where(t.list_run.c.run_id == run_id))
            }
            counts = [
                dict(
                    conn.execute(
                        sa.select(table.c.list_run_id, sa.func.count())
                        .where(table.c.list_run_id.in_([r.list_run_id for r in runs.values()]))
                        .group_by(table.c.list_run_id)
                    ).all()
                )
                for table in (t.list_snapshot, t.list_rejected)
            ]
    finally:
        engine.dispose()
    return status, runs, counts[0], counts[1]


@pytest.mark.timeout(2400)
def test_all_lists_sync_through_celery_workers_running_lists_side_by_side(
    airflow_stack, e2e_staging_url, e2e_emulator, e2e_spotler, e2e_flexmail, e2e_mailjet
):
    stack = airflow_stack
    audiences, labels = platform_lists("spotler"), platform_lists("flexmail")
    mailjet_lists = platform_lists("mailjet")
    all_lists = set(LIST_IDS) | set(audiences) | set(labels) | set(mailjet_lists)
    barrier = ListBarrier("Recipient.clear", parties=2, timeout=BARRIER_TIMEOUT)
    barrier.install(e2e_emulator.emulator)
    try:
        run_id = stack.trigger(DAG_ID, conf={})  # the defaults: every list, no dry run
        wait_for_barrier(stack, run_id, barrier)
        state = stack.wait_for_run(DAG_ID, run_id, timeout=900)
    finally:
        barrier.remove()

    # -- both worker slots were used: while one list's refill waited in its clear, another list's
    # refill reached its own clear (with one slot the first waits alone until the barrier breaks)
    assert barrier.met, (
        f"the list tasks did not run side by side: the first refill waited {BARRIER_TIMEOUT}s in "
        f"Recipient.clear and no other list's refill reached its clear meanwhile (clears in order, by "
        f"platform list: {barrier.arrivals})"
    )
    assert state == "success", stack.log_tails()
    assert barrier.lists == set(LIST_IDS.values())  # every list was cleared (and refilled) once at least

    # -- every task ran, and ran through the Celery worker
    tis = stack.task_instances(DAG_ID, run_id)
    assert {ti["state"] for ti in tis} == {"success"}
    # the per-list tasks (import_feedback is mapped too, over the platforms)
    mapped = [ti for ti in tis if ti["map_index"] >= 0 and ti["task_id"].startswith("sync_list.")]
    assert sorted({ti["rendered_map_index"] for ti in mapped}) == sorted(all_lists)
    assert len(mapped) == 3 * len(all_lists)  # extract, validate, refill or sync per list
    assert {ti["queue"] for ti in tis} == {"default"}  # the Celery queue the worker consumes
    # every task instance's workload went through the broker to the Celery worker
    received = celery_workloads_received(stack.log_dir / "celery-worker.log")
    assert {ti["id"] for ti in tis} <= received, "task instances the Celery worker never received"
    assert all(ti["hostname"] for ti in tis)

    # -- the platform holds exactly what the audit accepted: the snapshot minus its rejections
    status, runs, snapshot, rejected = audit(e2e_staging_url, run_id)
    assert status == "success"
    assert set(runs) == all_lists
    for name, list_id in LIST_IDS.items():
        run = runs[name]
        on_platform = e2e_emulator.control.recipients(list_id, limit=0)["count"]
        assert run.status == "synced", (name, run.error)
        assert on_platform > 0, name
        assert on_platform == run.accepted == run.platform_count, name
        assert on_platform == snapshot[run.list_run_id] - rejected.get(run.list_run_id, 0), name

    # -- each Spotler audience holds exactly the snapshot's people minus those Spotler refused
    for name, external_id in audiences.items():
        run = runs[name]
        assert run.status == "synced", (name, run.error)
        wanted, refused = snapshot_and_rejected_ids(e2e_staging_url, run.list_run_id)
        members = set(e2e_spotler.control.members(external_id))
        assert members, name
        assert members == wanted - refused, name

    # -- each Flexmail label is carried by the snapshot's addresses; the only other carrier is the
    #    emulator seed's own contact (not put there by us, so not ours to remove)
    account = e2e_flexmail.control.state(contacts=False)
    label_ids = {label["name"]: label["id"] for label in account["interest_labels"]}
    for name, label in labels.items():
        run = runs[name]
        assert run.status == "synced", (name, run.error)
        wanted = snapshot_emails(e2e_staging_url, run.list_run_id)
        carriers = set(e2e_flexmail.control.label_members(label_ids[label]))
        assert wanted and wanted <= carriers, name
        assert carriers - wanted <= {"an.peeters@example.com"}, name

    # -- each Mailjet list holds exactly the snapshot's addresses (it started empty)
    for name, list_name in mailjet_lists.items():
        run = runs[name]
        assert run.status == "synced", (name, run.error)
        wanted = snapshot_emails(e2e_staging_url, run.list_run_id)
        assert wanted and set(e2e_mailjet.control.members(list_name)) == wanted, name
