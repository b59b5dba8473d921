"""Run expectation specs with great-expectations 1.x as SQL against the staging database.

GX is imported here, inside ``run_expectations``, never at module level: the import alone takes
seconds and DAG files must parse fast. The context is ephemeral (nothing written to disk), usage
statistics are off and progress bars are disabled (they would flood the task log). The snapshot is
a GX *query asset* over ``list_snapshot``, so each expectation becomes SQL the database answers;
the rows never enter pandas or Python.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from sqlalchemy import Engine

from include.crm_sync.masking import mask_email, mask_text
from include.crm_sync.validate.expectations import ExpectationSpec
from include.crm_sync.validate.report import CheckOutcome

#: how many unexpected values are kept per failed expectation (masked)
MAX_EXAMPLES = 5


class GXRunError(RuntimeError):
    """great-expectations could not evaluate an expectation (a database or GX error, not bad data)."""


def _add_datasource(context: Any, engine: Engine, name: str) -> Any:
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "postgresql":
        return context.data_sources.add_postgres(name, connection_string=url)
    if engine.dialect.name == "sqlite":
        return context.data_sources.add_sqlite(name, connection_string=url)
    raise NotImplementedError(f"staging database dialect {engine.dialect.name!r} is not supported")


def _example(value: Any, is_email: bool) -> str:
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_example(v, is_email) for v in value) + ")"
    if value is None:
        return "<null>"
    # Ids and opt-in ids are fine in a log; anything address-like is masked regardless.
    return mask_email(str(value)) if is_email else mask_text(str(value))


def run_expectations(engine: Engine, query: str, specs: list[ExpectationSpec]) -> list[CheckOutcome]:
    """Evaluate ``specs`` on the rows of ``query``; one outcome per spec, in order."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx  # noqa: PLC0415 - deliberately lazy, see module docstring
    from great_expectations.data_context.types.base import (  # noqa: PLC0415
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    # In-memory stores and no docs site: the default ephemeral config reserves a temp directory.
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    datasource = _add_datasource(context, engine, f"staging_{uuid.uuid4().hex[:8]}")
    try:
        asset = datasource.add_query_asset("snapshot", query=query)
        batch = asset.add_batch_definition_whole_table("snapshot").get_batch()
        suite = gx.ExpectationSuite(name="snapshot")
        for spec in specs:
            # meta carries our key: GX does not return results in the order they were added.
            suite.add_expectation(getattr(gx.expectations, spec.gx_class)(**spec.kwargs, meta={"key": spec.key}))
        result = batch.validate(
            suite, result_format={"result_format": "SUMMARY", "partial_unexpected_count": MAX_EXAMPLES}
        )
    finally:
        # GX made its own engine from the URL; close its pooled connections now, not at GC time.
        datasource.get_engine().dispose()

    by_key = {res.expectation_config.meta.get("key"): res for res in result.results}
    if missing := [spec.key for spec in specs if spec.key not in by_key]:
        raise GXRunError(f"great-expectations returned no result for {missing}")
    outcomes = []
    for spec in specs:
        res = by_key[spec.key]
        if res.exception_info and res.exception_info.get("raised_exception"):
            message = res.exception_info.get("exception_message") or "unknown error"
            raise GXRunError(f"great-expectations could not evaluate {spec.description!r}: {mask_text(message)}")
        details = res.result or {}
        examples = details.get("partial_unexpected_list") or []
        outcomes.append(
            CheckOutcome(
                key=spec.key,
                kind=spec.kind,
                description=spec.description,
                success=bool(res.success),
                unexpected_count=details.get("unexpected_count"),
                examples=[_example(v, spec.examples_are_emails) for v in examples[:MAX_EXAMPLES]],
                observed=details.get("observed_value"),
            )
        )
    return outcomes
