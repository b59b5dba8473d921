"""RpcClosedLoop: paged exports of feedback, selected by export-file time.

Window: ``since <= exported_at < until`` (epoch ms, half-open, so ``until`` of one call can be
``since`` of the next), and only what is already exported (exported_at <= now) and still within
the retention (event and its mailing's dispatch younger than 30 days). Rows are ordered by
export time, then by arrival sequence; ``startRow`` (0-based) and ``numberOfRows`` (<= 1000) page
through them. Column orders: exports.py.
"""

from __future__ import annotations

from include.emulators.optimizely import errors
from include.emulators.optimizely.exports import EXPORTS, ExportSpec
from include.emulators.optimizely.feedback import FeedbackEvent
from include.emulators.optimizely.services.base import CallContext, Webservice
from include.emulators.optimizely.timestamps import to_millis

SERVICE = Webservice(
    "ClosedLoop",
    doc="Exports of unsubscribes, bounces and responses. Windows select by export-file time "
    "(since <= t < until, epoch ms); at most 1000 rows per call, page with startRow.",
)

_PAGE_PARAMS = [("since", "long"), ("until", "long"), ("startRow", "int"), ("numberOfRows", "int")]


@SERVICE.operation(
    "getCurrentTime",
    [],
    returns="long",
    doc="The server's clock in epoch milliseconds: use it as 'until' and as the next watermark.",
)
def get_current_time(ctx: CallContext) -> int:
    return to_millis(ctx.now)


def _export(ctx: CallContext, spec: ExportSpec, since: int, until: int, start_row: int, rows: int) -> list:
    limit = ctx.config.max_export_rows
    if rows > limit:
        raise errors.illegal_argument(f"Too many rows requested: {rows} > {limit}")
    if rows < 0 or start_row < 0:
        raise errors.illegal_argument("startRow and numberOfRows must not be negative")
    state, now = ctx.state, ctx.now
    with state.registry_lock:
        # continues where the previous page ended when nothing before it changed: O(page), not O(startRow)
        page = state.export_pager.page(
            state,
            spec.kind,
            (since, until),
            start_row,
            rows,
            export=spec.method,
            now=now,
            include=_has_mailing if spec.mailing_only else _any,
        )
        return [spec.row(e) for e in page]


def _has_mailing(event: FeedbackEvent) -> bool:
    return event.mailing_id is not None


def _any(event: FeedbackEvent) -> bool:
    return True


def _register(spec: ExportSpec) -> None:
    doc = (
        f"{spec.description} Columns (by position): {', '.join(spec.columns)}. "
        "Times are ISO-8601 UTC strings like 2026-11-25T23:12:01Z."
    )

    @SERVICE.operation(spec.method, _PAGE_PARAMS, returns="string[][]", doc=doc)
    def export(ctx: CallContext, since: int, until: int, start_row: int, rows: int) -> list:
        return _export(ctx, spec, since, until, start_row, rows)


for _spec in EXPORTS:
    _register(_spec)
