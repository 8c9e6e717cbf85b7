"""The messages between the server and its Stata worker, and how they cross the pipe.

Transport: `multiprocessing.connection` (stdlib) — length-prefixed messages over a local socket
(AF_UNIX) or a named pipe (Windows), the same code on every OS, with an HMAC handshake on a key
the worker reads from its stdin, so no other local process can take the worker's place.

Encoding: pickle, because what crosses is Python values (a Job, a query function by reference,
stored results), and an asymmetric rule because the worker runs user code: the server → worker
direction is trusted (the server decides what the worker runs anyway), while worker → server
messages are unpickled with an allow-list of plain data classes, so a compromised worker (user
code is free to run Python inside Stata) cannot make the server run anything.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from stata_tools.safety.sandbox import SandboxSpec
from stata_tools.stata.discovery import (
    Installation,
    InvalidStataEdition,
    InvalidStataPath,
    PystataShadowed,
    StataInitError,
    StataNotFound,
)
from stata_tools.stata.engine import Job

# ---------------------------------------------------------------- server → worker (trusted)


@dataclass(frozen=True, slots=True)
class Start:
    """Initialise Stata from this installation (found by the server), sandboxed first as the
    spec says (None: not at all)."""

    installation: Installation
    sandbox: SandboxSpec | None = None


@dataclass(frozen=True, slots=True)
class Execute:
    job: Job


@dataclass(frozen=True, slots=True)
class Query:
    """`fn(pystata, sfi)` on Stata's thread: a module-level function or a partial of one,
    pickled on its own so that one the worker cannot import fails only this request."""

    fn: bytes

    def function(self) -> Callable[[ModuleType, ModuleType], Any]:
        return pickle.loads(self.fn)


@dataclass(frozen=True, slots=True)
class Break:
    """Press Break for this run (the engine keeps it to once per run; a run still on its way
    stops as it starts)."""

    run_id: str


Body = Start | Execute | Query | Break


@dataclass(frozen=True, slots=True)
class Request:
    ident: int
    body: Body


# ---------------------------------------------------------------- worker → server (checked)


@dataclass(frozen=True, slots=True)
class Hello:
    """The worker is connected and listening; the pid is for supervision and session_status."""

    pid: int


@dataclass(frozen=True, slots=True)
class Reply:
    """The request's value, pickled on its own so that a value the server refuses fails only
    its own request."""

    ident: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Output:
    """Text Stata printed during a run (pystata's stream), batched; sent before the run's Reply.
    `dropped` counts characters left out because the server fell that far behind."""

    run_id: str
    text: str
    dropped: int = 0


@dataclass(frozen=True, slots=True)
class Failure:
    """The request raised: the exception's class name and text, rebuilt by `as_exception`."""

    ident: int
    kind: str
    message: str


class RemoteError(RuntimeError):
    """An exception inside the worker of a kind the server does not rebuild as itself."""


_REBUILT: dict[str, type[BaseException]] = {
    cls.__name__: cls
    for cls in (
        SystemError,
        ValueError,
        TypeError,
        KeyError,
        LookupError,
        RuntimeError,
        OSError,
        FileNotFoundError,
        PermissionError,
        NotImplementedError,
        StataNotFound,
        InvalidStataPath,
        InvalidStataEdition,
        PystataShadowed,
    )
}


def failure_of(ident: int, error: BaseException) -> Failure:
    return Failure(ident, type(error).__name__, str(error))


def as_exception(failure: Failure) -> BaseException:
    """The worker's exception as the server should raise it: same class where we know it."""
    if failure.kind == "StataInitError":
        return StataInitError(failure.message, RuntimeError(failure.message))
    cls = _REBUILT.get(failure.kind)
    if cls is None:
        return RemoteError(f"{failure.kind} in Stata's worker: {failure.message}")
    return cls(failure.message)


_ALLOWED: dict[str, frozenset[str]] = {
    "stata_tools.stata.protocol": frozenset({"Hello", "Reply", "Failure", "Output"}),
    "stata_tools.stata.engine": frozenset({"StataInfo", "Execution"}),
    "stata_tools.run.graphs": frozenset({"GraphFile"}),
    "stata_tools.run.data_change": frozenset({"DataState"}),
    "stata_tools.stata.queries.estimates": frozenset(
        {"EstimatesIndex", "Estimates", "EstimatesRead"}
    ),
    "stata_tools.inspection.stored": frozenset({"StoredResults", "Matrix"}),
    "pathlib": frozenset({"Path", "PosixPath", "WindowsPath", "PurePosixPath", "PureWindowsPath"}),
    "builtins": frozenset({"set", "frozenset", "complex", "slice", "range", "bytearray"}),
    "collections": frozenset({"OrderedDict"}),
}


class _CheckedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if name in _ALLOWED.get(module, ()):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"the worker sent a {module}.{name}, which is not allowed")


def encode(message: object) -> bytes:
    return pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)


def decode_request(data: bytes) -> Request:
    """In the worker: what the server sent."""
    request = pickle.loads(data)
    if not isinstance(request, Request):
        raise TypeError(f"expected a Request, got {type(request).__name__}")
    return request


def reply_of(ident: int, value: object) -> Reply:
    return Reply(ident, encode(value))


Answer = Hello | Reply | Failure | Output


def decode_answer(data: bytes) -> Answer:
    """In the server: what the worker sent, restricted to plain data."""
    message = checked_loads(data)
    if not isinstance(message, Hello | Reply | Failure | Output):
        raise pickle.UnpicklingError(f"the worker sent a {type(message).__name__}")
    return message


def checked_loads(data: bytes) -> Any:
    """Unpickle allowing only plain values and the data classes listed above."""
    return _CheckedUnpickler(io.BytesIO(data)).load()


def query_of(fn: Callable[[ModuleType, ModuleType], Any]) -> Query:
    """A query function as it will cross; a clear TypeError for lambdas and closures."""
    try:
        return Query(encode(fn))
    except (pickle.PicklingError, AttributeError, TypeError) as error:
        raise TypeError(
            f"queries run in Stata's worker process, so the function must be picklable: pass a "
            f"module-level function or functools.partial of one, not a lambda or closure ({error})"
        ) from None
