"""HTML of the sync report pages: one run's audit, and the index of recent runs with a size chart.

Pure functions from the audit's dataclasses to self-contained HTML strings: inline CSS and an
inline SVG chart, no JavaScript, nothing fetched from the network (the pages are shown in a
sandboxed iframe of the Airflow UI and must work on an air-gapped server). Every value goes
through ``html.escape``. The inputs hold counts and names only; free text (errors, validation
failures) is still scrubbed of anything address-like, so no e-mail address can reach a page.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from datetime import datetime

from include.crm_sync.audit.history import ListSize, RunRow
from include.crm_sync.audit.summary import RESULT_CODES, ListSummary, PlatformListDeletion, RunSummary
from include.crm_sync.extract.reasons import ExclusionReason
from include.crm_sync.platforms.base import AddOutcome

#: chart metrics: ListSize attribute -> label
METRICS: dict[str, str] = {
    "snapshot_rows": "snapshot rows",
    "accepted": "accepted by the platform",
    "platform_count": "count on the platform",
}
DEFAULT_METRIC = "snapshot_rows"

#: addAll3 result codes in words, for column headers
CODE_WORDS: dict[str, str] = {
    str(int(AddOutcome.ADDED)): "added",
    str(int(AddOutcome.INVALID)): "invalid",
    str(int(AddOutcome.UNSUBSCRIBED)): "unsubscribed",
    str(int(AddOutcome.BLOCKLISTED)): "blocklisted",
    str(int(AddOutcome.BOUNCE_OVERFLOW)): "bounce overflow",
    str(int(AddOutcome.ALREADY_IN_LIST)): "already in list",
    str(int(AddOutcome.FILTERED)): "filtered",
    str(int(AddOutcome.ERROR)): "other error",
}

#: list_run statuses in plain words (the raw status is shown next to them)
STATUS_WORDS: dict[str, str] = {
    "extracting": "extraction in progress",
    "extracted": "extracted, not yet validated",
    "validated": "validated, not yet uploaded",
    "invalid": "validation failed; platform list left as it was",
    "guarded": "stopped by a volume guard; platform list left as it was",
    "refilling": "upload in progress (or interrupted)",
    "synced": "platform list refilled",
    "failed": "failed",
    "dry_run": "dry run: validated, nothing uploaded",
    "superseded": "not uploaded: a newer run's validated snapshot of this platform list replaces it",
    "running": "running",
    "success": "finished",
}

# Eight colours that stay apart on light and dark backgrounds; cycled beyond eight lists.
_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")

# Anything containing an @ is treated as an address and hidden: the pages promise none.
_ADDRESS_LIKE = re.compile(r"\S*@\S*")

_CSS = """
:root { color-scheme: light dark; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 14px;
       margin: 16px; line-height: 1.4; }
