"""How a webservice is declared: operations with typed positional parameters and a return type.

One declaration drives everything else: the WSDL (wsdl.py), request decoding and response
encoding (soap.py) and dispatch (app.py). Parameter names are the documented ones (sessionId,
recipientListId, ...); on the wire they are Axis' positional ``in0``, ``in1``, ... and the
emulator accepts either.

Types: ``string``, ``long``, ``int``, ``boolean`` and the arrays ``string[]``, ``string[][]``,
``long[]``, ``int[]``, ``boolean[]``; a return type of ``None`` is ``void``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from include.emulators.optimizely.config import EmulatorConfig
    from include.emulators.optimizely.sessions import Session, SessionStore
    from include.emulators.optimizely.state import EmulatorState

NAMESPACE_PREFIX = "urn:api.broadmail.de/soap11/Rpc"
PATH_PREFIX = "/soap11/Rpc"
SCALAR_TYPES = ("string", "long", "int", "boolean")
ARRAY_TYPES = ("string[]", "string[][]", "long[]", "int[]", "boolean[]")


@dataclass(frozen=True)
class Param:
    name: str
    type: str


@dataclass
class CallContext:
    """What a handler may touch: the state, the caller's session and the emulator's settings."""

    state: EmulatorState
    sessions: SessionStore
    config: EmulatorConfig
    session: Session | None = None

    @property
    def now(self) -> float:
        return self.state.clock.now()


@dataclass(frozen=True)
class Operation:
    name: str
    params: tuple[Param, ...]
    returns: str | None
    handler: Callable[..., Any]
    doc: str
    needs_session: bool


@dataclass
class Webservice:
    """One SOAP endpoint (``/soap11/Rpc<name>``) and its operations."""

    name: str  # e.g. "Recipient"
    doc: str = ""
    operations: dict[str, Operation] = field(default_factory=dict)

    @property
    def interface(self) -> str:
        return f"{self.name}Webservice"

    @property
    def rpc_name(self) -> str:
        return f"Rpc{self.name}"

    @property
    def namespace(self) -> str:
        return NAMESPACE_PREFIX + self.name

    @property
    def path(self) -> str:
        return PATH_PREFIX + self.name

    def operation(
        self,
        name: str,
        params: list[tuple[str, str]],
        returns: str | None = None,
        doc: str = "",
        needs_session: bool = True,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register ``handler(ctx, *args)``; with ``needs_session`` a leading ``sessionId`` part is
        declared and checked by the dispatcher, and the handler gets the others only."""
        declared = ([("sessionId", "string")] if needs_session else []) + list(params)
        for _, type_ in declared:
            if type_ not in SCALAR_TYPES + ARRAY_TYPES:
                raise ValueError(f"{self.name}.{name}: unsupported type {type_}")
        if returns is not None and returns not in SCALAR_TYPES + ARRAY_TYPES:
            raise ValueError(f"{self.name}.{name}: unsupported return type {returns}")

        def register(handler: Callable[..., Any]) -> Callable[..., Any]:
            self.operations[name] = Operation(
                name=name,
                params=tuple(Param(n, t) for n, t in declared),
                returns=returns,
                handler=handler,
                doc=" ".join(doc.split()),
                needs_session=needs_session,
            )
            return handler

        return register
