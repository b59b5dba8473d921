"""The header check of an imported CSV file: exactly the expected columns, in any order, each once.

Both imports refuse a file whose header is wrong as a whole, naming every problem at once; each
wraps the problems in its own error (file and line 1).
"""

from __future__ import annotations

from collections.abc import Sequence

BOM = "\ufeff"


def header_problems(header: Sequence[str], expected: Sequence[str], bom_advice: str) -> list[str]:
    """What is wrong with ``header`` (empty when nothing); ``bom_advice`` completes the BOM problem."""
    problems = []
    if header and header[0].startswith(BOM):
        problems.append(f"it starts with a byte-order mark ({bom_advice})")
        header = [header[0].removeprefix(BOM), *header[1:]]
    missing = [c for c in expected if c not in header]
    extra = [c for c in header if c not in expected]
    repeated = sorted({c for c in header if header.count(c) > 1})
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected column(s) {', '.join(repr(c[:40]) for c in extra)}")
    if repeated:
        problems.append(f"repeated column(s) {', '.join(repeated)}")
    return problems
