"""The project's Airflow connection types: what each one's extras hold, and how the UI shows it.

One pydantic model per connection type describes its extras (names, types, limits, defaults,
labels, help texts). The same model

* parses a connection's ``extra`` in its hook (``parse_extras``): errors name the connection and
  the field, e.g. ``connection 'optimizely_campaign_default': extra 'mandator_id' is required``;
* becomes the connection form's custom fields (``conn_fields``), which the provider info
  (``provider_info.py``) hands to Airflow, so form and parser cannot disagree.

Light on purpose (pydantic only): Airflow reads the provider info in every process it starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError


class ConnectionExtrasError(ValueError):
    """A connection's extras are invalid; the message names the connection and every bad field."""


def _not_a_bool(kind: str) -> Any:
    """JSON ``true`` is no number, although pydantic would read it as 1."""

    def check(value: Any) -> Any:
        if isinstance(value, bool):
            raise PydanticCustomError(f"{kind}_parsing", "not a number")
        return value

    return BeforeValidator(check)


Integer = Annotated[int, _not_a_bool("int")]
Number = Annotated[float, _not_a_bool("float")]


class _Extras(BaseModel):
    """Extras of one connection type: unknown keys are refused (a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CrmStagingExtras(_Extras):
    sqlalchemy_url: str | None = Field(
        None,
        title="SQLAlchemy URL",
        description="Any SQLAlchemy URL, e.g. sqlite:////data/crm.db; empty: the PostgreSQL server in "
        "host/login/password/database",
    )


class OptimizelyCampaignExtras(_Extras):
    mandator_id: Integer = Field(
        ge=1, title="Mandator (client) id", description="Your Optimizely Campaign client id (required)"
    )
    batch_size: Integer = Field(
        1000, ge=1, le=1000, title="Recipients per addAll3 call", description="1-1000 (the platform's limit)"
    )
    timeout: Number = Field(60.0, gt=0, le=3600, title="Request timeout (seconds)")
    connect_timeout: Number = Field(10.0, gt=0, le=3600, title="Connect timeout (seconds)")
    max_parallel_calls: Integer = Field(
        4, ge=1, le=10, title="Parallel calls", description="addAll3 calls in flight at once (1-10)"
    )
    verify: bool | str = Field(
        True, title="TLS verification", description="true, false, or the path of a CA bundle"
    )

    @field_validator("verify", mode="before")
    @classmethod
    def _verify_words(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        return value


def _verify_words(value: Any) -> Any:
    """The form's text "true"/"false" read back as booleans (any other text is a CA bundle path)."""
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value


Verify = Annotated[bool | str, BeforeValidator(_verify_words)]


class SpotlerExtras(_Extras):
    """Extras of ``spotler`` connections (parsed by ``hooks/spotler.py``)."""

    timeout: Number = Field(60.0, gt=0, le=3600, title="Request timeout (seconds)")
    connect_timeout: Number = Field(10.0, gt=0, le=3600, title="Connect timeout (seconds)")
    max_attempts: Integer = Field(
        5, ge=1, le=20, title="Tries per call", description="on 429, 5xx and connection errors (1-20)"
    )
    verify: Verify = Field(
        True, title="TLS verification", description="true, false, or the path of a CA bundle"
    )
    feed_page_size: Integer = Field(
        1000,
        ge=1,
        le=1000,
        title="Feed page size",
        description="items per page of the bounce and change feeds",
    )


class FlexmailExtras(_Extras):
    """Extras of ``flexmail`` connections (parsed by ``hooks/flexmail.py``)."""

    timeout: Number = Field(60.0, gt=0, le=3600, title="Request timeout (seconds)")
    connect_timeout: Number = Field(10.0, gt=0, le=3600, title="Connect timeout (seconds)")
    max_attempts: Integer = Field(
        6, ge=1, le=20, title="Tries per call", description="on 429, 5xx and connection errors (1-20)"
    )
    verify: Verify = Field(
        True, title="TLS verification", description="true, false, or the path of a CA bundle"
    )
    requests_per_minute: Number = Field(
        55.0,
        gt=1,
        le=10_000,
        title="Requests per minute",
        description="the account's budget, shared by every task (Flexmail allows about 60)",
    )
    source_id: Integer | None = Field(
        None, ge=1, title="Source id", description="the Flexmail source imported contacts get"
    )
    import_poll_seconds: Number = Field(
        10.0,
        gt=0,
        le=600,
        title="Import poll interval (seconds)",
        description="how often a queued contacts import is asked whether it has finished",
    )


