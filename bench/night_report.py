"""The night scenario's figures (flat ``scale.*`` keys), its target and its latest.md section, and the
stand-alone result files of one night size (``bench/results/night_<size>.{json,md}``).

Keys, per night size ``<s>`` (``1m``, ``10m``, ...):

* ``scale.night_<s>_s``: wall seconds of the first night (the DAG run's start to end), the night
  that fills every list; ``scale.night2_<s>_s`` the second night, when one ran;
* ``scale.rss_<s>_mb``: the largest peak RSS of any task process of the first night;
* ``scale.disk_night1_<s>_mb``: MB the sync's tables (snapshots, audit, platform state) grew in the
  first night; ``scale.disk_last_night_<s>_mb`` in the last one; ``scale.disk_after_<s>_mb`` the
  MB they hold after each night (a list).

``scale.disk_per_night_mb`` is ``scale.disk_night1_<s>_mb`` of the largest night size: what one
night writes there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _label(size: int) -> str:
    from bench.report import size_label

    return size_label(size)


def figures(results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    sizes = results.get("night_sizes") or []
    for size in sizes:
        label = _label(size)
        scenario = results.get("night", {}).get(label)
        if not scenario or not scenario["nights"]:
            continue
        nights = scenario["nights"]
        out[f"scale.night_{label}_s"] = nights[0]["seconds"]
        if len(nights) > 1:
            out[f"scale.night2_{label}_s"] = nights[1]["seconds"]
        out[f"scale.rss_{label}_mb"] = nights[0]["max_task_rss_mb"]
        out[f"scale.disk_night1_{label}_mb"] = nights[0]["disk"]["night_tables_added_mb"]
        out[f"scale.disk_last_night_{label}_mb"] = nights[-1]["disk"]["night_tables_added_mb"]
        out[f"scale.disk_after_{label}_mb"] = [n["disk"]["night_tables_mb"] for n in nights]
        out["scale.disk_per_night_mb"] = nights[0]["disk"]["night_tables_added_mb"]
    return out


def carried_over(found: dict[str, Any], out_dir: Path, label: str = "10m") -> dict[str, Any]:
    """The ``scale.*_<label>*`` figures of ``night_<label>.json`` in ``out_dir`` where this run had no
    night at that size (its figures null): the 10M night is too long for every full run, so it is
    run alone (``--only night --night-sizes 10m``) and the next full run's latest.* carries it, with
    ``scale.night_<label>_from`` naming the run it came from. Nothing when there is no such file or
    it has no complete first night."""
    source = out_dir / f"night_{label}.json"
    if found.get(f"scale.night_{label}_s") is not None or not source.exists():
        return {}
    earlier = json.loads(source.read_text())
    if earlier.get(f"scale.night_{label}_s") is None:  # cut short: no whole night to carry
        return {}
    keys = {k: v for k, v in earlier.items() if k.startswith("scale.") and f"_{label}" in k}
    # what one night writes, at the largest size measured
    keys["scale.disk_per_night_mb"] = earlier.get(f"scale.disk_night1_{label}_mb")
    detail = earlier.get("detail", {})
    keys[f"scale.night_{label}_from"] = (
        f"bench/results/night_{label}.json: run {detail.get('started_at')}, code {detail.get('git_sha')}"
    )
    return keys


def rss_target(found: dict[str, Any]) -> Any:
    """The issue's bound: task processes at 10M within 1.2× of the 1M figure (None without both)."""
    from bench.report import Target

    if found.get("scale.rss_10m_mb") is None or found.get("scale.rss_1m_mb") is None:
        return None
    return Target(
        "night: largest task-process peak RSS, 10M vs 1M CRM",
        "scale.rss_10m_mb",
        "scale.rss_1m_mb",
        found["scale.rss_10m_mb"],
        found["scale.rss_1m_mb"],
        1.2,
        False,
        "MB",
    )


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _wall(night: dict[str, Any]) -> str:
    if night["seconds"] is None and night.get("elapsed_s") is not None:
        return f"> {float(night['elapsed_s']):,.0f} (cut short)"
    return _cell(night["seconds"])


