"""The arguments several tools share, with the descriptions a model reads."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

PathArg = Annotated[
    str, Field(description="Path of the .do file (absolute, or relative to the working directory).")
]

WorkingDirArg = Annotated[
    str | None,
    Field(
        description="Directory Stata should `cd` into before running; it stays the working "
        "directory afterwards, as in Stata. Default: Stata's current directory."
    ),
]

TimeoutArg = Annotated[
    float | None,
    Field(description="Stop the run (Stata break, session kept) after this many seconds.", gt=0),
]

BackgroundArg = Annotated[
    bool,
    Field(
        description="Return at once with a run id and let the run go on (past this call, and "
        "past a disconnect); run_status shows its progress, wait_run waits for its result."
    ),
]

SessionArg = Annotated[
    str,
    Field(
        description="The named Stata session: each has its own Stata, data and queue, and runs "
        "in different sessions go on at the same time (list_sessions shows them)."
    ),
]


class SlurmArgs(TypedDict, total=False):
    """Per-call Slurm options (executor="slurm"); unset ones come from the settings."""

    partition: str
    time_limit: str
    cpus: int
    memory: str
    account: str
    extra: list[str]


ExecutorArg = Annotated[
    Literal["session", "batch", "slurm"],
    Field(
        description="session: the persistent Stata (default). batch: a fresh local "
        "`stata -b do` process (stateless; several run at once). slurm: that batch command "
        "submitted with sbatch; the job is followed, and outlives a client that leaves."
    ),
]
