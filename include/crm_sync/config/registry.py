"""Which platforms a list may name, and the discriminated union ``lists.yaml`` is validated with.

To add a platform: write its ``ListDefinition`` subclass and add it to ``LIST_BLOCKS``; the
union, the error messages and ``canonical_platform_list_id`` follow. ``SUPPORTED_PLATFORMS`` says
which of them this version can sync: a known platform outside it is refused at load with a plain
sentence, so the DAG never accepts a list nothing would sync.

This module imports pydantic and the standard library only: it runs at DAG parse time.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import AfterValidator, Discriminator, Tag
from pydantic_core import PydanticCustomError

from include.crm_sync.config.base import ListDefinition
from include.crm_sync.config.flexmail import FlexmailList
from include.crm_sync.config.optimizely import OptimizelyList
from include.crm_sync.config.spotler import SpotlerList

#: ``platform:`` value -> its list block; a list without ``platform:`` is an Optimizely list
LIST_BLOCKS: dict[str, type[ListDefinition]] = {
    "optimizely": OptimizelyList,
    "spotler": SpotlerList,
    "flexmail": FlexmailList,
}
DEFAULT_PLATFORM = "optimizely"

#: platforms whose lists this version syncs (the nightly DAG wires each one: see
#: plugins/crm_sync_airflow/platforms.py). Mailjet's engine is still being built.
SUPPORTED_PLATFORMS: frozenset[str] = frozenset({"optimizely", "spotler", "flexmail"})

_KNOWN = ", ".join(repr(name) for name in LIST_BLOCKS)


def _platform_of(value: Any) -> str | None:
    """The tag of a list item: its ``platform:`` (default optimizely); None = unknown."""
    if isinstance(value, ListDefinition):
        return value.platform
    if not isinstance(value, dict):
        # Not a mapping at all: let the default block say "should be a valid dictionary".
        return DEFAULT_PLATFORM
    platform = value.get("platform", DEFAULT_PLATFORM)
    return platform if isinstance(platform, str) and platform in LIST_BLOCKS else None


def _supported(item: ListDefinition) -> ListDefinition:
    # Read at call time, not import time, so the switch can be flipped (and tests can flip it).
    if item.platform not in SUPPORTED_PLATFORMS:
        raise PydanticCustomError(
            "unsupported_platform",
            "{platform} lists are not supported by this version yet",
            {"platform": item.platform},
        )
    return item


_CHOICES = tuple(Annotated[cls, AfterValidator(_supported), Tag(name)] for name, cls in LIST_BLOCKS.items())

AnyListDefinition = Annotated[
    Union[_CHOICES],  # noqa: UP007 - a union built from the registry at import time has no X | Y spelling
    Discriminator(
        _platform_of,
        custom_error_type="unknown_platform",
        custom_error_message=f"not a known platform; use one of {_KNOWN}",
        custom_error_context={"expected": _KNOWN},
    ),
]


def canonical_platform_list_id(platform: str, raw: Any) -> str:
    """``raw`` (a config value, or a platform's own spelling such as ``"01001"``) in canonical form.

    Use it wherever a list id from outside ``lists.yaml`` is compared with the config's:
    ``canonical_platform_list_id("optimizely", "01001") == "1001"``. Raises ``ValueError`` with a
    plain sentence for an unknown platform or an id that platform cannot have.
    """
    block = LIST_BLOCKS.get(platform)
    if block is None:
        raise ValueError(f"{platform!r} is not a known platform; use one of {_KNOWN}")
    return block.canonical_list_id(raw)
