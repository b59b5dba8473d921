"""The ``platform: flexmail`` list block: the label name is kept exactly as written, the platform is
behind the SUPPORTED_PLATFORMS switch, and two lists may not write the same label."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from include.crm_sync.config import registry
from include.crm_sync.config.models import ListsConfig


def lists(*labels: str) -> dict:
    return {
        "lists": [
            {
                "name": f"pets_{i}",
                "platform": "flexmail",
                "interest_label": label,
                "consent": "pets",
                "selection": {"filter": {}},
            }
            for i, label in enumerate(labels)
        ]
    }


@pytest.fixture
def flexmail_enabled(monkeypatch):
    monkeypatch.setattr(registry, "SUPPORTED_PLATFORMS", registry.SUPPORTED_PLATFORMS | {"flexmail"})


def test_label_name_kept_exactly(flexmail_enabled):
    [item] = ListsConfig.model_validate(lists(" Hónden ")).lists
    assert item.platform_list_id == " Hónden " and item.interest_label == " Hónden "
    assert registry.canonical_platform_list_id("flexmail", "Katten") == "Katten"


def test_empty_label_refused(flexmail_enabled):
    with pytest.raises(ValidationError, match="interest label name is required"):
        ListsConfig.model_validate(lists("  "))


def test_two_lists_on_one_label_refused(flexmail_enabled):
    with pytest.raises(ValidationError, match="Honden"):
        ListsConfig.model_validate(lists("Honden", "Honden"))


def test_refused_when_this_version_does_not_support_flexmail(monkeypatch):
    monkeypatch.setattr(registry, "SUPPORTED_PLATFORMS", registry.SUPPORTED_PLATFORMS - {"flexmail"})
    with pytest.raises(ValidationError, match="flexmail lists are not supported by this version yet"):
        ListsConfig.model_validate(lists("Honden"))
