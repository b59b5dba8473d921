"""Model-based test: random sequences of member adds, removals (with a body) and empties on two
audiences, over real HTTP, always leave each audience with exactly the members a plain set model
predicts; calls on one audience never touch the other."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from tests.integration.emulator_spotler.conftest import Api, make_contacts

POOL = [f"p{i}" for i in range(30)]
AUDIENCES = ("a1", "a2")
ids = st.lists(st.sampled_from(POOL), min_size=1, max_size=12)
audience = st.sampled_from(AUDIENCES)


def test_members_follow_the_set_model(spotler):
    class Members(RuleBasedStateMachine):
        @initialize()
        def fresh(self) -> None:
            spotler.control.reset()
            make_contacts(spotler, len(POOL), prefix="p")
            self.api = Api(spotler.api_url)
            for external_id in AUDIENCES:
                assert self.api.create_audience(external_id).status_code == 200
            self.model: dict[str, set[str]] = {a: set() for a in AUDIENCES}

        @rule(which=audience, contacts=ids)
        def add(self, which: str, contacts: list[str]) -> None:
            assert self.api.post(f"/audience/{which}/contact", {"contacts": contacts}).status_code == 204
            self.model[which] |= set(contacts)

        @rule(which=audience, contacts=ids)
        def remove(self, which: str, contacts: list[str]) -> None:
            assert self.api.delete(f"/audience/{which}/contact", {"contacts": contacts}).status_code == 204
            self.model[which] -= set(contacts)

        @rule(which=audience)
        def empty(self, which: str) -> None:
            assert self.api.delete(f"/audience/{which}/contact").status_code == 204
            self.model[which] = set()

        @rule(which=audience, contacts=ids)
        def add_with_an_unknown_id_changes_nothing(self, which: str, contacts: list[str]) -> None:
            response = self.api.post(f"/audience/{which}/contact", {"contacts": [*contacts, "ghost"]})
            assert response.status_code == 404 and response.json()["externalContactIds"] == ["ghost"]

        @invariant()
        def members_match_the_model(self) -> None:
            if not hasattr(self, "model"):
                return
            for external_id in AUDIENCES:
                members = spotler.control.members(external_id)
                assert len(members) == len(set(members))
                assert set(members) == self.model[external_id]

    run_state_machine_as_test(
        Members,
        settings=settings(
            max_examples=20,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        ),
    )
