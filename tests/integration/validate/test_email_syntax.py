"""The e-mail rule means the same in Python, in the extraction SQL and in the GX expectation."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from include.crm_sync.extract.queries import email_check_sql
from include.crm_sync.staging import tables as t
from include.crm_sync.validate.email_syntax import (
    EMAIL_MAX_LENGTH,
    EMAIL_REGEX,
    is_valid_email,
    normalize_email,
)
from include.crm_sync.validate.expectations import ExpectationSpec
from include.crm_sync.validate.gx_runner import run_expectations
from include.crm_sync.validate.report import QUALITY
from tests.integration.extract.crm_state import NOW

VALID = [
    "a@b.cc",
    "jane.doe@example.com",
    "o'neil+tag@mail.example.co.uk",
    "x_y-z@sub-domain.example.org",
    "!#$%&'*+/=?^_`{|}~-@example.com",
    "digits123@123.example.com",
    "a" * 64 + "@example.com",
    "a@" + "b" * 63 + ".com",
    "a@" + "b" * 248 + ".com",  # 254 characters: the longest allowed
]
INVALID = [
    "",
    " ",
    "plain",
    "@example.com",
    "a@",
    "a@b",
    "a@b.c",
    "a@b.c0m",
    "a@@b.com",
    "a@b@c.com",
    ".a@b.com",
    "a.@b.com",
    "a..b@c.com",
    "a@-b.com",
    "a@b-.com",
    "a@b..com",
    "a@.b.com",
    "a b@c.com",
    "a@b.com ",
    " a@b.com",
    "a@b.com\n",
    "a\n@b.com",
    "a@b.com\t",
    "A@b.com",
    "a@B.com",  # not normalised
    "üser@example.com",
    "user@exämple.com",
    "中文@example.com",  # not ASCII
    "a@[1.2.3.4]",
    "a@1.2.3.4",
    '"quoted"@example.com',
    "a(comment)@example.com",
    "a,b@example.com",
    "a@b_c.com",
    "a@" + "b" * 249 + ".com",  # 255 characters
]


@pytest.mark.parametrize("address", VALID)
def test_valid(address: str) -> None:
    assert is_valid_email(address)


@pytest.mark.parametrize("address", INVALID)
def test_invalid(address: str) -> None:
    assert not is_valid_email(address)


def test_normalize_is_lower_trim_of_spaces() -> None:
    assert normalize_email("  Jane.Doe@Example.COM ") == "jane.doe@example.com"
    assert normalize_email("   ") is None and normalize_email(None) is None
    assert normalize_email("a@b.com\n") == "a@b.com\n"  # only spaces are trimmed, like SQL trim()


def test_the_database_applies_the_same_rule(staging_engine: sa.Engine) -> None:
    # The exact predicate the extraction query uses, evaluated by the database itself.
    predicate = email_check_sql(staging_engine.dialect.name).replace("e.email_normalized", ":address")
    with staging_engine.connect() as conn:
        for address in VALID + INVALID:
            matched = conn.execute(
                sa.text(f"SELECT CASE WHEN {predicate} THEN 1 ELSE 0 END"),
                {
                    "address": address,
                    "sys_email_regex": EMAIL_REGEX,
                    "sys_email_max_length": EMAIL_MAX_LENGTH,
                },
            ).scalar_one()
            assert bool(matched) is is_valid_email(address), repr(address)


def test_great_expectations_applies_the_same_rule(staging_engine: sa.Engine) -> None:
    # The cases go into a snapshot table like real rows (GX's SQL rendering cannot take data with
    # '?' inlined into the query text; the real query never carries data).
    cases = VALID + INVALID
    with staging_engine.begin() as conn:
        conn.execute(sa.insert(t.sync_run).values(run_id="r", status="running", started_at=NOW))
        list_run_id = conn.execute(
            sa.insert(t.list_run)
            .values(
                run_id="r",
                list_name="cases",
                platform="optimizely",
                platform_list_id="1",
                optin_process_id="1",
                consent_id="newsletter",
                attribute_names=[],
                status="extracted",
                started_at=NOW,
            )
            .returning(t.list_run.c.list_run_id)
        ).scalar_one()
        conn.execute(
            sa.insert(t.list_snapshot),
            [
                dict(list_run_id=list_run_id, seq=i, recipient_id=f"R{i}", email=a, attr_values=[])
                for i, a in enumerate(cases)
            ],
        )
    specs = [
        ExpectationSpec(
            "syntax",
            QUALITY,
            "syntax",
            "ExpectColumnValuesToMatchRegex",
            {"column": "email", "regex": EMAIL_REGEX},
        ),
        ExpectationSpec(
            "length",
            QUALITY,
            "length",
            "ExpectColumnValueLengthsToBeBetween",
            {"column": "email", "max_value": EMAIL_MAX_LENGTH},
        ),
    ]
    query = f"SELECT email FROM list_snapshot WHERE list_run_id = {list_run_id:d}"
    syntax, length = run_expectations(staging_engine, query, specs)
    # The over-long address is flagged by the length rule only; every other invalid one by syntax.
    assert length.unexpected_count == 1
    assert syntax.unexpected_count == len(INVALID) - 1
