"""Exact-name matching of interest labels, and the closest label named when a name misses."""

from __future__ import annotations

import pytest

from include.crm_sync.platforms.flexmail.labels import closest_label, match_labels

ACCOUNT = {"Honden": 101, "Katten": 102, "Nieuwsbrief": 103, "Vogels & vissen": 104}


def test_exact_names_match():
    found, missing = match_labels({"dogs": "Honden", "news": "Nieuwsbrief"}, ACCOUNT)
    assert found == {"dogs": 101, "news": 103} and missing == {}


@pytest.mark.parametrize(
    ("configured", "closest"),
    [
        ("honden", "Honden"),  # case
        ("Honden ", "Honden"),  # a trailing space
        (" Katten", "Katten"),
        ("Niéuwsbrief", "Nieuwsbrief"),  # an accent
        ("Vogels  &  vissen", "Vogels & vissen"),  # inner spaces
        ("Hondjes", "Honden"),  # a near miss
    ],
)
def test_near_misses_fail_naming_list_name_and_closest(configured, closest):
    found, missing = match_labels({"dogs": configured}, ACCOUNT)
    assert found == {}
    mismatch = missing["dogs"]
    assert mismatch.closest == closest
    assert (
        "'dogs'" in mismatch.message
        and repr(configured) in mismatch.message
        and repr(closest) in mismatch.message
    )


def test_no_labels_at_all():
    assert closest_label("Honden", []) is None
    _, missing = match_labels({"dogs": "Honden"}, {})
    assert "no labels" in missing["dogs"].message
