"""The COPY text serialisation both imports stage their rows with (``staging.dml``), no database:
NULL, numbers and every character COPY's text format treats specially."""

from __future__ import annotations

from include.crm_sync.staging.dml import _copy_text_column


def test_plain_strings_pass_unchanged():
    assert _copy_text_column(["a", "", "b c"]) == ["a", "", "b c"]


def test_none_is_copy_null_and_numbers_are_text():
    assert _copy_text_column([None, 7, "x"]) == ["\\N", "7", "x"]


def test_special_characters_are_escaped_and_a_literal_backslash_n_is_not_null():
    assert _copy_text_column(["a\\b", "\\N", "t\tab", "new\nline", "cr\r", None]) == [
        "a\\\\b",
        "\\\\N",
        "t\\tab",
        "new\\nline",
        "cr\\r",
        "\\N",
    ]
