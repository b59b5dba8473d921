"""The ``platform: mailjet`` list block: one Mailjet list by unique name, exactly one consent,
newsletter and service never on one Mailjet list, refused until the version supports Mailjet."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from include.crm_sync.config.loader import ListsConfigError, load_lists
from include.crm_sync.config.registry import canonical_platform_list_id


def block(name: str, list_name: str, consent: str = "newsletter", extra: str = "") -> str:
    return (
        f"  - name: {name}\n    platform: mailjet\n    consent: {consent}\n"
        f'    mailjet_list: {{name: "{list_name}"}}\n    selection: {{filter: {{}}}}\n{extra}'
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lists.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ListsConfigError) as info:
        load_lists(path)
    return info.value.problems


@pytest.fixture
def mailjet_enabled(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from include.crm_sync.config import registry

    monkeypatch.setattr(registry, "SUPPORTED_PLATFORMS", registry.SUPPORTED_PLATFORMS | {"mailjet"})
    yield


def test_mailjet_lists_are_supported(tmp_path):
    config = load_lists(write(tmp_path, "lists:\n" + block("news", "CRM newsletter")))
    assert [d.platform for d in config.lists] == ["mailjet"]


def test_a_newsletter_and_a_service_list(tmp_path, mailjet_enabled):
    config = load_lists(
        write(
            tmp_path,
            "lists:\n" + block("news", "  CRM newsletter ") + block("service", "CRM service", "service"),
        )
    )
    news, service = config.lists
    assert (news.platform_list_id, news.consent) == ("CRM newsletter", "newsletter")
    assert (service.platform_list_id, service.consent) == ("CRM service", "service")
    assert canonical_platform_list_id("mailjet", " CRM newsletter ") == "CRM newsletter"


def test_two_consents_on_one_mailjet_list_are_refused(tmp_path, mailjet_enabled):
    text = "lists:\n" + block("news", "CRM mails") + block("service", "CRM mails ", "service")
    [problem] = problems(write(tmp_path, text))
    assert "mailjet_list.name" in problem and "news" in problem and "service" in problem


def test_exactly_one_consent(tmp_path, mailjet_enabled):
    text = "lists:\n" + block("news", "CRM mails", "[newsletter, service]")
    [problem] = problems(write(tmp_path, text))
    assert "never mix consents" in problem


def test_attributes_are_refused_rather_than_dropped(tmp_path, mailjet_enabled):
    text = "lists:\n" + block("news", "CRM mails", extra="    attributes: {firstname: first_name}\n")
    [problem] = problems(write(tmp_path, text))
    assert "carry no attributes" in problem
