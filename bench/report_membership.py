"""The membership-sync part of ``latest.json`` / ``latest.md`` (Spotler, Mailjet: bench/scenarios/
membership.py): flat keys, target rows in the main table's form, a detail table per platform.

Keys per platform ``p`` (figures of the largest CRM size unless the key names a size):
``p.night1_s`` / ``p.night2_s`` (the sync's seconds), ``p.night1_limit_s`` / ``p.night2_limit_s``
(the same calls pre-built and posted), ``p.night1_e2e_s`` / ``p.night2_e2e_s`` (extract + validate
+ sync), ``p.calls`` / ``p.calls_min`` (both nights), ``p.night1_calls`` ... ``p.night2_calls_min``,
``p.recipients`` (night 1's list), ``p.rss_100k_mb`` / ``p.rss_1m_mb`` (the sync process's peak RSS
at the smallest / largest size, named after the full run's sizes as ``memory.*`` are).
"""

from __future__ import annotations

from typing import Any

from bench import report

PLATFORMS = {"spotler": "Spotler", "mailjet": "Mailjet"}
#: the keys a run that measured a platform writes, per platform (``p.<key>``)
KEYS = tuple(
    f"night{n}_{what}" for n in (1, 2) for what in ("s", "limit_s", "e2e_s", "calls", "calls_min")
) + ("calls", "calls_min", "recipients", "rss_100k_mb", "rss_1m_mb")

#: The sync's share of the emulator-bound limit it must reach. Not the refill's 70-95 %: a
#: membership sync has one call in flight, and before each next call it records the confirmed one
#: in PostgreSQL (the crash-safety of the whole design: the record is the only knowledge of a
#: Spotler audience) and reads the next page of the snapshot and of the record -- work on the
#: critical path that the limit does not do. At least half of the night's time in platform calls
#: says that bookkeeping costs no more than the calls it guards.
TIME_TARGET = 0.50
#: calls may exceed the fewest possible by the protocol's small change (count checks) and no more
CALLS_TARGET = 1.1
RSS_TARGET = 1.2


def _runs(results: dict[str, Any], name: str) -> tuple[dict, dict] | None:
    """(nights of the smallest size, of the largest) when the run measured ``name`` at both."""
    scenario = results.get(name) or {}
    small, big = (report.size_label(s) for s in (results["sizes"][0], results["sizes"][-1]))
    if not scenario.get(small, {}).get("nights") or len(scenario.get(big, {}).get("nights", [])) < 2:
        return None
    return scenario[small], scenario[big]


