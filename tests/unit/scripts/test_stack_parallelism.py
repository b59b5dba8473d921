"""`make ui` / the e2e stack size Airflow's task parallelism to the machine, not Airflow's 32."""

from __future__ import annotations

import os

import pytest

from scripts.local_stack import PARALLELISM_ENV, LocalAirflowStack, default_parallelism


def _stack(tmp_path, **kwargs) -> LocalAirflowStack:
    return LocalAirflowStack(home=tmp_path, metadata_url=f"sqlite:///{tmp_path}/airflow.db", **kwargs)


def test_parallelism_follows_the_cpus_this_process_may_use(tmp_path, monkeypatch):
    monkeypatch.delenv(PARALLELISM_ENV, raising=False)
    cpus = len(os.sched_getaffinity(0))
    assert default_parallelism() == max(2, cpus)
    assert _stack(tmp_path).env["AIRFLOW__CORE__PARALLELISM"] == str(max(2, cpus))


def test_parallelism_is_overridden_by_the_environment_or_the_argument(tmp_path, monkeypatch):
    monkeypatch.setenv(PARALLELISM_ENV, "3")
    assert _stack(tmp_path).env["AIRFLOW__CORE__PARALLELISM"] == "3"
    assert _stack(tmp_path, parallelism=5).env["AIRFLOW__CORE__PARALLELISM"] == "5"


@pytest.mark.parametrize("bad", ["0", "-1", "many"])
def test_a_bad_override_is_refused_with_its_name(monkeypatch, bad):
    monkeypatch.setenv(PARALLELISM_ENV, bad)
    with pytest.raises(ValueError, match=PARALLELISM_ENV):
        default_parallelism()
