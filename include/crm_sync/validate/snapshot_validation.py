"""Validate one list run's snapshot and decide whether it may replace the platform list.

Outcome, stored on the ``list_run`` row and logged in plain words:

* ``invalid``   a data-quality expectation failed (duplicates, bad syntax, wrong opt-in id, ...).
                ``force`` does not override this: such a snapshot would be wrong on the platform.
* ``guarded``   the data is sound but a guard tripped (fewer than ``min_rows``, or a drop larger
                than ``max_drop_ratio`` vs recent synced runs). ``force=True`` lets it through;
                that is logged as a warning and recorded in ``list_run.guard``.
* ``validated`` the refill may proceed.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import Engine, select, update

from include.crm_sync.config.models import ListDefinition
from include.crm_sync.config.paths import SQL_ROOT
from include.crm_sync.extract.sql_text import render_query
from include.crm_sync.staging.tables import list_run
from include.crm_sync.validate.expectations import snapshot_expectations
from include.crm_sync.validate.gx_runner import run_expectations
from include.crm_sync.validate.report import GUARD, QUALITY, CheckOutcome, ValidationReport
from include.crm_sync.validate.sql_checks import check_in_one_pass
from include.crm_sync.validate.volume_guard import check_volume_drop

log = logging.getLogger(__name__)

#: statuses from which a snapshot may be (re)validated; later ones belong to the refill
VALIDATABLE = ("extracted", "validated", "invalid", "guarded")


class ValidationNotAllowed(RuntimeError):
    """The list run is not in a state that can be validated."""


def _attr_expression(dialect: str, index: int) -> str:
    if dialect == "postgresql":
        return f"(s.attr_values ->> {index:d})"
    if dialect == "sqlite":
        return f"json_extract(s.attr_values, '$[{index:d}]')"
    raise NotImplementedError(f"staging database dialect {dialect!r} is not supported")


#: see sql/queries/validate_snapshot.sql; SQLite's LIMIT must precede OFFSET, and GX appends one
_FENCE = {"postgresql": "\nOFFSET 0"}


#: expectations about a technical field of the snapshot, asked only when the list carries it
_TECHNICAL_CHECKS = {
    "entity-id": ("entity_id_present", "entity_id_matches"),
    "opt-in-id": ("optin_present", "optin_configured"),
}


def snapshot_query(dialect: str, list_run_id: int, attribute_names: list[str]) -> str:
    """The SQL GX validates: the snapshot rows with entity-id and opt-in-id pulled out."""
    return render_query(
        "validate_snapshot",
        SQL_ROOT,
        list_run_id=str(int(list_run_id)),
        # a list without the technical fields (Spotler, Flexmail) is identified by recipient_id alone:
        # the columns stay (the query's shape is one), their expectations are not asked
        entity_id_attr=_attr_expression(dialect, attribute_names.index("entity-id"))
        if "entity-id" in attribute_names
        else "s.recipient_id",
        optin_attr=_attr_expression(dialect, attribute_names.index("opt-in-id"))
        if "opt-in-id" in attribute_names
        else "''",
        fence=_FENCE.get(dialect, ""),
    )


def validate_snapshot(
    engine: Engine, list_def: ListDefinition, list_run_id: int, *, force: bool = False
) -> ValidationReport:
    """Run the expectations and guards on ``list_run_id``'s snapshot; record and return the outcome."""
    started = time.monotonic()
    with engine.connect() as conn:
        row = conn.execute(select(list_run).where(list_run.c.list_run_id == list_run_id)).mappings().first()
    if row is None:
        raise ValidationNotAllowed(f"list run {list_run_id} does not exist")
    if row["list_name"] != list_def.name:
        raise ValidationNotAllowed(
            f"list run {list_run_id} belongs to list {row['list_name']!r}, not {list_def.name!r}"
        )
    if row["status"] not in VALIDATABLE or row["snapshot_rows"] is None:
        raise ValidationNotAllowed(
            f"list {list_def.name}: list run {list_run_id} is {row['status']!r}; only an extracted snapshot "
            f"({', '.join(VALIDATABLE)}) can be validated"
        )
    attribute_names = list(row["attribute_names"])
    specs = snapshot_expectations(
        # The configured id, not the one recorded at extraction: a snapshot taken under another
        # opt-in process than the list now declares must not be uploaded.
        optin_process_id=list_def.optin_process_id,
        attribute_count=len(attribute_names),
        snapshot_rows=row["snapshot_rows"],
        min_rows=list_def.guards.min_rows,
    )
    # Optimizely's technical fields are checked where the list carries them (not on Spotler/Flexmail)
    absent = {
        key for field, keys in _TECHNICAL_CHECKS.items() if field not in attribute_names for key in keys
    }
    specs = [spec for spec in specs if spec.key not in absent]
    query = snapshot_query(engine.dialect.name, list_run_id, attribute_names)
    # One SQL pass decides a passing snapshot (the usual night); great-expectations -- seconds of
    # import and a dozen queries -- runs only when something fails, to decide and detail it.
    checks = check_in_one_pass(engine, query, specs)
    gx_seconds = 0.0
    if checks is None:
        gx_started = time.monotonic()
        checks = run_expectations(engine, query, specs)
        gx_seconds = time.monotonic() - gx_started

    with engine.begin() as conn:
        checks.append(
            check_volume_drop(
                conn,
                platform=list_def.platform,
                platform_list_id=list_def.platform_list_id,
                list_run_id=list_run_id,
                rows=row["snapshot_rows"],
                max_drop_ratio=list_def.guards.max_drop_ratio,
                baseline_runs=list_def.guards.baseline_runs,
            )
        )
        report = ValidationReport(
            list_run_id=list_run_id,
            list_name=list_def.name,
            status=_status(checks, force),
            checks=checks,
            force=force,
            seconds=time.monotonic() - started,
            gx_seconds=gx_seconds,
        )
        conn.execute(
            update(list_run)
            .where(list_run.c.list_run_id == list_run_id)
            .values(status=report.status, validation=report.validation_json(), guard=report.guard_json())
        )
    _log(report)
    return report


def _status(checks: list[CheckOutcome], force: bool) -> str:
    if any(c.kind == QUALITY and not c.success for c in checks):
        return "invalid"
    if any(c.kind == GUARD and not c.success for c in checks) and not force:
        return "guarded"
    return "validated"


def _log(report: ValidationReport) -> None:
    name = f"list {report.list_name} (list run {report.list_run_id})"
    for check in report.failed_expectations:
        log.error("%s: expectation failed: %s", name, check.failure_text())
    for check in report.tripped_guards:
        if report.forced:
            log.warning("%s: guard tripped but FORCED past it: %s", name, check.failure_text())
        else:
            log.error("%s: guard tripped: %s", name, check.failure_text())
    if report.status == "validated":
        log.info(
            "%s: snapshot validated (%d checks passed%s) in %.1fs, of which great-expectations %.1fs",
            name,
            sum(c.success for c in report.checks),
            ", forced past a guard" if report.forced else "",
            report.seconds,
            report.gx_seconds,
        )
    elif report.status == "invalid":
        log.error("%s: snapshot INVALID; the platform list is left as it is", name)
    else:
        log.error(
            "%s: snapshot GUARDED; the platform list is left as it is (trigger with force to override)", name
        )
