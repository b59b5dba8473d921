"""Realistic, deterministic CRM test data for the staging database.

    python -m include.crm_sync.generate --contacts 1000000 --seed 42 --url postgresql://...

or from Python (tests, benchmarks)::

    from include.crm_sync.generate import generate
    summary = generate(url, contacts=10_000, seed=42)

Modules: ``model`` (spec, row shapes, reference data), ``wordlists`` (names, cities, domains),
``timestamps`` (fast timestamp text), ``people`` (deterministic rows), ``writers`` (COPY / bulk
INSERT), ``pipeline`` (chunks, generated in a child process while this one writes), ``load``
(``generate``: checks, the one transaction, progress), ``__main__`` (the CLI).
"""

from include.crm_sync.generate.load import StagingNotEmptyError, StagingNotReadyError, generate
from include.crm_sync.generate.model import DEFAULT_AS_OF, GenerationSpec, GenerationSummary
from include.crm_sync.generate.people import iter_blocks

__all__ = [
    "DEFAULT_AS_OF",
    "GenerationSpec",
    "GenerationSummary",
    "StagingNotEmptyError",
    "StagingNotReadyError",
    "generate",
    "iter_blocks",
]