def flat(results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in PLATFORMS:
        runs = _runs(results, name)
        if runs is None:
            continue
        small, big = runs
        nights = big["nights"]
        for item in nights:
            n = item["night"]
            out[f"{name}.night{n}_s"] = item["sync_s"]
            out[f"{name}.night{n}_limit_s"] = item["limit_s"]
            out[f"{name}.night{n}_e2e_s"] = item["night_s"]
            out[f"{name}.night{n}_calls"] = item["calls"]
            out[f"{name}.night{n}_calls_min"] = item["calls_min"]
        out[f"{name}.calls"] = sum(item["calls"] for item in nights)
        out[f"{name}.calls_min"] = sum(item["calls_min"] for item in nights)
        out[f"{name}.recipients"] = nights[0]["recipients"]
        out[f"{name}.rss_100k_mb"] = max(item["peak_rss_mb"] for item in small["nights"])
        out[f"{name}.rss_1m_mb"] = max(item["peak_rss_mb"] for item in nights)
    return out


def targets(figures: dict[str, Any], results: dict[str, Any]) -> list[report.Target]:
    rows = []
    small, big = (report.size_label(s) for s in (results["sizes"][0], results["sizes"][-1]))
    for name, title in PLATFORMS.items():
        if f"{name}.calls" not in figures:
            continue
        on = f"{figures[f'{name}.recipients']:,} members, {big} CRM"
        for n, what in ((1, "night 1 (all adds)"), (2, "night 2 (2 % churn)")):
            rows.append(
                report.Target(
                    f"{title} {what} sync vs emulator-bound limit ({on})",
                    f"{name}.night{n}_s",
                    f"{name}.night{n}_limit_s",
                    figures[f"{name}.night{n}_s"],
                    figures[f"{name}.night{n}_limit_s"],
                    TIME_TARGET,
                    True,
                    "s",
                    inverse=True,
                )
            )
        rows += [
            report.Target(
                f"{title} calls vs minimum (nights 1 + 2, {big} CRM)",
                f"{name}.calls",
                f"{name}.calls_min",
                figures[f"{name}.calls"],
                figures[f"{name}.calls_min"],
                CALLS_TARGET,
                False,
                "calls",
            ),
            report.Target(
                f"{title} sync peak RSS, {big} vs {small} CRM",
                f"{name}.rss_1m_mb",
                f"{name}.rss_100k_mb",
                figures[f"{name}.rss_1m_mb"],
                figures[f"{name}.rss_100k_mb"],
                RSS_TARGET,
                False,
                "MB",
            ),
        ]
    return rows


def markdown(results: dict[str, Any]) -> list[str]:
    """The detail table per platform and how its figures are measured (nothing if not measured)."""
    measured = [name for name in PLATFORMS if _runs(results, name) is not None]
    if not measured:
        return []
    lines = [
        "",
        "## Membership sync (Spotler, Mailjet)",
        "",
        "| platform | size | night | members | added | removed | upserted | extract s | validate s "
        "| sync s | limit s | limit ÷ sync | calls | limit calls | fewest calls | sync peak RSS MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in measured:
        for size in results["sizes"]:
            for item in results[name][report.size_label(size)]["nights"]:
                done = item["report"]
                cells = [
                    PLATFORMS[name],
                    f"{size:,}",
                    item["night"],
                    f"{done['members']:,}",
                    f"{done['added']:,}",
                    f"{done['removed']:,}",
                    f"{done['upserted']:,}",
                    item["extract_s"],
                    item["validate_s"],
                    item["sync_s"],
                    item["limit_s"],
                    f"{item['limit_s'] / item['sync_s']:.0%}",
                    item["calls"],
                    item["limit_calls"],
                    item["calls_min"],
                    item["peak_rss_mb"],
                ]
                lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines += [
        "",
        "- **nights**: one list per platform (bench/scenarios/membership_lists.yaml: the shipped newsletter "
        "lists' selection) on a copy of the generated CRM, its platform's emulator in its own process. "
        "Night 1: extract → validate → `sync_membership` (first sync: every member upserted and added). "
        "Night 2 after about 2 % churn (sql/bench/churn_*.sql: 0.5 % of the members' consents revoked, "
        "0.5 % bounced, 1 % new consented people, 1 % with a changed uploaded field). Each step a fresh "
        "process; **sync s** and its peak RSS are the sync step's own (the feedback import is measured by "
        "its own scenario: here it is marked done).",
        "- **limit**: the calls the sync made, read back from its record after the night (the same contacts "
        "in the same upsert bodies, the same member batches in the same order, the same lookups and count "
        "checks; Mailjet jobs each polled until Completed with no wait between), built before the clock "
        "starts and posted over one keep-alive connection -- the sync has one call in flight. Night 1's "
        "limit runs on a reset emulator, night 2's on the audience/list put back as before the night "
        "(untimed). The Mailjet emulator runs with `--job-seconds 0` (bench/scenarios/mailjet.py says why).",
        "- **calls** are counted by the emulator (`/_control/calls`); **fewest calls** from the two "
        "snapshots (sql/bench/membership_plan.sql), not from what the sync chose: Spotler ⌈(new + changed) "
        "÷ 100⌉ upserts + ⌈joining ÷ 2,500⌉ + ⌈leaving ÷ 2,500⌉ member calls + the audience lookup (+ create "
        "on night 1); Mailjet ⌈joining ÷ job size⌉ + ⌈leaving ÷ job size⌉ jobs with one poll each + the list "
        "lookup (+ create); job size = the client's `max_contacts_per_job` (Mailjet publishes none).",
    ]
    return lines
