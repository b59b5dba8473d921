"""The stream of encoded chunks to write: generated in a child process, or in this one.

Row generation is pure Python and keeps one core busy; the database work (driver, and for
PostgreSQL the server) needs another. A child process that generates and encodes chunks while
this process writes the previous ones overlaps the two -- on a 2-core machine that is most of the
difference between "a minute" and "half a minute". The output is identical either way: the same
blocks in the same order; only where the CPU work happens changes.

The child is started with ``spawn`` (no forking of a process that may hold threads and locks), is
fed back through a bounded queue (at most a few chunks in memory), reports its own failure as a
traceback, and is terminated if the writer fails first. Where a child cannot be started (e.g.
inside a daemonic worker process) generation falls back to this process.
"""

from __future__ import annotations

import logging
import marshal
import multiprocessing
import queue as queue_module
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from include.crm_sync.generate.model import (
    CONSENT_COLUMNS,
    ENTITY_COLUMNS,
    MEMBER_COLUMNS,
    Block,
    GenerationSpec,
)
from include.crm_sync.generate.people import iter_blocks
from include.crm_sync.generate.writers import writer_class

log = logging.getLogger(__name__)

_QUEUE_CHUNKS = 2  # chunks the child may run ahead of the writer
_POLL_SECONDS = 1.0


@dataclass(frozen=True)
class EncodedChunk:
    """One chunk's rows per table, already encoded for the target dialect's writer."""

    entities: Any
    consents: Any
    members: Any
    counts: tuple[int, int, int]  # rows in entities, consents, members


@dataclass(frozen=True)
class _ChildFailure:
    traceback: str


def chunks(blocks: Iterable[Block], chunk_size: int) -> Iterator[Block]:
    """Whole blocks merged until a chunk holds at least ``chunk_size`` entities (or blocks run out)."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    pending = Block()
    for block in blocks:
        pending.extend(block)
        if len(pending.entities) >= chunk_size:
            yield pending
            pending = Block()
    if len(pending):
        yield pending


def encoded_chunks(
    spec: GenerationSpec, chunk_size: int, encode: Callable[..., Any]
) -> Iterator[EncodedChunk]:
    """The data set as encoded chunks, generated in this process."""
    for chunk in chunks(iter_blocks(spec), chunk_size):
        yield EncodedChunk(
            encode(chunk.entities, len(ENTITY_COLUMNS)),
            encode(chunk.consents, len(CONSENT_COLUMNS)),
            encode(chunk.members, len(MEMBER_COLUMNS)),
            (len(chunk.entities), len(chunk.consents), len(chunk.members)),
        )


def _child_main(spec: GenerationSpec, chunk_size: int, dialect: str, out: Any) -> None:
    """Entry point of the generator process: every chunk into ``out``, then None (or a failure)."""
    try:
        for chunk in encoded_chunks(spec, chunk_size, writer_class(dialect).encode):
            # marshal, not the queue's pickle: twice as fast for lists of tuples of str, and both
            # ends are the same interpreter. The queue then only pickles one bytes object.
            out.put(marshal.dumps((chunk.entities, chunk.consents, chunk.members, chunk.counts)))
        out.put(None)
    except BaseException:  # report anything, even KeyboardInterrupt, instead of dying silently
        out.put(_ChildFailure(traceback.format_exc()))


def _drain(process: Any, source: Any) -> Iterator[EncodedChunk]:
    while True:
        try:
            item = source.get(timeout=_POLL_SECONDS)
        except queue_module.Empty:
            if process.is_alive():
                continue
            try:  # it may have sent its last item just before exiting
                item = source.get(timeout=_POLL_SECONDS)
            except queue_module.Empty:
                raise RuntimeError(f"the generator process died (exit code {process.exitcode})") from None
        if item is None:
            return
        if isinstance(item, _ChildFailure):
            raise RuntimeError(f"the generator process failed:\n{item.traceback}")
        yield EncodedChunk(*marshal.loads(item))


@contextmanager
def chunk_stream(
    spec: GenerationSpec, chunk_size: int, dialect: str, *, parallel: bool
) -> Iterator[Iterator[EncodedChunk]]:
    """Encoded chunks for ``dialect``; from a child process when ``parallel`` (and possible)."""
    encode = writer_class(dialect).encode
    if not parallel:
        yield encoded_chunks(spec, chunk_size, encode)
        return
    context = multiprocessing.get_context("spawn")
    source = context.Queue(maxsize=_QUEUE_CHUNKS)
    process = context.Process(
        target=_child_main, args=(spec, chunk_size, dialect, source), name="crm-sync-generate", daemon=True
    )
    try:
        process.start()
    except (AssertionError, OSError) as exc:  # AssertionError: "daemonic processes are not allowed..."
        log.warning("Generating in this process (cannot start a generator process: %s)", exc)
        source.close()
        yield encoded_chunks(spec, chunk_size, encode)
        return
    try:
        yield _drain(process, source)
        process.join()
    finally:
        if process.is_alive():  # the writer failed or stopped early: the child is ours to end
            process.terminate()
            process.join()
        source.close()
