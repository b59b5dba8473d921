"""List definitions (``config/lists.yaml``): models and a loader cheap enough for DAG parse time."""

from include.crm_sync.config.loader import ListsConfigError, load_lists, parse_lists, resolve_lists_path
from include.crm_sync.config.models import (
    CRM_ATTRIBUTE_COLUMNS,
    TECHNICAL_ATTRIBUTES,
    Guards,
    ListDefinition,
    ListFilter,
    ListsConfig,
    OptimizelyList,
    Selection,
    SpotlerAudience,
    SpotlerList,
    canonical_platform_list_id,
)
from include.crm_sync.config.paths import DEFAULT_LISTS_PATH, LISTS_FILE_ENV, SQL_ROOT

__all__ = [
    "CRM_ATTRIBUTE_COLUMNS",
    "DEFAULT_LISTS_PATH",
    "LISTS_FILE_ENV",
    "SQL_ROOT",
    "TECHNICAL_ATTRIBUTES",
    "Guards",
    "ListDefinition",
    "ListFilter",
    "ListsConfig",
    "ListsConfigError",
    "OptimizelyList",
    "Selection",
    "SpotlerAudience",
    "SpotlerList",
    "canonical_platform_list_id",
    "load_lists",
    "parse_lists",
    "resolve_lists_path",
]
