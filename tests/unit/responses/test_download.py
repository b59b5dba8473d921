"""Atomic landing and the byte facts taken on the way (fake SFTP clients; the real server is in
tests/integration/responses)."""

from __future__ import annotations

import hashlib
import io
import itertools
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from include.crm_sync.responses.download import ByteScanner, download, fingerprint, scan_file
from include.crm_sync.responses.errors import DownloadError
from include.crm_sync.responses.remote import RemoteFile, list_remote_files

NOW = datetime(2026, 3, 1, tzinfo=UTC)


class FakeClient:
    def __init__(self, data: bytes, fail_after: int | None = None, exc: Exception | None = None) -> None:
        self.data, self.fail_after, self.exc = data, fail_after, exc

    def open(self, path, mode="r", bufsize=-1):
        client = self

        class Handle(io.BytesIO):
            def read(self, n=-1):
                if client.fail_after is not None and self.tell() + n > client.fail_after:
                    raise client.exc or EOFError("Server connection dropped")
                return super().read(n)

        return Handle(self.data)


def remote(size: int, name: str = "responses_1.csv") -> RemoteFile:
    return RemoteFile(name, f"/responses/{name}", size, NOW)


def test_a_complete_download_is_renamed_into_place_with_its_facts(tmp_path):
    data = b"header\n" + b"row\n" * 300_000
    facts = download(FakeClient(data), remote(len(data)), tmp_path)
    assert (tmp_path / "responses_1.csv").read_bytes() == data
    assert (facts.size, facts.sha256, facts.ends_with_newline, facts.bad_utf8_line) == (
        len(data),
        hashlib.sha256(data).hexdigest(),
        True,
        None,
    )
    assert [p.name for p in tmp_path.iterdir()] == ["responses_1.csv"]


@pytest.mark.parametrize(
    "client, message",
    [
        (FakeClient(b"x" * 5_000_000, fail_after=3_000_000), "download failed after"),
        (
            FakeClient(b"x" * 5_000_000, fail_after=10, exc=OSError("Socket is closed")),
            "download failed after 0",
        ),
        (FakeClient(b"x" * 100), "received 100 bytes but the server listed 200"),
        (FakeClient(b"x" * 300), "received 300 bytes but the server listed 200"),
    ],
)
def test_a_failed_download_leaves_no_file_behind(tmp_path, client, message):
    size = 200 if len(client.data) in (100, 300) else len(client.data)
    with pytest.raises(DownloadError, match=message):
        download(client, remote(size), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_older_landed_copy_is_replaced_atomically(tmp_path):
    (tmp_path / "responses_1.csv").write_bytes(b"old\n")
    download(FakeClient(b"new content\n"), remote(12), tmp_path)
    assert (tmp_path / "responses_1.csv").read_bytes() == b"new content\n"


def reference_bad_line(data: bytes) -> int | None:
    for number, line in enumerate(data.split(b"\n"), 1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return number
    return None


@given(
    text=st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=200),
    junk=st.sampled_from([b"", b"\xff", b"\xc3", b"\xe9t\xe9", b"\xed\xa0\x80"]),
    position=st.integers(0, 200),
    cuts=st.lists(st.integers(0, 400), max_size=6),
)
def test_the_scanner_finds_the_first_line_that_is_not_utf8_across_block_boundaries(
    text, junk, position, cuts
):
    raw = text.encode("utf-8")
    cut = min(position, len(raw))
    while cut < len(raw) and (raw[cut] & 0xC0) == 0x80:  # do not split a character of the valid text
        cut += 1
    data = raw[:cut] + junk + raw[cut:]
    scanner = ByteScanner()
    bounds = sorted({0, len(data), *(min(c, len(data)) for c in cuts)})
    for start, end in itertools.pairwise(bounds):
        scanner.update(data[start:end])
    facts = scanner.facts()
    assert facts.bad_utf8_line == reference_bad_line(data)
    assert facts.size == len(data) and facts.sha256 == hashlib.sha256(data).hexdigest()
    assert facts.ends_with_newline == data.endswith(b"\n")


def test_scan_file_matches_the_download_facts(tmp_path):
    data = "h\ncafé\n".encode()
    facts = download(FakeClient(data), remote(len(data)), tmp_path)
    assert scan_file(tmp_path / "responses_1.csv") == facts


def test_the_listing_keeps_matching_regular_files_oldest_first():
    def attr(name, size, mtime, mode=0o100644):
        return SimpleNamespace(filename=name, st_size=size, st_mtime=mtime, st_mode=mode)

    class Lister:
        def listdir_attr(self, path):
            assert path == "/responses"
            return [
                attr("responses_b.csv", 10, 200),
                attr("responses_a.csv", 5, 300),
                attr("other.txt", 1, 1),
                attr(".responses_c.csv.tmp", 1, 1),
                attr("responses_dir.csv", 0, 1, mode=0o040755),
                attr("responses_0.csv", 7, 200),
            ]

    files = list_remote_files(Lister(), "/responses", "responses_*.csv")
    assert [(f.name, f.path, f.size) for f in files] == [
        ("responses_0.csv", "/responses/responses_0.csv", 7),
        ("responses_b.csv", "/responses/responses_b.csv", 10),
        ("responses_a.csv", "/responses/responses_a.csv", 5),
    ]
    assert (
        files[0].modified_at == datetime.fromtimestamp(200, tz=UTC)
        and files[0].source == "sftp:/responses/responses_0.csv"
    )


def test_scanner_of_an_empty_file():
    facts = ByteScanner().facts()
    assert (facts.size, facts.ends_with_newline, facts.bad_utf8_line) == (0, False, None)


def test_fake_client_sanity(tmp_path: Path):
    assert FakeClient(b"abc").open("x").read(2) == b"ab"


def test_fingerprint_reads_the_remote_bytes_without_landing_them(tmp_path, monkeypatch):
    data = b"header\n" + b"row\n" * 1000
    monkeypatch.chdir(tmp_path)
    facts = fingerprint(FakeClient(data), remote(len(data)))
    assert facts == download(FakeClient(data), remote(len(data)), tmp_path / "landed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["landed"]
    with pytest.raises(DownloadError, match="received 100 bytes but the server listed 200"):
        fingerprint(FakeClient(b"x" * 100), remote(200))
