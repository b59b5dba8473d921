"""Fixtures for the Optimizely client tests: real HTTP against the emulator (``optimizely_emulator``,
registered in tests/conftest.py), clients with tiny retry waits, and a few readers of the
emulator's end state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from include.crm_sync.platforms.base import Recipient
from include.crm_sync.platforms.optimizely.client import OptimizelyCampaignClient
from include.crm_sync.platforms.optimizely.retry import RetryPolicy

#: retries without real waiting (tenacity still runs its schedule, just scaled down)
FAST_RETRY = RetryPolicy(max_attempts=4, initial_wait=0.001, max_wait=0.005, jitter=0.001)

LIST_ID = 1001
ATTRIBUTES = (
    "opt-in-id",
    "description",
    "media-type",
    "entity-type",
    "entity-id",
    "first-name",
    "last-name",
    "language",
    "city",
    "company",
)


def recipient(i: int, **overrides: str) -> Recipient:
    values = {
        "opt-in-id": "newsletter-nl",
        "description": f"contact {i}",
        "media-type": "email",
        "entity-type": "contact",
        "entity-id": f"C{i:07d}",
        "first-name": f"Vorname{i}",
        "last-name": f"Nachname{i}",
        "language": "nl",
        "city": "Utrecht",
        "company": "ACME",
    }
    values.update({k.replace("_", "-"): v for k, v in overrides.items() if k not in ("rid", "email")})
    return Recipient(
        overrides.get("rid", f"C{i:07d}"),
        overrides.get("email", f"user{i}@example.com"),
        tuple(values[name] for name in ATTRIBUTES),
    )


def recipients(n: int, start: int = 0) -> Iterator[Recipient]:
    """A lazy stream (a generator, so add_all cannot rely on len())."""
    return (recipient(i) for i in range(start, start + n))


def emulator_calls(emulator, operation: str = "Recipient.addAll3") -> int:
    return emulator.control.state()["calls"].get(operation, 0)


def list_contents(emulator, list_id: int = LIST_ID) -> dict[str, dict]:
    """recipient id -> {"email", "attributes" (the non-empty ones), ...} as the emulator holds them."""
    document = emulator.control.recipients(list_id)
    return {r["recipient_id"]: r for r in document["recipients"]}


@pytest.fixture
def make_client(optimizely_emulator):
    made: list[OptimizelyCampaignClient] = []

    def make(**options) -> OptimizelyCampaignClient:
        options.setdefault("retry_policy", FAST_RETRY)
        options.setdefault("timeout", 10)
        client = OptimizelyCampaignClient(
            options.pop("base_url", optimizely_emulator.base_url),
            options.pop("mandator_id", 1),
            options.pop("user", "demo"),
            options.pop("password", "demo"),
            **options,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
