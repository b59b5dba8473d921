"""Settings file validation, counts, re-import ranges."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from include.crm_sync.responses import (
    ReimportRange,
    ResponseConfigError,
    ResponseCountError,
    ResponseCounts,
    load_response_settings,
)
from include.crm_sync.responses.remote import RemoteFile
from include.crm_sync.responses.settings import DEFAULT_SETTINGS_PATH


def test_the_shipped_settings_load():
    settings = load_response_settings(DEFAULT_SETTINGS_PATH)
    assert settings.remote_dir == "/responses" and settings.after_import == "keep"
    assert 14 <= settings.file_lifetime_days <= 30
    assert settings.export_name == "optimizely:response_files"


@pytest.mark.parametrize(
    "text, message",
    [
        ("remote_dir: responses\n", "field 'remote_dir': Value error, must be an absolute remote path"),
        ("file_lifetime_days: 45\n", "field 'file_lifetime_days'"),
        ("after_import: move\n", "after_import: move needs move_to"),
        ("after_import: shred\n", "field 'after_import'"),
        ("mailing_campaigns: {'7001': ''}\n", "mailing 7001: empty CRM campaign id"),
        ("remote_dirs: /x\n", "field 'remote_dirs': Extra inputs are not permitted"),
        ("- a\n- b\n", "expected a mapping"),
        ("a: [\n", "not valid YAML"),
    ],
)
def test_bad_settings_name_the_file_and_field(tmp_path, text, message):
    path = tmp_path / "response_import.yaml"
    path.write_text(text)
    with pytest.raises(ResponseConfigError, match=message) as error:
        load_response_settings(path)
    assert str(path) in str(error.value)


def test_settings_path_from_the_environment(tmp_path, monkeypatch):
    path = tmp_path / "other.yaml"
    path.write_text("remote_dir: /out/responses\nmailing_campaigns: {7001: CMP-1}\n")
    monkeypatch.setenv("CRM_SYNC_RESPONSE_CONFIG", str(path))
    settings = load_response_settings()
    assert settings.remote_dir == "/out/responses" and settings.mailing_campaigns == {"7001": "CMP-1"}


def test_counts_add_up_or_refuse():
    counts = ResponseCounts(10, 4, 2, 3, 1, {"no CRM campaign": 3}, {"unknown recipient": 1})
    assert counts.check("f.csv") is counts
    assert (counts + counts).as_dict()["ignored_by_reason"] == {"no CRM campaign": 6}
    with pytest.raises(ResponseCountError, match="f.csv: counts do not add up"):
        ResponseCounts(10, 4, 2, 3, 0).check("f.csv")
    with pytest.raises(ResponseCountError):
        ResponseCounts(4, 4, 0, 0, 0, {"no CRM campaign": 1}).check("f.csv")  # reasons must add up too


def test_reimport_range_covers_the_files_of_its_days():
    days = ReimportRange(date(2026, 3, 1), date(2026, 3, 2))

    def at(ts):
        return RemoteFile("r.csv", "/r.csv", 1, datetime.fromisoformat(ts).replace(tzinfo=UTC))

    assert days.covers(at("2026-03-01T00:00:00")) and days.covers(at("2026-03-02T23:59:59"))
    assert not days.covers(at("2026-02-28T23:59:59")) and not days.covers(at("2026-03-03T00:00:00"))
    with pytest.raises(ValueError, match="is after"):
        ReimportRange(date(2026, 3, 2), date(2026, 3, 1))
