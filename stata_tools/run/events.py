"""The typed events a run yields to every consumer: MCP tools, the CLI and library callers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from stata_tools.run.results import RunResult


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Where the run stands: progress strictly increases and never passes total."""

    progress: float
    total: int
    message: str
    elapsed_s: float


@dataclass(frozen=True, slots=True)
class Queued:
    """The session is busy with other runs; `position` runs are ahead of this one."""

    position: int
    snapshot: Snapshot


@dataclass(frozen=True, slots=True)
class Started:
    """Stata has been handed the run."""

    run_id: str
    log_path: str
    snapshot: Snapshot


@dataclass(frozen=True, slots=True)
class CommandStarted:
    """The log echoed top-level command `index` of `total`."""

    index: int
    total: int
    command: str
    line: int | None
    snapshot: Snapshot


@dataclass(frozen=True, slots=True)
class Output:
    """New lines Stata wrote to the run's log."""

    lines: tuple[str, ...]
    snapshot: Snapshot


@dataclass(frozen=True, slots=True)
class ErrorRaised:
    """Stata reported a return code; the run may still go on (capture, nostop)."""

    rc: int
    message: str
    snapshot: Snapshot


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Stata is quiet but still working on the current command."""

    snapshot: Snapshot


@dataclass(frozen=True, slots=True)
class Finished:
    """The run is over; `result` is what the caller gets back."""

    result: RunResult
    snapshot: Snapshot


RunEvent = Union[Queued, Started, CommandStarted, Output, ErrorRaised, Heartbeat, Finished]  # noqa: UP007
