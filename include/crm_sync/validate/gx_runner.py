"""Run expectation specs with great-expectations 1.x as SQL against the staging database.

GX is imported here, inside ``run_expectations``, never at module level: the import alone takes
seconds and DAG files must parse fast. The context is ephemeral with in-memory stores and no docs
site (nothing is written to disk), usage statistics are off and progress bars are disabled (they
would flood the task log). The snapshot is a GX *query asset* over ``list_snapshot``, so every
expectation becomes SQL the database answers; the rows never enter pandas or Python.

Two things keep it fast on millions of rows (measured on 1M snapshot rows, PostgreSQL):

* GX learns a query asset's column names by executing the bare query. psycopg2's client-side
  cursor then transfers the *whole* result into Python (1M rows: 3.5 s and hundreds of MB; 10M
  would not fit). A listener on GX's engine appends ``LIMIT 0`` to exactly that statement: the
  column names are the same, the cost is nil.
* The first pass asks only pass/fail (``BOOLEAN_ONLY``): GX then bundles the counts into a few
  aggregate queries. Listing unexpected values costs a full scan per expectation even when there
  are none (SUMMARY took 35 s instead of 11 s), so only failed expectations -- and the cheap
  row-count ones, for their observed value -- are evaluated again with ``SUMMARY``.

GX logs about 220 INFO lines per task (mostly its docs decorators at import): its loggers are set
to WARNING before it is imported; this module logs one line per passed expectation (the caller
logs each failed one, with masked examples).
"""

from __future__ import annotations

import logging
import os
import uuid
from typing import Any

from sqlalchemy import Engine, event

from include.crm_sync.masking import mask_email, mask_text
from include.crm_sync.validate.expectations import ExpectationSpec
from include.crm_sync.validate.report import CheckOutcome

#: how many unexpected values are kept per failed expectation (masked)
MAX_EXAMPLES = 5
#: GX's root logger: INFO from it is chatter about GX itself, not about the data
GX_LOGGER = "great_expectations"

log = logging.getLogger(__name__)


class GXRunError(RuntimeError):
    """great-expectations could not evaluate an expectation (a database or GX error, not bad data)."""


def _add_datasource(context: Any, engine: Engine, name: str) -> Any:
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "postgresql":
        return context.data_sources.add_postgres(name, connection_string=url)
    if engine.dialect.name == "sqlite":
        return context.data_sources.add_sqlite(name, connection_string=url)
    raise NotImplementedError(f"staging database dialect {engine.dialect.name!r} is not supported")


def _limit_column_reflection(gx_engine: Engine, query: str) -> None:
    """Make GX's column-name probe (the bare asset query) return no rows (see module docstring)."""
    bare = query.strip()

    @event.listens_for(gx_engine, "before_cursor_execute", retval=True)
    def _limit(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> Any:
        if statement.strip() == bare:
            statement = f"{bare}\nLIMIT 0"
        return statement, params


def _example(value: Any, is_email: bool) -> str:
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_example(v, is_email) for v in value) + ")"
    if value is None:
        return "<null>"
    # Ids and opt-in ids are fine in a log; anything address-like is masked regardless.
    return mask_email(str(value)) if is_email else mask_text(str(value))


def _raised(info: Any) -> str | None:
    """The error of a result that could not be computed, else None.

    GX reports it either flat (``{"raised_exception": True, ...}``) or per metric
    (``{metric_id: {"raised_exception": True, ...}}``); a failed metric leaves the result empty,
    which must not pass for "no unexpected rows".
    """
    if not isinstance(info, dict):
        return None
    entries = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    for entry in entries:
        if str(entry.get("raised_exception")).lower() == "true":
            message = entry.get("exception_message") or ""
            trace = (entry.get("exception_traceback") or "").strip().splitlines()
            return message or (trace[-1] if trace else "unknown error")
    return None


def _validate(gx: Any, batch: Any, specs: list[ExpectationSpec], result_format: Any) -> dict[str, Any]:
    """key -> GX result of ``specs`` on ``batch``; raises GXRunError for results GX could not compute."""
    suite = gx.ExpectationSuite(name=f"snapshot_{uuid.uuid4().hex[:8]}")
    for spec in specs:
        # meta carries our key: GX does not return results in the order they were added.
        suite.add_expectation(getattr(gx.expectations, spec.gx_class)(**spec.kwargs, meta={"key": spec.key}))
    results = {
        res.expectation_config.meta.get("key"): res
        for res in batch.validate(suite, result_format=result_format).results
    }
    by_spec = {spec.key: spec for spec in specs}
    for key, spec in by_spec.items():
        if key not in results:
            raise GXRunError(f"great-expectations returned no result for {spec.description!r}")
        if (error := _raised(results[key].exception_info)) is not None:
            raise GXRunError(
                f"great-expectations could not evaluate {spec.description!r}: {mask_text(error)}"
            )
    return results


def _outcome(spec: ExpectationSpec, res: Any) -> CheckOutcome:
    details = res.result or {}
    examples = details.get("partial_unexpected_list") or []
    unexpected = details.get("unexpected_count")
    if unexpected is None and res.success and not spec.gx_class.startswith("ExpectTable"):
        unexpected = 0  # passed a per-row expectation (mostly = 1.0): no row broke it
    return CheckOutcome(
        key=spec.key,
        kind=spec.kind,
        description=spec.description,
        success=bool(res.success),
        unexpected_count=unexpected,
        examples=[_example(v, spec.examples_are_emails) for v in examples[:MAX_EXAMPLES]],
        observed=details.get("observed_value"),
    )


def run_expectations(engine: Engine, query: str, specs: list[ExpectationSpec]) -> list[CheckOutcome]:
    """Evaluate ``specs`` on the rows of ``query``; one outcome per spec, in order."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    # before the import: most of the chatter is logged while GX imports (its children inherit this level)
    logging.getLogger(GX_LOGGER).setLevel(logging.WARNING)
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    datasource = _add_datasource(context, engine, f"staging_{uuid.uuid4().hex[:8]}")
    # GX runs its queries on the execution engine's own SQLAlchemy engine (not get_engine()'s).
    gx_engine = datasource.get_execution_engine().engine
    try:
        _limit_column_reflection(gx_engine, query)
        batch = (
            datasource.add_query_asset("snapshot", query=query)
            .add_batch_definition_whole_table("snapshot")
            .get_batch()
        )
        verdicts = _validate(gx, batch, specs, "BOOLEAN_ONLY")
        again = [s for s in specs if not verdicts[s.key].success or s.gx_class.startswith("ExpectTable")]
        details = (
            _validate(
                gx, batch, again, {"result_format": "SUMMARY", "partial_unexpected_count": MAX_EXAMPLES}
            )
            if again
            else {}
        )
    finally:
        gx_engine.dispose()  # close GX's pooled connections now, not at garbage collection
    outcomes = [_outcome(spec, details.get(spec.key, verdicts[spec.key])) for spec in specs]
    for outcome in outcomes:
        if outcome.success:  # a failure is logged by the caller as an error, with its masked examples
            _log_passed(outcome)
    return outcomes


def _log_passed(outcome: CheckOutcome) -> None:
    """One line per passed expectation: what it asks and what was found."""
    found = ""
    if outcome.observed is not None:
        found = f" (observed: {outcome.observed})"
    elif outcome.unexpected_count is not None:
        found = f" ({outcome.unexpected_count:,} rows break it)"
    log.info("expectation %s: passed%s", outcome.description, found)
