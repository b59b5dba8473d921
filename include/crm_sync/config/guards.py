"""A list's guards: the checks that keep a broken extraction from emptying its platform list.

This module imports pydantic only: it runs at DAG parse time.
"""

from __future__ import annotations

from pydantic import Field

from include.crm_sync.config.common import Strict


class Guards(Strict):
    """Checks that keep a broken extraction from emptying a platform list (``force`` overrides)."""

    min_rows: int = Field(default=1, ge=0, description="fewest recipients a snapshot may have")
    max_drop_ratio: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="largest shrink allowed vs the largest of the last baseline_runs synced runs",
    )
    # The largest of several runs, not the last one: a list losing 45 % a night would pass a
    # 50 % guard every night against yesterday and be nearly empty by the third.
    baseline_runs: int = Field(
        default=7,
        ge=1,
        le=366,
        description="how many of the platform list's latest synced runs form the baseline",
    )
