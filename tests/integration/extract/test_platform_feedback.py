"""Feedback per platform: a run's feedback import of one platform gates only that platform's lists."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from include.crm_sync.audit.runs import feedback_ok, feedback_platforms, mark_feedback_ok
from include.crm_sync.extract import ExtractionError, extract_snapshot
from tests.integration.extract.crm_state import CrmState, list_def


def _spotler_list():
    return list_def(
        name="spotler_list",
        platform="spotler",
        platform_list_id=None,
        optin_process_id=None,
        audience={"external_id": "crm-nl", "name": "CRM NL"},
        attributes={"firstName": "first_name"},
    )


def test_a_platforms_feedback_gates_only_its_own_lists(staging_engine: sa.Engine) -> None:
    CrmState().entity("C1", "a@example.com").write(staging_engine, feedback_ok=False)
    optimizely, spotler = list_def(), _spotler_list()
    mark_feedback_ok(staging_engine, "run-1", platform="optimizely")

    assert extract_snapshot(staging_engine, optimizely, run_id="run-1").snapshot_rows == 1
    with pytest.raises(ExtractionError, match="the spotler feedback import of run 'run-1' has not succeeded"):
        extract_snapshot(staging_engine, spotler, run_id="run-1")
    assert feedback_ok(staging_engine, "run-1", "optimizely") and not feedback_ok(
        staging_engine, "run-1", "spotler"
    )

    mark_feedback_ok(staging_engine, "run-1", platform="spotler")
    mark_feedback_ok(staging_engine, "run-1", platform="spotler")  # a retry marks again: no error
    assert extract_snapshot(staging_engine, spotler, run_id="run-1").snapshot_rows == 1
    assert feedback_platforms(staging_engine, "run-1") == ["optimizely", "spotler"]
    assert not feedback_ok(staging_engine, "run-1")  # the run-wide flag is untouched


def test_marking_an_unknown_run_fails(staging_engine: sa.Engine) -> None:
    with pytest.raises(LookupError, match="sync run 'nope' does not exist"):
        mark_feedback_ok(staging_engine, "nope", platform="spotler")
