"""The shared token bucket on a fake clock: no 60-second window ever holds more than the limit,
whatever the pattern of demand (hypothesis), and a waiting taker waits no longer than needed."""

from __future__ import annotations

import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from include.crm_sync.platforms.flexmail.rate_limit import TokenBucket
from include.crm_sync.staging.engine import create_staging_engine


class FakeClock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture(scope="module")
def engine(sqlite_template, tmp_path_factory):
    path = tmp_path_factory.mktemp("bucket") / "staging.db"
    shutil.copyfile(sqlite_template, path)
    engine = create_staging_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


def busiest(times: list[float]) -> int:
    best, start = 0, 0
    for end, moment in enumerate(times):
        while times[start] <= moment - 60:
            start += 1
        best = max(best, end - start + 1)
    return best


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    gaps=st.lists(st.floats(min_value=0, max_value=90), min_size=1, max_size=80),
    rpm=st.integers(min_value=2, max_value=60),
    burst=st.integers(min_value=1, max_value=5),
    key=st.uuids(),
)
def test_no_window_exceeds_the_limit(engine, gaps, rpm, burst, key):
    if burst >= rpm:
        burst = 1
    clock = FakeClock()
    limiter = TokenBucket(
        engine, str(key), requests_per_minute=rpm, burst=burst, clock=clock.now, sleep=clock.sleep
    )
    taken = []
    for gap in gaps:  # demand arrives after idle gaps; every request is admitted eventually
        clock.sleep(gap)
        limiter.acquire()
        taken.append(clock.now())
    assert busiest(taken) <= rpm


def test_steady_demand_runs_at_the_refill_rate(engine):
    clock = FakeClock()
    limiter = TokenBucket(
        engine, "steady", requests_per_minute=60, burst=1, clock=clock.now, sleep=clock.sleep
    )
    start = clock.now()
    for _ in range(119):
        limiter.acquire()
    # 1 token at the start, then 59 a minute: the 119th request goes out after exactly two minutes
    assert clock.now() - start == pytest.approx(120.0, abs=1e-6)