class MailjetExtras(_Extras):
    """Extras of ``mailjet`` connections (parsed by ``hooks/mailjet.py``)."""

    timeout: Number = Field(60.0, gt=0, le=3600, title="Request timeout (seconds)")
    max_attempts: Integer = Field(
        5, ge=1, le=20, title="Tries per call", description="on 429, 5xx and connection errors (1-20)"
    )
    rate_limit_budget: Number = Field(
        600.0,
        ge=0,
        le=86400,
        title="429 budget (seconds)",
        description="how long one call may wait out 429 answers before it fails",
    )
    job_poll_interval: Number = Field(
        2.0, gt=0, le=300, title="Job poll interval (seconds)", description="between polls of a bulk job"
    )
    job_max_wait: Number = Field(
        1800.0,
        gt=0,
        le=86400,
        title="Job wait bound (seconds)",
        description="a bulk job not Completed/Error by then fails the task (retried)",
    )
    max_contacts_per_job: Integer = Field(
        1000, ge=1, le=100_000, title="Contacts per bulk job", description="managemanycontacts batch size"
    )


M = TypeVar("M", bound=_Extras)


@dataclass(frozen=True)
class ConnectionType:
    """One connection type as Airflow's provider info describes it."""

    connection_type: str
    hook_class_name: str
    hook_name: str
    extras: type[_Extras]
    hidden_fields: list[str] = field(default_factory=list)
    relabeling: dict[str, str] = field(default_factory=dict)
    placeholders: dict[str, str] = field(default_factory=dict)

    def ui_field_behaviour(self) -> dict[str, Any]:
        """The standard fields hidden, relabelled and with placeholders (provider-info spelling)."""
        return {
            "hidden-fields": self.hidden_fields,
            "relabeling": self.relabeling,
            "placeholders": self.placeholders,
        }

    def conn_fields(self) -> dict[str, Any]:
        """The extras as the connection form's custom fields: label, help text, JSON schema."""
        return conn_fields(self.extras)


CRM_STAGING = ConnectionType(
    connection_type="crm_staging",
    hook_class_name="crm_sync_airflow.hooks.crm_staging.CrmStagingHook",
    hook_name="CRM staging database",
    extras=CrmStagingExtras,
    hidden_fields=["port"],
    relabeling={"schema": "Database"},
    placeholders={"host": "crm-db.internal (PostgreSQL, when no SQLAlchemy URL is given)"},
)

OPTIMIZELY_CAMPAIGN = ConnectionType(
    connection_type="optimizely_campaign",
    hook_class_name="crm_sync_airflow.hooks.optimizely_campaign.OptimizelyCampaignHook",
    hook_name="Optimizely Campaign",
    extras=OptimizelyCampaignExtras,
    hidden_fields=["schema", "port"],
    relabeling={"host": "SOAP base URL", "login": "Webservice user", "password": "Password"},
    placeholders={"host": "https://api.campaign.episerver.net/soap11", "login": "webservice user name"},
)

SPOTLER = ConnectionType(
    connection_type="spotler",
    hook_class_name="crm_sync_airflow.hooks.spotler.SpotlerHook",
    hook_name="Spotler Mail+",
    extras=SpotlerExtras,
    hidden_fields=["schema", "port"],
    relabeling={"host": "Base URL", "login": "Consumer key", "password": "Consumer secret"},
    placeholders={"host": "https://restapi.mailplus.nl/integrationservice-1.1.0/", "login": "consumer key"},
)

FLEXMAIL = ConnectionType(
    connection_type="flexmail",
    hook_class_name="crm_sync_airflow.hooks.flexmail.FlexmailHook",
    hook_name="Flexmail",
    extras=FlexmailExtras,
    hidden_fields=["schema", "port"],
    relabeling={"host": "Base URL", "login": "Account id", "password": "Personal access token"},
    placeholders={"host": "https://api.flexmail.eu", "login": "account id (a number)"},
)

