"""The generator process: same chunks as in-process, failures surface, and it never outlives us."""

from __future__ import annotations

import multiprocessing

import pytest

from include.crm_sync.generate.model import GenerationSpec
from include.crm_sync.generate.pipeline import chunk_stream

SPEC = GenerationSpec(2_100, seed=13)


def test_child_process_yields_exactly_the_in_process_chunks():
    """(Both dialects' encodings go through the child in tests/integration/staging too.)"""
    with chunk_stream(SPEC, 1_000, "sqlite", parallel=False) as stream:
        expected = list(stream)
    with chunk_stream(SPEC, 1_000, "sqlite", parallel=True) as stream:
        got = list(stream)
    assert got == expected and len(got) == 3
    assert multiprocessing.active_children() == []


def test_a_failure_in_the_child_is_raised_with_its_traceback():
    with pytest.raises(RuntimeError, match=r"generator process failed:(.|\n)*chunk_size must be >= 1"):
        with chunk_stream(SPEC, 0, "sqlite", parallel=True) as stream:
            list(stream)
    assert multiprocessing.active_children() == []


def test_the_child_is_ended_when_the_writer_stops_early():
    with pytest.raises(KeyError):
        with chunk_stream(GenerationSpec(50_000, seed=1), 1_000, "sqlite", parallel=True) as stream:
            next(stream)
            raise KeyError("writer failed")
    assert multiprocessing.active_children() == []
