"""What the REST platforms' hooks (Spotler, Mailjet, Flexmail) check alike in their connection: the
extras against their pydantic model and the host as an http(s) base URL. Each hook passes its own
``fail(field, problem)`` so errors name its connection and field in its own exception type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

Extras = TypeVar("Extras", bound=BaseModel)
Fail = Callable[[str, str], Exception]


def parse_extras(model: type[Extras], extra: Any, fail: Fail) -> Extras:
    """``extra`` validated by ``model``; the first problem raised as ``fail("extra '<field>'", ...)``."""
    if not isinstance(extra, dict):
        raise fail("extra", "must be a JSON object")
    try:
        return model.model_validate(extra)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "extra"
        raise fail(f"extra '{where}'", first["msg"].lower()) from None


def base_url(host: str | None, port: int | None, fail: Fail, *, missing: str, path: str = "") -> str:
    """The connection's host as an http(s) URL without credentials. A bare host name gets https, the
    port and ``path``; ``missing`` is the problem reported when there is no host."""
    if not host or not host.strip():
        raise fail("host", missing)
    host = host.strip()
    if "://" not in host:
        host = f"https://{host}{f':{port}' if port else ''}{path}"
    split = urlsplit(host)
    if split.scheme not in ("http", "https") or not split.netloc:
        raise fail("host", f"must be an http(s) URL, got {host!r}")
    if split.username or split.password:
        raise fail("host", "must not contain credentials; use the login and password fields")
    return host