MAILJET = ConnectionType(
    connection_type="mailjet",
    hook_class_name="crm_sync_airflow.hooks.mailjet.MailjetHook",
    hook_name="Mailjet",
    extras=MailjetExtras,
    hidden_fields=["schema", "port"],
    relabeling={"host": "API base URL", "login": "API key", "password": "Secret key"},
    placeholders={"host": "https://api.mailjet.com/", "login": "API key"},
)

#: every connection type the project registers (a new platform's hook adds its own here)
CONNECTION_TYPES: tuple[ConnectionType, ...] = (CRM_STAGING, OPTIMIZELY_CAMPAIGN, SPOTLER, FLEXMAIL, MAILJET)

# JSON-schema keys the connection form understands (Airflow's provider.yaml schema for conn-fields)
_SCHEMA_KEYS = (
    "type",
    "default",
    "format",
    "enum",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "pattern",
    "minLength",
    "maxLength",
)


def conn_fields(model: type[_Extras]) -> dict[str, Any]:
    """``conn-fields`` of the provider info from the model's JSON schema.

    An optional extra's type includes "null": the form marks a field required unless it may be
    empty (as Airflow does for the fields of older hooks).
    """
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    fields: dict[str, Any] = {}
    for name, prop in schema["properties"].items():
        types = [p["type"] for p in prop.get("anyOf", [prop]) if p.get("type", "null") != "null"] or [
            "string"
        ]
        if name not in required:
            types.append("null")
        field_schema = {k: v for k, v in prop.items() if k in _SCHEMA_KEYS and v is not None}
        if len([t for t in types if t != "null"]) > 1:
            # a value of several types (verify: true/false or a path) is typed as text in the form;
            # the model reads "true"/"false" back as booleans
            types = ["string", *(["null"] if "null" in types else [])]
            if "default" in field_schema:
                field_schema["default"] = str(field_schema["default"]).lower()
        field_schema["type"] = types[0] if len(types) == 1 else types
        entry: dict[str, Any] = {"label": prop.get("title", name), "schema": field_schema}
        if prop.get("description"):
            entry["description"] = prop["description"]
        fields[name] = entry
    return fields


def parse_extras(model: type[M], conn_id: str, conn_type: str, extra: Any) -> M:
    """The connection's extras as ``model``; raises ``ConnectionExtrasError`` naming each bad field.

    Keys may carry the form's old ``extra__<conn_type>__`` prefix; empty values (an untouched form
    field) count as unset.
    """
    if not isinstance(extra, dict):
        raise ConnectionExtrasError(f"connection {conn_id!r}: extra must be a JSON object")
    prefix = f"extra__{conn_type}__"
    values = {
        key.removeprefix(prefix): value for key, value in extra.items() if value is not None and value != ""
    }
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = _problems(model, exc)
    raise ConnectionExtrasError(f"connection {conn_id!r}: " + "; ".join(problems))


def _problems(model: type[_Extras], exc: ValidationError) -> list[str]:
    properties = model.model_json_schema()["properties"]
    problems, unknown = [], []
    for error in exc.errors(include_url=False):
        name = str(error["loc"][0]) if error["loc"] else ""
        kind, value = error["type"], error.get("input")
        if kind == "extra_forbidden":
            unknown.append(name)
        elif kind == "missing":
            problems.append(f"extra {name!r} is required")
        elif kind.startswith("int_"):
            problems.append(f"extra {name!r} must be an integer, got {value!r}")
        elif kind.startswith("float_"):
            problems.append(f"extra {name!r} must be a number, got {value!r}")
        elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
            prop = properties.get(name, {})
            low = prop.get("minimum", prop.get("exclusiveMinimum"))
            high = prop.get("maximum", prop.get("exclusiveMaximum"))
            limits = (
                f"between {low} and {high}" if low is not None and high is not None else error["msg"].lower()
            )
            problems.append(f"extra {name!r} must be {limits}, got {value!r}")
        else:
            # no value here: a string extra (a URL) may carry a password
            problems.append(f"extra {name!r}: {error['msg']}")
    if unknown:
        problems.insert(0, f"extra has unknown key(s) {sorted(unknown)}; known: {sorted(model.model_fields)}")
    return problems
