"""The night scenario's arithmetic: sizes on the command line, the disk per table group, and the
``scale.*`` keys and latest.md section built from a night's results."""

from __future__ import annotations

import json

from bench.night_report import carried_over, figures, markdown, rss_target
from bench.run import parse_args, parse_size
from bench.scenarios.night import disk_report

MB = 2**20


def test_sizes_read_with_units() -> None:
    assert [parse_size(s) for s in ("10m", "100k", "5000", " 1M ")] == [10_000_000, 100_000, 5000, 1_000_000]


def test_night_sizes_default_to_the_largest_size_and_10m_with_it() -> None:
    assert parse_args(["--sizes", "1000,2000"]).night_sizes == [2000]
    args = parse_args(["--with-10m"])
    assert args.night_sizes == [1_000_000, 10_000_000]
    assert args.extra_sizes == [10_000_000]  # generated for the night only, not refilled
    assert "night" not in parse_args(["--quick"]).only


def test_disk_report_groups_what_the_night_added() -> None:
    before = {"list_snapshot": 10 * MB, "list_run": MB, "crm_entity": 500 * MB}
    after = {
        "list_snapshot": 30 * MB,
        "list_run": 2 * MB,
        "crm_entity": 500 * MB,
        "platform_membership": 4 * MB,
    }
    disk = disk_report(before, after)
    assert disk["groups"]["snapshots"] == {"mb": 30.0, "added_mb": 20.0}
    assert disk["groups"]["audit"] == {"mb": 2.0, "added_mb": 1.0}
    assert disk["groups"]["platform_state"] == {"mb": 4.0, "added_mb": 4.0}
    assert disk["night_tables_mb"] == 36.0  # the CRM's own tables are not the night's
    assert disk["night_tables_added_mb"] == 25.0
    assert "crm_entity" not in disk["added_mb_by_table"]


def test_each_list_runs_snapshot_partition_counts_as_snapshots() -> None:
    """On PostgreSQL a list run's snapshot is a partition of its own: the 10M night's first report
    put its 2,966 MB of snapshots under "other" (not the night's) and showed 0 MB of snapshots."""
    before = {"list_snapshot": 0, "crm_entity": 500 * MB}
    after = {
        "list_snapshot": 0,
        "list_snapshot_run_7": 30 * MB,
        "list_snapshot_default": MB,
        "crm_entity": 500 * MB,
    }
    disk = disk_report(before, after)
    assert disk["groups"]["snapshots"] == {"mb": 31.0, "added_mb": 31.0}
    assert disk["night_tables_added_mb"] == 31.0


def _night(number: int, seconds: float, rss: float, total: float, added: float) -> dict:
    return {
        "night": number,
        "run_id": f"manual__{number}",
        "state": "success",
        "seconds": seconds,
        "max_task_rss_mb": rss,
        "lists": [
            {
                "list": "newsletter_nl",
                "platform": "optimizely",
                "status": "synced",
                "recipients": 1000,
                "extract_s": 1.0,
                "validate_s": 2.0,
                "write_s": 3.0,
                "upload_s": 2.5,
                "verify_s": 0.1,
                "window_s": 2.5,
                "extract_rss_mb": rss,
                "validate_rss_mb": rss - 1,
                "write_rss_mb": None,
            }
        ],
        "disk": {
            "groups": {"snapshots": {"mb": total / 2}},
            "night_tables_mb": total,
            "night_tables_added_mb": added,
        },
        "kept_snapshots": [{"run_id": f"manual__{number}", "list_name": "newsletter_nl", "rows": 1000}],
    }


def _scenario(*nights: dict) -> dict:
    return {
        "lists": ["newsletter_nl"],
        "platforms": ["optimizely"],
        "executor": "LocalExecutor",
        "parallelism": 2,
        "keep_runs": 1,
        "flexmail_requests_per_minute": 6000,
        "nights": list(nights),
    }


def test_scale_keys_and_the_rss_target_come_from_the_nights() -> None:
    results = {
        "night_sizes": [1_000_000, 10_000_000],
        "night": {
            "1m": _scenario(_night(1, 300.0, 250.0, 100.0, 100.0), _night(2, 200.0, 240.0, 150.0, 50.0)),
            "10m": _scenario(_night(1, 1500.0, 290.0, 1000.0, 1000.0)),
        },
    }
    found = figures(results)
    assert found["scale.night_1m_s"] == 300.0 and found["scale.night2_1m_s"] == 200.0
    assert found["scale.night_10m_s"] == 1500.0
    assert found["scale.rss_1m_mb"] == 250.0 and found["scale.rss_10m_mb"] == 290.0
    assert found["scale.disk_after_1m_mb"] == [100.0, 150.0]
    assert found["scale.disk_last_night_1m_mb"] == 50.0
    assert found["scale.disk_per_night_mb"] == 1000.0  # the largest size's first night
    target = rss_target(found)
    assert target.met and round(target.ratio, 2) == 1.16
    section = "\n".join(markdown(results))
    assert section.startswith("## Night at 1M / 10M: per list")
    assert (
        "| 10m | 1 | newsletter_nl | optimizely | 1,000 | 1.0 | 2.0 | 3.0 | 2.5 | 0.5 | 2.5 | 290.0/289.0/– |"
        in section
    )


def test_no_night_no_target() -> None:
    assert figures({"night_sizes": [], "night": {}}) == {}
    assert rss_target({"scale.rss_1m_mb": 250.0}) is None


def test_a_10m_night_run_alone_is_carried_into_a_full_run_without_one(tmp_path) -> None:
    """The 10M night runs on its own; the next full run's latest.json carries its figures and says
    where from. A night cut short (no whole first night) or a run with its own 10M night takes none."""
    alone = {
        "night_sizes": [10_000_000],
        "night": {"10m": _scenario(_night(1, 1500.0, 290.0, 1000.0, 1000.0))},
    }
    found = figures(alone)
    (tmp_path / "night_10m.json").write_text(
        json.dumps({**found, "detail": {"started_at": "2026-12-07T16:00:00+00:00", "git_sha": "abc1234"}})
    )
    full_run = {"scale.night_10m_s": None, "scale.rss_10m_mb": None, "scale.rss_1m_mb": 250.0}
    carried = carried_over(full_run, tmp_path)
    assert carried["scale.night_10m_s"] == 1500.0 and carried["scale.rss_10m_mb"] == 290.0
    assert "scale.rss_1m_mb" not in carried  # the full run's own 1M figure stays
    assert carried["scale.disk_per_night_mb"] == 1000.0  # the 10M night's, the largest size
    assert "2026-12-07T16:00:00+00:00" in carried["scale.night_10m_from"]
    target = rss_target({**full_run, **carried})
    assert target.met and round(target.ratio, 2) == 1.16
    assert carried_over({"scale.night_10m_s": 1400.0}, tmp_path) == {}
    (tmp_path / "night_10m.json").write_text(json.dumps({"scale.night_10m_s": None, "detail": {}}))
    assert carried_over(full_run, tmp_path) == {}