def markdown(results: dict[str, Any]) -> list[str]:
    """The "Night at <sizes>" section: per night and list, and the disk after each night."""
    labels = [_label(s) for s in results.get("night_sizes") or [] if _label(s) in results.get("night", {})]
    if not labels:
        return []
    first = results["night"][labels[0]]
    lines = [
        f"## Night at {' / '.join(label.upper() for label in labels)}: per list",
        "",
        f"Whole runs of `crm_campaign_sync` over every list of the lists file ({', '.join(first['lists'])}) "
        f"under a {first['executor']} Airflow (parallelism {first.get('parallelism')}: that many tasks at "
        "once), the CRM copy on PostgreSQL as the staging database, one emulator process per platform "
        f"({', '.join(first['platforms'])}); Flexmail's emulator allows "
        f"{first['flexmail_requests_per_minute']:,} requests a minute (Flexmail: ~60). Seconds per task "
        "from Airflow's task instances (process start included); upload = `clear` to the last confirmed "
        "`addAll3` (the empty-list window) for Optimizely refills, the membership sync's start to end for "
        "Spotler/Mailjet; rest = write − upload: task process start, login, `clear`, `getCount` (verify) and "
        "the audit (the audit stamps a refill's end at its last batch: verify has no figure of its own); "
        "Flexmail lists are "
        "written by the shared `sync_labels` task. RSS: peak (`VmHWM`) of each task process, sampled "
        "from outside every 0.25 s (bench/common/task_rss.py); extract / validate / write.",
        "",
        "| size | night | list | platform | recipients | extract s | validate s | write s | upload s "
        "| rest s | window s | peak RSS MB (e/v/w) | status |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for label in labels:
        for night in results["night"][label]["nights"]:
            for item in night["lists"]:
                rss = "/".join(_cell(item[k]) for k in ("extract_rss_mb", "validate_rss_mb", "write_rss_mb"))
                write, upload = item.get("write_s"), item.get("upload_s")
                rest = round(write - upload, 2) if write is not None and upload is not None else None
                keys = ("recipients", "extract_s", "validate_s", "write_s", "upload_s")
                cells = [*(_cell(item.get(k)) for k in keys), _cell(rest), _cell(item.get("window_s"))]
                lines.append(
                    f"| {label} | {night['night']} | {item['list']} | {item['platform']} | "
                    + " | ".join(cells)
                    + f" | {rss} | {item['status']} |"
                )
    lines += [
        "",
        "| size | night | state | wall s | largest task RSS MB | sync tables MB after | of which "
        "snapshots MB | added this night MB | snapshot rows kept (runs) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for label in labels:
        scenario = results["night"][label]
        for night in scenario["nights"]:
            disk = night["disk"]
            kept = night["kept_snapshots"]
            runs = sorted({k["run_id"] for k in kept})
            lines.append(
                f"| {label} | {night['night']} | {night['state']} | {_wall(night)} "
                f"| {_cell(night['max_task_rss_mb'])} | {disk['night_tables_mb']} "
                f"| {disk['groups'].get('snapshots', {}).get('mb', 0)} | {disk['night_tables_added_mb']} "
                f"| {sum(k['rows'] for k in kept):,} ({len(runs)}) |"
            )
    lines += [
        "",
        f"Retention: the `report` task deletes the snapshot rows of list runs older than the newest "
        f"`CRM_SYNC_SNAPSHOT_KEEP_RUNS` = {first['keep_runs']} per platform list (production default 7: a "
        "week), never the newest synced one; the list_run, list_batch and list_rejected rows (the audit) "
        "are kept. PostgreSQL reuses the space of deleted rows once (auto)vacuum has seen them, so the "
        "snapshot table levels off at about keep_runs + 1 nights of snapshots instead of growing every "
        "night.",
        "",
    ]
    return lines


def write_size(results: dict[str, Any], size: int, out_dir: Path) -> Path:
    """``night_<size>.json`` and ``.md``: one night size's figures and section, for committing."""
    label = _label(size)
    one = {**results, "night_sizes": [size], "night": {label: results["night"][label]}}
    found = figures(one)
    document = {**found, "detail": {k: one[k] for k in ("argv", "started_at", "machine", "git_sha", "night")}}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"night_{label}.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    header = [
        f"# Night benchmark, {label.upper()} contacts: {results['started_at']}",
        "",
        f"`python bench/run.py{results['argv']}` on {results['machine']}; code {results['git_sha']}.",
        "",
    ]
    (out_dir / f"night_{label}.md").write_text(
        "\n".join(header + markdown(one) + _versus_smaller(found, out_dir))
    )
    return out_dir / f"night_{label}.md"


def _versus_smaller(found: dict[str, Any], out_dir: Path) -> list[str]:
    """The 10M night against the 1M one written to ``out_dir`` (``night_1m.json``), if there is one."""
    smaller = out_dir / "night_1m.json"
    if "scale.rss_10m_mb" not in found or not smaller.exists():
        return []
    other = json.loads(smaller.read_text())
    both = {**other, **found}
    target = rss_target(both)
    lines = [
        "",
        f"## Against the 1M night (bench/results/night_1m.json, run {other['detail']['started_at']})",
        "",
        "| figure | 1M | 10M | ratio |",
        "|---|---:|---:|---:|",
    ]
    for what, key in (
        ("night 1 wall s", "scale.night_{}_s"),
        ("largest task-process peak RSS MB", "scale.rss_{}_mb"),
        ("sync tables added by night 1 MB", "scale.disk_night1_{}_mb"),
    ):
        small, big = both.get(key.format("1m")), both.get(key.format("10m"))
        ratio = f"{big / small:.2f}×" if small and big else "–"
        lines.append(f"| {what} | {_cell(small)} | {_cell(big)} | {ratio} |")
    if target is not None:
        verdict = "met" if target.met else "**missed**"
        lines += ["", f"Task-process peak RSS 10M ÷ 1M = {target.ratio:.2f}× (target ≤ 1.2×): {verdict}."]
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    """``python bench/night_report.py RESULTS.json [OUT_DIR]``: (re)write ``night_<size>.{json,md}``
    from a run's raw results (``results_only.json`` of ``bench/run.py --only night``)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    results = json.loads(Path(args[0]).read_text())
    out_dir = Path(args[1]) if len(args) > 1 else Path(__file__).resolve().parent / "results"
    for size in results.get("night_sizes") or []:
        if _label(size) in results.get("night", {}):
            print(write_size(results, size, out_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
