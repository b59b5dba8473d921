"""Pure encoding helpers of the generator: COPY text, timestamp text, slugs, row shapes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from include.crm_sync.generate import wordlists
from include.crm_sync.generate.model import (
    CONSENT_COLUMNS,
    CONSENT_TYPE_COLUMNS,
    ENTITY_COLUMNS,
    GENERATED_TABLES,
    MARKETING_LIST_COLUMNS,
    MEMBER_COLUMNS,
)
from include.crm_sync.generate.timestamps import epoch_seconds, timestamp_text
from include.crm_sync.generate.writers import copy_text
from include.crm_sync.staging.tables import metadata


@pytest.mark.parametrize(
    "table, columns",
    [
        ("crm_entity", ENTITY_COLUMNS),
        ("crm_consent", CONSENT_COLUMNS),
        ("crm_marketing_list_member", MEMBER_COLUMNS),
        ("crm_consent_type", CONSENT_TYPE_COLUMNS),
        ("crm_marketing_list", MARKETING_LIST_COLUMNS),
    ],
)
def test_row_shapes_cover_every_column_of_their_table(table, columns):
    assert list(columns) == [c.name for c in metadata.tables[table].columns]


def test_generated_tables_are_listed_parents_first():
    position = {name: i for i, name in enumerate(GENERATED_TABLES)}
    for name in GENERATED_TABLES:
        for fk in metadata.tables[name].foreign_keys:
            assert position[fk.column.table.name] < position[name], (name, fk.target_fullname)


def _parse_copy(text: str) -> list[tuple]:
    """A reference decoder of PostgreSQL's COPY text format."""
    unescape = {"\\\\": "\\", "\\t": "\t", "\\n": "\n", "\\r": "\r"}
    rows = []
    for line in text.split("\n")[:-1]:
        fields = []
        for field in line.split("\t"):
            if field == "\\N":
                fields.append(None)
                continue
            out, i = [], 0
            while i < len(field):
                if field[i] == "\\":
                    out.append(unescape[field[i : i + 2]])
                    i += 2
                else:
                    out.append(field[i])
                    i += 1
            fields.append("".join(out))
        rows.append(tuple(fields))
    return rows


def test_copy_text_fast_path():
    rows = [("a", None, "Müller 中文"), ("", "x y", None)]
    assert copy_text(rows, 3) == "a\t\\N\tMüller 中文\n\tx y\t\\N\n"


def test_copy_text_of_no_rows_is_empty():
    assert copy_text([], 3) == ""


@given(st.lists(st.tuples(*[st.none() | st.text()] * 3), min_size=1, max_size=20))
def test_copy_text_round_trips_any_text(rows):
    assert _parse_copy(copy_text(rows, 3)) == rows


def test_timestamp_text_matches_datetime_formatting():
    moment = datetime(2025, 6, 1, 23, 59, 59, tzinfo=UTC)
    for delta in (timedelta(0), timedelta(days=-3650, seconds=1), timedelta(days=-1, hours=-7)):
        m = moment + delta
        assert timestamp_text(epoch_seconds(m)) == m.strftime("%Y-%m-%d %H:%M:%S.000000")
    with pytest.raises(ValueError):
        epoch_seconds(datetime(2025, 1, 1))


@pytest.mark.parametrize(
    "word, expected",
    [
        ("Müller-Lüdenscheidt", "muellerluedenscheidt"),
        ("'s Gravensande", "sgravensande"),
        ("Weiß", "weiss"),
        ("Łukasz", "lukasz"),
        ("Hélène", "helene"),
    ],
)
def test_slug_makes_ascii_local_parts(word, expected):
    assert wordlists.slug(word) == expected


def test_slug_of_chinese_name_is_pinyin_like():
    assert wordlists.slug("王").isascii() and wordlists.slug("王").isalpha()


def test_word_lists_are_sorted_unique_and_safe():
    for pool in wordlists.name_pools().values():
        for words in (pool.first, pool.last):
            assert list(words) == sorted(set(words))
            assert not any(set(w) & set('\t\n\r\\",') for w in words)
        assert all(s.isascii() and s.isalnum() for s in pool.first_slug + pool.last_slug)
