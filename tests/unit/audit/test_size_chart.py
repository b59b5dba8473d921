"""The list-size chart of the report index: every axis label is drawn inside the picture."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest

from include.crm_sync.audit.history import ListSize, RunRow
from include.crm_sync.audit.report_html import size_chart

SVG = "{http://www.w3.org/2000/svg}"
#: a generous width per character of the chart's 11px labels (digits, '-' and ':' are at most ~6 px wide)
CHAR_WIDTH = 6.5


def runs(n: int) -> list[RunRow]:
    start = datetime(2026, 11, 20, 3, 0, 5, tzinfo=UTC)
    return [  # newest first, as history.recent_runs returns them
        RunRow(
            f"scheduled__{i}",
            "crm_campaign_sync",
            "success",
            False,
            False,
            True,
            start + timedelta(days=i),
            start + timedelta(days=i, seconds=40),
        )
        for i in reversed(range(n))
    ]


@pytest.mark.parametrize("n", [1, 2, 7, 10, 25, 26])
def test_every_x_axis_label_fits_inside_the_chart(n: int) -> None:
    recent = runs(n)
    sizes = [ListSize(r.run_id, "newsletter_nl", "synced", 1000 + i, 990, 990) for i, r in enumerate(recent)]
    svg = ElementTree.fromstring(re.match(r"<svg.*?</svg>", size_chart(recent, sizes), re.S).group(0))
    width = float(svg.get("viewBox").split()[2])

    labels = [t for t in svg.iter(f"{SVG}text") if t.find(f"{SVG}title") is not None]  # one per run label
    assert labels and labels[-1].find(f"{SVG}title").text == recent[0].run_id  # the newest run is labelled
    spans = []
    for text in labels:
        label = "".join(text.itertext()).removeprefix(text.find(f"{SVG}title").text)
        extent = len(label) * CHAR_WIDTH
        x = float(text.get("x"))
        left = {"start": x, "middle": x - extent / 2, "end": x - extent}[text.get("text-anchor", "start")]
        assert 0 <= left and left + extent <= width, (label, left, left + extent, width)
        spans.append((left, left + extent))
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert end <= start, "two run labels overlap"
