"""The Flexmail part of the report (issue 15), apart from ``report.py`` so each platform's figures
stay in a block of their own: flat keys, main-table rows and the detail table of the
``flexmail`` scenario (bench/scenarios/flexmail.py). Everything here comes from night 2, the 2 %
churn night, except peak RSS (the larger of both nights: night 1 imports every label)."""

from __future__ import annotations

from typing import Any

#: the flat keys a full run writes (``report.REQUIRED_KEYS`` includes them)
KEYS = (
    "flexmail.requests_per_1000_changes",
    "flexmail.requests_min_per_1000",
    "flexmail.night2_wall_s",
    "flexmail.night2_wall_real_s",
    "flexmail.rss_100k_mb",
    "flexmail.rss_1m_mb",
)
#: requests per change may be at most this many times the minimum
REQUESTS_BOUND = 1.5


def _peak(sizes: dict[str, Any], label: str) -> float:
    return max(night["peak_rss_mb"] for night in sizes[label]["nights"])


def flat(results: dict[str, Any], small: str, big: str) -> dict[str, Any]:
    sizes = results.get("flexmail") or {}
    if big not in sizes or small not in sizes:
        return {}
    night = sizes[big]["nights"][1]
    return {
        "flexmail.requests_per_1000_changes": night["requests_per_1000_changes"],
        "flexmail.requests_min_per_1000": night["requests_min_per_1000"],
        "flexmail.night2_wall_s": night["seconds"],
        "flexmail.night2_wall_real_s": night["real_s"],
        "flexmail.rss_100k_mb": _peak(sizes, small),
        "flexmail.rss_1m_mb": _peak(sizes, big),
        "flexmail.label_changes": night["label_changes"],
        "flexmail.backlog_after_night2": night["report"]["backlog"],
    }


def targets(figures: dict[str, Any], results: dict[str, Any], small: str, big: str, target: Any) -> list:
    """Main-table rows; ``target`` is ``report.Target`` (passed in: no import cycle)."""
    if "flexmail.night2_wall_real_s" not in figures:
        return []
    from bench.scenarios.flexmail import NIGHT_REMOVAL_BUDGET_S

    night = results["flexmail"][big]["nights"][1]
    on = f"2 % churn night, {big} CRM ({night['label_changes']:,} label changes)"
    rows = []
    if figures["flexmail.requests_per_1000_changes"] is not None:
        rows.append(
            target(
                f"Flexmail requests per 1,000 label changes vs the minimum possible, {on}",
                "flexmail.requests_per_1000_changes",
                "flexmail.requests_min_per_1000",
                figures["flexmail.requests_per_1000_changes"],
                figures["flexmail.requests_min_per_1000"],
                REQUESTS_BOUND,
                False,
                "requests",
            )
        )
    rows += [
        target(
            f"Flexmail night at 60 requests/min, real-time equivalent, vs a night's removal budget, {on}",
            "flexmail.night2_wall_real_s",
            "removal budget",
            figures["flexmail.night2_wall_real_s"],
            NIGHT_REMOVAL_BUDGET_S,
            1.0,
            False,
            "s",
        ),
        target(
            f"Flexmail label sync peak RSS, {big} vs {small} CRM",
            "flexmail.rss_1m_mb",
            "flexmail.rss_100k_mb",
            figures["flexmail.rss_1m_mb"],
            figures["flexmail.rss_100k_mb"],
            1.2,
            False,
            "MB",
        ),
    ]
    return rows


def markdown(results: dict[str, Any], figures: dict[str, Any]) -> list[str]:
    """The detail: both nights at each size, and what the churn night means at real speed."""
    sizes = results.get("flexmail") or {}
    if not sizes:
        return []
    from bench.scenarios.flexmail import EMULATOR_REQUESTS_PER_MINUTE, NIGHT_REMOVAL_BUDGET_S

    lines = [
        "",
        "### Flexmail interest labels (nieuwsbrief_flexmail, honden_flexmail)",
        "",
        f"Emulator in its own process at {EMULATOR_REQUESTS_PER_MINUTE} requests/min, the client's shared "
        "token bucket at the connection default (55/min). **Clock acceleration**: the emulator's clock "
        "is frozen and moves only when the client waits (token bucket, retries, import polls), by the "
        "seconds it would have slept; a wait costs no wall time while the emulator still refuses any "
        "61st request in 60 emulated seconds (429s below: none). The client is sequential, so the "
        "night at real speed = wall time + emulated seconds waited (column *real s*); the "
        "acceleration is real s ÷ wall s. Requests are counted in the emulator's call log; label "
        "changes are the emulator's label members before vs after the night. Minimum possible = "
        "blacklist read + label list + one DELETE per label removed + one import (create, "
        "⌈addresses gaining ÷ 500⌉ record calls, queue, one poll).",
        "",
        "| size | night | snapshot rows | labels added | labels removed | requests | minimum | per 1,000 "
        "changes (min) | wall s | waited s (emulated) | real s | acceleration | 429s | backlog left "
        "| peak RSS MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, scenario in sizes.items():
        for number, night in enumerate(scenario["nights"], start=1):
            per, least = night["requests_per_1000_changes"], night["requests_min_per_1000"]
            per_text = "–" if per is None else f"{per:,.0f} ({least:,.0f})"
            lines.append(
                f"| {label} | {number}{' (2 % churn)' if number == 2 else ''} "
                f"| {sum(night['snapshots'].values()):,} | {sum(night['labels_added'].values()):,} "
                f"| {sum(night['labels_removed'].values()):,} | {night['requests']:,} "
                f"| {night['requests_min']:,} "
                f"| {per_text} "
                f"| {night['seconds']} | {night['waited_emulated_s']:,} | {night['real_s']:,} "
                f"| {night['real_s'] / night['seconds']:.1f}× | {night['rate']['refused']} "
                f"| {night['report']['backlog']:,} | {night['peak_rss_mb']} |"
            )
    lines.append("")
    for label, scenario in sizes.items():
        night, churn = scenario["nights"][1], scenario["churn"]
        backlog, drain = night["report"]["backlog"], night["report"]["expected_drain_seconds"]
        text = (
            f"- {label}: the churn changed {churn['changed']:,} of {churn['rows']:,} consent rows "
            f"({', '.join(churn['consents'])}); the night needs **{night['real_s'] / 60:,.1f} min at real "
            f"speed** ({night['report']['removed']:,} labels removed)"
        )
        if backlog or night["real_s"] > NIGHT_REMOVAL_BUDGET_S:
            text += (
                f". **The removal backlog does not fit in one night at real speed**: {backlog:,} removals "
                f"are left after the night's {NIGHT_REMOVAL_BUDGET_S / 3600:g} h budget "
                f"(~{drain / 3600:.1f} h more at the limit); by design they drain across the next runs, "
                "the most urgent first "
                "(consent revoked, unsubscribed, bounced before 'left the selection')."
            )
        else:
            text += f", within a night's {NIGHT_REMOVAL_BUDGET_S / 3600:g} h removal budget: no backlog left."
        lines.append(text)
    return lines
