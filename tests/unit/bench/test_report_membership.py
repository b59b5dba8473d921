"""The membership-sync rows of the benchmark report: keys, the time ratio's direction, and a run
that did not measure a platform leaving it out."""

from __future__ import annotations

from bench.report_membership import KEYS, PLATFORMS, flat, markdown, targets


def _night(n: int, sync_s: float, limit_s: float, calls: int, fewest: int, rss: float) -> dict:
    return {
        "night": n,
        "recipients": 1000,
        "extract_s": 1.0,
        "validate_s": 0.5,
        "sync_s": sync_s,
        "night_s": 1.5 + sync_s,
        "limit_s": limit_s,
        "calls": calls,
        "limit_calls": calls,
        "calls_min": fewest,
        "peak_rss_mb": rss,
        "report": {"members": 1000, "added": 10, "removed": 10, "upserted": 20},
    }


def _results(**platforms: tuple[float, float]) -> dict:
    results = {"sizes": [100_000, 1_000_000]}
    for name, (small_rss, big_rss) in platforms.items():
        results[name] = {
            "100k": {
                "nights": [_night(1, 4.0, 2.0, 12, 11, small_rss), _night(2, 1.0, 0.8, 3, 3, small_rss)]
            },
            "1m": {"nights": [_night(1, 40.0, 10.0, 120, 110, big_rss), _night(2, 2.0, 1.5, 5, 4, big_rss)]},
        }
    return results


def test_keys_and_rows_of_a_measured_platform() -> None:
    results = _results(spotler=(100.0, 110.0))
    figures = flat(results)
    assert set(figures) == {f"spotler.{key}" for key in KEYS}
    assert figures["spotler.calls"] == 125 and figures["spotler.calls_min"] == 114
    assert figures["spotler.rss_100k_mb"] == 100.0 and figures["spotler.rss_1m_mb"] == 110.0
    rows = {row.what.split(" (")[0]: row for row in targets(figures, results)}
    night1 = rows["Spotler night 1"]
    # the sync at 40 s against a 10 s limit reached a quarter of the limit: a share, higher is better
    assert night1.ratio == 0.25 and night1.ratio_text == "25%" and not night1.met
    assert rows["Spotler night 2"].ratio == 0.75 and rows["Spotler night 2"].met
    assert rows["Spotler calls vs minimum"].met  # 125 / 114 = 1.096
    assert rows["Spotler sync peak RSS, 1m vs 100k CRM"].met
    assert any("| Spotler | 1,000,000 | 2 |" in line for line in markdown(results))


def test_a_platform_not_measured_has_no_keys_no_rows() -> None:
    results = _results(mailjet=(100.0, 130.0))
    figures = flat(results)
    assert not any(key.startswith("spotler.") for key in figures)
    rows = targets(figures, results)
    assert {row.what.split(" ")[0] for row in rows} == {PLATFORMS["mailjet"]}
    assert not next(row for row in rows if "RSS" in row.what).met  # 1.3x
    assert markdown({"sizes": [1, 2]}) == []
