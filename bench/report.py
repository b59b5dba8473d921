"""``latest.json`` (flat, dotted keys comparable across versions, plus the detail) and ``latest.md``
(each figure next to its comparison, the ratio, the target, met or missed) from one run's results.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import night_report, report_flexmail, report_membership

#: the keys every run writes (the issue's list; ``parse.<dag_id>_ms`` come on top, one per DAG)
REQUIRED_KEYS = (
    "refill.rps",
    "refill.naive_rps",
    "refill.limit_rps",
    "refill.window_s",
    "refill.peak_rss_mb",
    "feedback.rps",
    "feedback.copy_rps",
    "responses.rps",
    "responses.copy_rps",
    "memory.rss_100k_mb",
    "memory.rss_1m_mb",
    "parse.empty_ms",
    # issue 17: the chain against the upload, the imports against a fair COPY, the 10M night
    "refill.e2e_rps",
    "refill.upload_rps",
    "refill.window_floor_s",
    "extract.rows_per_s",
    "validate.seconds",
    "imports.feedback_fair_copy_rps",
    "imports.responses_fair_copy_rps",
    # issue 15: the Flexmail label sync (bench/report_flexmail.py)
    *report_flexmail.KEYS,
)
#: keys every run writes, null when the run had no night at that size (the night scenario, run at
#: the largest size and, with ``--with-10m``, at 10M; bench/night_report.py)
NULLABLE_KEYS = ("scale.night_10m_s", "scale.rss_10m_mb", "scale.rss_1m_mb", "scale.disk_per_night_mb")

#: absolute targets of issue 17 (a figure of the comparison list against a fixed bound)
EXTRACT_TARGET_RPS = 100_000
VALIDATE_TARGET_S = 2.0


def size_label(n: int) -> str:
    for unit, suffix in ((1_000_000, "m"), (1_000, "k")):
        if n >= unit and n % unit == 0:
            return f"{n // unit}{suffix}"
    return str(n)


@dataclass(frozen=True)
class Target:
    what: str
    figure: str
    comparison: str
    value: float
    versus: float
    bound: float
    higher_is_better: bool
    unit: str
    #: the ratio is comparison ÷ figure (a time against the time of its limit: the share of the limit
    #: reached), not figure ÷ comparison
    inverse: bool = False

    @property
    def ratio(self) -> float:
        top, bottom = (self.versus, self.value) if self.inverse else (self.value, self.versus)
        return top / bottom if bottom else float("nan")

    @property
    def met(self) -> bool:
        return self.ratio >= self.bound if self.higher_is_better else self.ratio <= self.bound

    @property
    def ratio_text(self) -> str:
        return f"{self.ratio:.0%}" if self.bound < 1 else f"{self.ratio:.2f}×"

    @property
    def target_text(self) -> str:
        sign = "≥" if self.higher_is_better else "≤"
        return f"{sign} {self.bound:g}×" if self.bound >= 1 else f"{sign} {self.bound:.0%}"


def flat(results: dict[str, Any]) -> dict[str, Any]:
    """The comparable figures as flat dotted keys."""
    sizes = results["sizes"]
    small, big = size_label(sizes[0]), size_label(sizes[-1])
    compare = results["comparison"]
    out: dict[str, Any] = {
        "refill.rps": compare["refill"]["rps"],
        "refill.naive_rps": compare["naive"]["rps"],
        "refill.limit_rps": compare["limit"]["rps"],
        "refill.window_s": compare["refill"]["window_s"],
        "refill.peak_rss_mb": max(item["peak_rss_mb"] for item in results["refill"][big]["lists"]),
        "refill.upload_rps": compare["refill"]["upload_rps"],
        "refill.naive_upload_rps": compare["naive"]["upload_rps"],
        "refill.recipients": compare["refill"]["recipients"],
        "feedback.rps": results["feedback"][big]["import"]["rps"],
        "feedback.copy_rps": results["feedback"][big]["copy"]["rps"],
        "feedback.rows": results["feedback"][big]["import"]["rows"],
        "feedback.peak_rss_mb": results["feedback"][big]["import"]["peak_rss_mb"],
        "responses.rps": results["responses"][big]["import"]["rps"],
        "responses.copy_rps": results["responses"][big]["copy"]["rps"],
        "responses.rows": results["responses"][big]["import"]["rows"],
        "responses.peak_rss_mb": results["responses"][big]["import"]["peak_rss_mb"],
        # Named after the full run's sizes so runs stay comparable; memory.sizes says what they were.
        "memory.rss_100k_mb": max(item["peak_rss_mb"] for item in results["refill"][small]["lists"]),
        "memory.rss_1m_mb": max(item["peak_rss_mb"] for item in results["refill"][big]["lists"]),
        "memory.feedback_rss_100k_mb": results["feedback"][small]["import"]["peak_rss_mb"],
        "memory.feedback_rss_1m_mb": results["feedback"][big]["import"]["peak_rss_mb"],
        "memory.responses_rss_100k_mb": results["responses"][small]["import"]["peak_rss_mb"],
        "memory.responses_rss_1m_mb": results["responses"][big]["import"]["peak_rss_mb"],
        "memory.sizes": sizes[:2] if len(sizes) > 1 else sizes,
    }
    refilled = compare["refill"]
    out.update(
        {
            "refill.e2e_rps": refilled["rps"],
            # the shortest the list can be empty: its recipients at the platform's limit rate
            "refill.window_floor_s": round(refilled["recipients"] / compare["limit"]["rps"], 2),
            # snapshot rows (recipients) per second of the extraction, as issue 17 counts them
            "extract.rows_per_s": round(refilled["recipients"] / refilled["extract_s"])
            if refilled["extract_s"]
            else None,
            "extract.selected_per_s": round(refilled["selected"] / refilled["extract_s"])
            if refilled["extract_s"]
            else None,
            "validate.seconds": refilled["validate_s"],
            "imports.feedback_fair_copy_rps": results["feedback"][big].get("fair_copy", {}).get("rps"),
            "imports.responses_fair_copy_rps": results["responses"][big].get("fair_copy", {}).get("rps"),
        }
    )
    out.update(dict.fromkeys(NULLABLE_KEYS))
    out.update(night_report.figures(results))
    for item in results["parse"]["files"]:
        if item["empty"]:
            out["parse.empty_ms"] = item["parse_ms"]
        else:
            for dag_id in item["dag_ids"]:
                out[f"parse.{dag_id}_ms"] = item["parse_ms"]
    out.update(report_membership.flat(results))
    out.update(report_flexmail.flat(results, small, big))
    out["machine"] = results["machine"]
    out["git_sha"] = results["git_sha"]
    return out


def targets(figures: dict[str, Any], results: dict[str, Any]) -> list[Target]:
    compare = results["comparison"]
    on = f"{compare['list']} ({compare['recipients']:,} recipients, {size_label(compare['size'])} CRM)"
    small, big = (size_label(s) for s in (results["sizes"][0], results["sizes"][-1]))
    rows = [
        Target(
            f"refill vs naive baseline, {on}",
            "refill.rps",
            "refill.naive_rps",
            figures["refill.rps"],
            figures["refill.naive_rps"],
            5.0,
            True,
            "recipients/s",
        ),
        Target(
            f"refill vs platform limit, {on}",
            "refill.rps",
            "refill.limit_rps",
            figures["refill.rps"],
            figures["refill.limit_rps"],
            0.70,
            True,
            "recipients/s",
        ),
        Target(
            f"feedback import vs COPY ({figures['feedback.rows']:,} rows)",
            "feedback.rps",
            "feedback.copy_rps",
            figures["feedback.rps"],
            figures["feedback.copy_rps"],
            0.40,
            True,
            "rows/s",
        ),
        Target(
            f"response import vs COPY ({figures['responses.rows']:,} events)",
            "responses.rps",
            "responses.copy_rps",
            figures["responses.rps"],
            figures["responses.copy_rps"],
            0.40,
            True,
            "rows/s",
        ),
        Target(
            f"refill peak RSS, {big} vs {small} CRM",
            "memory.rss_1m_mb",
            "memory.rss_100k_mb",
            figures["memory.rss_1m_mb"],
            figures["memory.rss_100k_mb"],
            1.2,
            False,
            "MB",
        ),
        Target(
            f"feedback import peak RSS, {big} vs {small} rows",
            "memory.feedback_rss_1m_mb",
            "memory.feedback_rss_100k_mb",
            figures["memory.feedback_rss_1m_mb"],
            figures["memory.feedback_rss_100k_mb"],
            1.2,
            False,
            "MB",
        ),
        Target(
            f"response import peak RSS, {big} vs {small} events",
            "memory.responses_rss_1m_mb",
            "memory.responses_rss_100k_mb",
            figures["memory.responses_rss_1m_mb"],
            figures["memory.responses_rss_100k_mb"],
            1.2,
            False,
            "MB",
        ),
    ]
    refilled = compare["refill"]
    rows += [
        Target(
            f"extraction, {on}",
            "extract.rows_per_s",
            "target",
            figures["extract.rows_per_s"],
            EXTRACT_TARGET_RPS,
            1.0,
            True,
            "rows/s",
        ),
        Target(
            f"validation, {on}",
            "validate.seconds",
            "target",
            figures["validate.seconds"],
            VALIDATE_TARGET_S,
            1.0,
            False,
            "s",
        ),
        Target(
            f"upload vs platform limit, {on}",
            "refill.upload_rps",
            "refill.limit_rps",
            figures["refill.upload_rps"],
            figures["refill.limit_rps"],
            0.95,
            True,
            "recipients/s",
        ),
        Target(
            f"empty-list window vs recipients ÷ limit, {on}",
            "refill.window_s",
            "refill.window_floor_s",
            refilled["window_s"],
            figures["refill.window_floor_s"],
            1.05,
            False,
            "s",
        ),
    ]
    for kind, key in (
        ("feedback", "imports.feedback_fair_copy_rps"),
        ("responses", "imports.responses_fair_copy_rps"),
    ):
        if figures.get(key):
            rows.append(
                Target(
                    f"{kind} import vs COPY into its target tables with their keys",
                    f"{kind}.rps",
                    key,
                    figures[f"{kind}.rps"],
                    figures[key],
                    0.50,
                    True,
                    "rows/s",
                )
            )
    rows += report_membership.targets(figures, results)
    rows += report_flexmail.targets(figures, results, small, big, Target)
    empty = figures["parse.empty_ms"]
    for key in sorted(k for k in figures if k.startswith("parse.") and k != "parse.empty_ms"):
        rows.append(
            Target(f"parse time of {key[6:-3]}", key, "parse.empty_ms", figures[key], empty, 2.0, False, "ms")
        )
    if (night_rss := night_report.rss_target(figures)) is not None:
        rows.append(night_rss)
    return rows


def _num(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


def markdown(results: dict[str, Any], figures: dict[str, Any]) -> str:
    compare = results["comparison"]
    rows = targets(figures, results)
    lines = [
        f"# Benchmarks: {results['mode']} run, {results['started_at']}",
        "",
        f"`python bench/run.py{results['argv']}` on {results['machine']}; code {results['git_sha']}. "
        f"CRM sizes {', '.join(f'{s:,}' for s in results['sizes'])} contacts (PostgreSQL, generated), "
        f"emulator in its own process over HTTP on loopback. Took {results['minutes']:.1f} min; load average "
        f"{results['load_avg']['start']} at the start, {results['load_avg']['end']} at the end "
        f"(2 cores, shared: absolute rates move with the load, ratios much less -- each figure is measured "
        f"in the same run as its comparison).",
        "",
        "| what | figure | comparison | ratio | target | |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for t in rows:
        lines.append(
            f"| {t.what} | {_num(t.value)} {t.unit} | {_num(t.versus)} {t.unit} | {t.ratio_text} "
            f"| {t.target_text} "
            f"| {'met' if t.met else '**missed**'} |"
        )
    upload, naive_upload, limit = (
        figures[k] for k in ("refill.upload_rps", "refill.naive_upload_rps", "refill.limit_rps")
    )
    lines += [
        "",
        "Upload phase only (clear → addAll3 → getCount, no extract/validate; "
        "not one of the issue's targets, "
        f"shown to read the two refill rows): refill {_num(upload)}/s vs the naive job's sequential addAll3 "
        f"{_num(naive_upload)}/s = {upload / naive_upload:.2f}×, vs the limit {upload / limit:.0%}.",
        "",
        "## How each figure is measured",
        "",
        f"- **refill.rps**: recipients of the list / seconds of its whole task chain in one fresh process: "
        "extract → validate (one SQL pass; great-expectations only when a check fails) "
        f"→ clear → addAll3 ({compare['refill']['parallel']} calls in flight, "
        f"batches of {compare['refill']['batch_size']}) → getCount, "
        "through the domain functions the DAG calls. "
        f"Its upload phase alone (clear → verify) ran at {_num(figures['refill.upload_rps'])} recipients/s "
        f"({figures['refill.upload_rps'] / figures['refill.limit_rps']:.0%} of the limit); "
        "the list was empty "
        f"for **{figures['refill.window_s']} s** (clear → last accepted batch, from the audit).",
        f"- **naive**: bench/baseline/naive_refill.py on the same list in the same run: `pandas.read_sql` of "
        f"the whole list ({compare['naive']['read_s']} s), a plain zeep client, "
        "clear, sequential addAll3 per "
        f"1000 ({compare['naive']['upload_s']} s), getCount. Same recipients: "
        f"{'yes' if compare['same_recipients'] else '**no**'}: it sent {compare['naive']['recipients']:,}, "
        f"the refill {compare['refill']['recipients']:,} of which "
        f"{compare['blocklisted_by_refill']:,} were refused "
        "as blocklisted (code 3) and so entered the CRM blocklist before the naive job read the list; both "
        f"left {compare['naive']['platform_count']:,} on the platform.",
        f"- **limit**: the same list's {compare['limit']['batches']} addAll3 bodies "
        f"({compare['limit']['body_mb']} MB) built before the clock starts, posted by "
        f"{compare['limit']['parallel']} keep-alive connections "
        "(the refill's max_parallel_calls) to the same "
        f"emulator; nothing else timed. Platform count afterwards {compare['limit']['platform_count']:,}.",
        f"- {compare['note']}",
        "- **imports**: `import_feedback` (ClosedLoop export over SOAP, 1000 rows a page "
        "→ landing CSV → apply) "
        "and `import_response_files` (one file over SFTP → landing → apply), each in a fresh process on a "
        "copy of the generated CRM; **COPY** = `psycopg2 copy_expert` of the same CSV content (the landed "
        "feedback files / the response file) into an unindexed all-text table, committed.",
        "- **memory**: peak RSS of the step's own process (`VmHWM`, read by the process as it ends; its "
        "`ru_maxrss` from `wait4` is in latest.json too, "
        "but Linux folds the spawning process's RSS into that) "
        "of the largest of the per-list refill processes at each size; `memory.rss_100k_mb`/`_1m_mb` are the "
        "first and last size of the run "
        f"({', '.join(f'{s:,}' for s in figures['memory.sizes'])} contacts here).",
        "- **parse**: median of "
        f"{results['parse']['files'][0]['repeats']} parses per file as the dag-processor does it: Airflow "
        "imported and the file's `airflow.*` imports pre-imported in the parent, each parse a `BundleDagBag` "
        "of that one file in a fresh `os.fork()` child (the DAG file's own imports never cached).",
        "",
        "## Detail",
        "",
        "| size | list | recipients | extract s | validate s | refill s | "
        "end to end s | rec/s | upload rec/s "
        "| window s | peak RSS MB | platform count |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in results["sizes"]:
        for item in results["refill"][size_label(size)]["lists"]:
            lines.append(
                f"| {size:,} | {item['list']} | {item['recipients']:,} | {item['extract_s']} "
                f"| {item['validate_s']} "
                f"| {item['refill_s']} | {item['seconds']} | {item['rps']:,} | {item['upload_rps']:,} "
                f"| {item['window_s']} | {item['peak_rss_mb']} | {item['platform_count']:,} |"
            )
    lines += [
        "",
        "| size | import | rows | seconds | rows/s | peak RSS MB | COPY s | COPY rows/s | ratio |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in ("feedback", "responses"):
        for size in results["sizes"]:
            scenario = results[kind].get(size_label(size))
            if not scenario:
                continue
            imp, cp = scenario["import"], scenario["copy"]
            lines.append(
                f"| {size:,} | {kind} | {imp['rows']:,} | {imp['seconds']} | {imp['rps']:,} "
                f"| {imp['peak_rss_mb']} "
                f"| {cp['seconds']} | {cp['rps']:,} | {imp['rps'] / cp['rps']:.2f} |"
            )
    lines += [
        "",
        "| DAG file | DAG ids | parse ms (median) | min–max ms | serialize ms |",
        "|---|---|---:|---:|---:|",
    ]
    for item in results["parse"]["files"]:
        lines.append(
            f"| {item['file']} | {', '.join(item['dag_ids'])} | {item['parse_ms']} "
            f"| {item['parse_min_ms']}–{item['parse_max_ms']} | {item['serialize_ms']} |"
        )
    lines += report_membership.markdown(results)
    lines += report_flexmail.markdown(results, figures)
    lines += ["", f"Emulator peak RSS: {results.get('emulator', {}).get('peak_rss_mb', '?')} MB.", ""]
    lines += night_report.markdown(results)
    if source := figures.get("scale.night_10m_from"):
        lines += [
            f"The 10M figures (`scale.*_10m_*`, and the 10M-vs-1M target above) are carried over from "
            f"{source}: a 10M night is run on its own (`bench/run.py --reuse --only night --night-sizes 10m "
            "--nights 1`); see `bench/results/night_10m.md` for its tables.",
            "",
        ]
    return "\n".join(lines)


def write(results: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    figures = flat(results)
    figures.update(night_report.carried_over(figures, out_dir))
    out_dir.mkdir(parents=True, exist_ok=True)
    document = {
        **figures,
        "targets": {
            t.figure + "/" + t.comparison: {"ratio": round(t.ratio, 3), "target": t.target_text, "met": t.met}
            for t in targets(figures, results)
        },
        "detail": results,
    }
    (out_dir / "latest.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    (out_dir / "latest.md").write_text(markdown(results, figures))
    return figures