h1 { font-size: 20px; margin: 0 0 12px; } h2 { font-size: 16px; margin: 24px 0 8px; }
table { border-collapse: collapse; margin: 4px 0 12px; }
th, td { border: 1px solid #8884; padding: 3px 8px; text-align: left; vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #8881; font-weight: 600; }
.ok { color: #1a7f37; } .bad { color: #cf222e; font-weight: 600; } .muted { opacity: .7; }
.status { font-weight: 600; }
.swatch { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 12px; }
section.list { border-top: 1px solid #8886; }
svg text { font-size: 11px; fill: currentColor; }
nav a { margin-right: 12px; }
"""


# --------------------------------------------------------------------------- small helpers


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def scrub(text: str) -> str:
    """Free text with anything address-like replaced (belt and braces: the audit keeps counts)."""
    return _ADDRESS_LIKE.sub("[address hidden]", text)


def _num(value: int | float | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    return f"{value:,}"


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _feedback(ok: bool, dry_run: bool, *, detail: bool = False) -> str:
    """The run's feedback import: a dry run skips it on purpose (neutral), a real run needs it (red)."""
    if ok:
        return "yes"
    if dry_run:
        return (
            'skipped <span class="muted">(dry run: feedback is not imported, nothing is refilled)</span>'
            if detail
            else "skipped"
        )
    return 'no <span class="bad">(no list may be refilled)</span>' if detail else "no"


def _time(value: datetime | None) -> str:
    return "–" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _status_class(status: str) -> str:
    if status in ("synced", "dry_run", "success"):
        return "ok"
    if status in ("failed", "invalid", "guarded"):
        return "bad"
    return ""


def _status(status: str) -> str:
    words = STATUS_WORDS.get(status)
    extra = f' <span class="muted">({esc(words)})</span>' if words and words != status else ""
    return f'<span class="status {_status_class(status)}">{esc(status)}</span>{extra}'


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


# --------------------------------------------------------------------------- run page


def run_page(summary: RunSummary, run: RunRow | None, *, index_href: str) -> str:
    """The audit of one run: its header, an overview, and a table per list with every count."""
    failed = summary.failed_lists
    header_rows = [
        ("run id", esc(summary.run_id)),
        ("dag", esc(run.dag_id or "–") if run else "–"),
        ("status", _status(run.status) if run else "–"),
        ("dry run", _yes_no(summary.dry_run)),
        ("forced", _yes_no(summary.forced)),
        ("feedback import ok", _feedback(summary.feedback_ok, summary.dry_run, detail=True)),
        ("started", _time(run.started_at) if run else "–"),
        ("finished", _time(run.finished_at) if run else "–"),
        (
            "lists",
            f"{len(summary.lists)}"
            + (f' — <span class="bad">not ok: {esc(", ".join(failed))}</span>' if failed else ""),
        ),
    ]
    header = "<table>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in header_rows) + "</table>"
    if summary.lists:
        lists = _overview(summary.lists) + "".join(_list_section(item) for item in summary.lists)
    else:
        lists = "<p>No list was extracted in this run.</p>"
    lists += _deletions(summary.deletions) + _notes(summary.notes)
    body = (
        f'<nav><a href="{esc(index_href)}">&larr; all sync runs</a></nav>\n'
        f"<h1>Sync run {esc(summary.run_id)}</h1>\n{header}\n{lists}"
    )
    return _page(f"CRM sync run {summary.run_id}", body)


def _anchor(list_name: str) -> str:
    return "list-" + re.sub(r"[^A-Za-z0-9_-]", "_", list_name)


def _overview(items: Sequence[ListSummary]) -> str:
    head = (
        "<tr><th>list</th><th>status</th><th class=n>selected</th><th class=n>snapshot</th>"
        "<th class=n>uploaded</th><th class=n>accepted</th><th class=n>rejected</th>"
        "<th class=n>added</th><th class=n>removed</th><th class=n>refused</th><th class=n>unchanged</th>"
        "<th class=n>on platform</th></tr>"
    )
    rows = "".join(
        f'<tr><td><a href="#{_anchor(i.list_name)}">{esc(i.list_name)}</a></td><td>{_status(i.status)}</td>'
        f"<td class=n>{_num(i.selected)}</td><td class=n>{_num(i.snapshot_rows)}</td>"
        f"<td class=n>{_num(i.uploaded)}</td><td class=n>{_num(i.accepted)}</td>"
        f"<td class=n>{_num(i.rejected)}</td><td class=n>{_num(i.added)}</td>"
        f"<td class=n>{_num(i.removed)}</td><td class=n>{_num(i.refused_total)}</td>"
        f"<td class=n>{_num(i.unchanged)}</td><td class=n>{_num(i.platform_count)}</td></tr>"
        for i in items
    )
    return (
        f"<h2>Lists</h2><table>{head}{rows}</table>"
        "<p class=muted>added, removed, refused and unchanged: lists the platform keeps (membership and "
        "label sync); – for a list refilled every night (its answers are the result codes).</p>"
    )


def _refused(refused: dict[str, int] | None) -> str:
    if refused is None:
        return "–"
    if not refused:
        return "0"
    codes = "".join(
        f"<li>{_num(n)} — {esc(code)}</li>"
        for code, n in sorted(refused.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    return f"{_num(sum(refused.values()))} in total<ul>{codes}</ul>"


def _deletions(deletions: Sequence[PlatformListDeletion]) -> str:
    if not deletions:
        return ""
    rows = "".join(
        f"<tr><td>{esc(d.platform)}</td><td>{esc(d.platform_list_id)}</td>"
        f"<td>{esc(d.list_name) if d.list_name else '<span class=muted>no longer in lists.yaml</span>'}</td>"
        f"<td{' class=bad' if d.in_use else ''}>{esc(d.outcome)}</td></tr>"
        for d in deletions
    )
    head = "<tr><th>platform</th><th>platform list</th><th>list</th><th>outcome</th></tr>"
    return f"<h2>Platform lists deleted</h2><table>{head}{rows}</table>"


def _notes(notes: Sequence[str]) -> str:
    if not notes:
        return ""
    return "<h2>To act on</h2><ul>" + "".join(f"<li>{esc(scrub(n))}</li>" for n in notes) + "</ul>"


def _exclusions(excluded: dict[str, int]) -> str:
    if not excluded:
        return "none"
    items = []
    for reason, count in sorted(excluded.items(), key=lambda kv: (-kv[1], kv[0])):
        try:
            words = ExclusionReason(reason).plain_words
        except ValueError:
            words = reason
        items.append(f"<li>{_num(count)} — {esc(reason)} <span class=muted>({esc(words)})</span></li>")
    return f"{_num(sum(excluded.values()))} in total<ul>{''.join(items)}</ul>"


def _validation(item: ListSummary) -> str:
    if item.validated is None and not item.validation_failures:
        return "not validated"
    if not item.validation_failures:
        text = f"{_num(item.validated)} rows passed"
        if item.forced:
            text += " <span class=bad>(a tripped guard was overridden with force)</span>"
        return text
    failures = "".join(f"<li>{esc(scrub(text))}</li>" for text in item.validation_failures)
    return f'<span class="bad">failed</span> ({_num(item.validated)} rows passed)<ul>{failures}</ul>'


def _codes(item: ListSummary) -> str:
    if not item.result_codes:
        return "<p class=muted>No platform answers recorded (nothing uploaded).</p>"
    head = "".join(
        f"<th class=n>{code}<br><span class=muted>{esc(CODE_WORDS[code])}</span></th>"
        for code in RESULT_CODES
    )
    cells = "".join(f"<td class=n>{_num(item.result_codes.get(code, 0))}</td>" for code in RESULT_CODES)
    return f"<table><caption>addAll3 result codes</caption><tr>{head}</tr><tr>{cells}</tr></table>"


def _list_section(item: ListSummary) -> str:
    rows = [
        ("status", _status(item.status)),
        ("platform", f"{esc(item.platform)}, list {esc(item.platform_list_id)}"),
        ("selected", _num(item.selected)),
        ("excluded", _exclusions(item.excluded)),
        ("snapshot rows", _num(item.snapshot_rows)),
        ("validation", _validation(item)),
        ("forced past a guard", _yes_no(item.forced)),
        ("uploaded", _num(item.uploaded)),
        ("accepted (codes 0 and 5)", _num(item.accepted)),
        ("rejected", _num(item.rejected)),
        ("added", _num(item.added)),
        ("removed", _num(item.removed)),
        ("refused by the platform", _refused(item.refused)),
        ("unchanged (already on the list)", _num(item.unchanged)),
        *([("label removals still queued", _num(item.backlog))] if item.backlog is not None else []),
        ("count on the platform", _num(item.platform_count)),
        ("list empty or partial (s)", _num(item.window_seconds)),
        ("error", f'<span class="bad">{esc(scrub(item.error))}</span>' if item.error else "none"),
    ]
    table = "<table>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"
    return (
        f'<section class="list" id="{_anchor(item.list_name)}"><h2>{esc(item.list_name)}</h2>'
        f"{table}{_codes(item)}</section>"
    )


# --------------------------------------------------------------------------- index page


def index_page(
    runs: Sequence[RunRow],
    sizes: Sequence[ListSize],
    *,
    run_href: Callable[[str], str],
    metric_href: Callable[[str], str],
    metric: str = DEFAULT_METRIC,
) -> str:
    """Recent runs (newest first, each linking to its page) and a chart of list sizes over them."""
    if not runs:
        body = "<h1>CRM sync runs</h1><p>No sync run has been recorded yet.</p>"
        return _page("CRM sync runs", body)
    switch = " · ".join(
        f"<strong>{esc(label)}</strong>"
        if key == metric
        else f'<a href="{esc(metric_href(key))}">{esc(label)}</a>'
        for key, label in METRICS.items()
    )
    lists_per_run: dict[str, list[ListSize]] = {}
    for size in sizes:
        lists_per_run.setdefault(size.run_id, []).append(size)
    head = (
        "<tr><th>run</th><th>dag</th><th>status</th><th>dry run</th><th>forced</th><th>feedback ok</th>"
        "<th>started</th><th>finished</th><th>lists ok / all</th></tr>"
    )
    rows = []
    for run in runs:
        lists = lists_per_run.get(run.run_id, [])
        ok = sum(1 for s in lists if s.status in ("synced", "dry_run"))
        rows.append(
            f'<tr><td><a href="{esc(run_href(run.run_id))}">{esc(run.run_id)}</a></td>'
            f"<td>{esc(run.dag_id or '–')}</td><td>{_status(run.status)}</td><td>{_yes_no(run.dry_run)}</td>"
            f"<td>{_yes_no(run.forced)}</td><td>{_feedback(run.feedback_ok, run.dry_run)}</td>"
            f"<td>{_time(run.started_at)}</td><td>{_time(run.finished_at)}</td>"
            f'<td class="n {"" if ok == len(lists) else "bad"}">{ok} / {len(lists)}</td></tr>'
        )
    body = (
        "<h1>CRM sync runs</h1>\n"
        f"<h2>List sizes over the last {len(runs)} run{'s' if len(runs) != 1 else ''}: "
        f"{esc(METRICS[metric])}</h2>\n"
        f"<p>Show: {switch}</p>\n{size_chart(runs, sizes, metric)}\n"
        f"<h2>Recent runs</h2>\n<table>{head}{''.join(rows)}</table>"
    )
    return _page("CRM sync runs", body)


def size_chart(runs: Sequence[RunRow], sizes: Sequence[ListSize], metric: str = DEFAULT_METRIC) -> str:
    """An inline SVG line chart, one line per list, oldest run left; a legend and the numbers below.

    A list missing from a run, or without the value (e.g. ``accepted`` of a dry run), leaves a
    gap in its line rather than a drop to zero, which would look like an emptied list.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; one of {sorted(METRICS)}")
    order = [run.run_id for run in reversed(runs)]  # oldest first
    position = {run_id: i for i, run_id in enumerate(order)}
    series: dict[str, dict[int, int]] = {}
    for size in sizes:
        value = getattr(size, metric)
        if size.run_id in position:
            points = series.setdefault(size.list_name, {})
            if value is not None:
                points[position[size.run_id]] = value
    series = {name: points for name, points in series.items() if points}  # lists never sized: no line
    if not series:
        return f"<p>No list has a value for {esc(METRICS[metric])} in these runs yet.</p>"

    # right: room for half of the last run's centred "MM-DD HH:MM" label (it was cut off at 16)
    width, height, left, right, top, bottom = 760, 280, 64, 44, 12, 48
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_ceiling(max(v for points in series.values() for v in points.values()))

    def x(i: int) -> float:
        return left + (plot_w / 2 if len(order) == 1 else plot_w * i / (len(order) - 1))

    def y(v: int) -> float:
        return top + plot_h - plot_h * v / top_value

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" style="max-width:{width}px" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="list sizes per run: {esc(METRICS[metric])}">'
    ]
    for k in range(5):  # horizontal grid with labels
        v = top_value * k / 4
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#8884"/>'
            f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">'
            f"{_num(int(v) if v == int(v) else v)}</text>"
        )
    step = max(1, -(-len(order) // 10))  # at most ~10 run labels on the x axis
    last = len(order) - 1
    # the newest run is always labelled; a regular label too close before it would overlap it
    labelled = [i for i in range(0, last, step) if last - i >= step] + [last]
    started = {run.run_id: run.started_at for run in runs}
    for i in labelled:
        run_id = order[i]
        parts.append(
            f'<text x="{x(i):.1f}" y="{height - bottom + 16}" text-anchor="middle">'
            f"<title>{esc(run_id)}</title>{esc(started[run_id].strftime('%m-%d %H:%M'))}</text>"
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle">run started (UTC)</text>'
    )
    legend = []
    for n, (name, points) in enumerate(sorted(series.items())):
        colour = _PALETTE[n % len(_PALETTE)]
        for segment in _segments(points):
            if len(segment) > 1:
                coords = " ".join(f"{x(i):.1f},{y(points[i]):.1f}" for i in segment)
                parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for i, v in sorted(points.items()):
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}">'
                f"<title>{esc(name)} · {esc(order[i])} · {_num(v)}</title></circle>"
            )
        legend.append(f'<span class="swatch" style="background:{colour}"></span>{esc(name)}')
    parts.append("</svg>")
    return "".join(parts) + f"<div>{''.join(legend)}</div>" + _numbers_table(order, series, metric)


def _segments(points: dict[int, int]) -> list[list[int]]:
    """Runs of consecutive positions: a line is drawn only between neighbouring runs."""
    segments: list[list[int]] = []
    for i in sorted(points):
        if segments and segments[-1][-1] == i - 1:
            segments[-1].append(i)
        else:
            segments.append([i])
    return segments


def _nice_ceiling(value: int) -> int:
    """The smallest 1/2/5 x 10^k at or above ``value`` (at least 1), for round axis labels."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            if factor * magnitude >= max(value, 1):
                return factor * magnitude
        magnitude *= 10


def _numbers_table(order: Sequence[str], series: dict[str, dict[int, int]], metric: str) -> str:
    head = "".join(f"<th class=n>{esc(run_id)}</th>" for run_id in order)
    rows = "".join(
        f"<tr><th>{esc(name)}</th>"
        + "".join(f"<td class=n>{_num(points.get(i))}</td>" for i in range(len(order)))
        + "</tr>"
        for name, points in sorted(series.items())
    )
    return (
        f"<details><summary>The numbers ({esc(METRICS[metric])})</summary>"
        f"<table><tr><th>list \\ run</th>{head}</tr>{rows}</table></details>"
    )


# --------------------------------------------------------------------------- error pages


def message_page(title: str, message: str, *, index_href: str | None) -> str:
    """A page with one message (unknown run, staging database not reachable, ...)."""
    nav = f'<nav><a href="{esc(index_href)}">&larr; all sync runs</a></nav>\n' if index_href else ""
    return _page(title, f"{nav}<h1>{esc(title)}</h1>\n<p>{esc(scrub(message))}</p>")
