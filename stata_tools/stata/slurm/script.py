"""The sbatch script of a batch Stata run: #SBATCH lines from settings and per-call options,
each validated, then `cd` and the batch command. Pure: text in, text out."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

__all__ = [
    "ArraySpec",
    "SlurmOptionError",
    "SlurmOptions",
    "build_script",
    "parse_array",
    "parse_time_limit",
    "task_do_file",
]

MAX_ARRAY_TASKS = 10_000
_NAME = re.compile(r"^[A-Za-z0-9_.+-]+(?:,[A-Za-z0-9_.+-]+)*$")
_MEMORY = re.compile(r"^\d+[KMGT]?$", re.IGNORECASE)
_EXTRA = re.compile(r"^(?:#SBATCH\s+)?(--?[A-Za-z][A-Za-z0-9-]*)(?:([= ])(\S.*))?$")
_TIME = re.compile(
    r"^(?:(?P<d>\d+)-(?P<dh>\d+)(?::(?P<dm>\d+)(?::(?P<ds>\d+))?)?"
    r"|(?P<h>\d+):(?P<m>\d+):(?P<s>\d+)|(?P<mm>\d+):(?P<ss>\d+)|(?P<only>\d+))$"
)
_ARRAY_PART = re.compile(r"^(\d+)(?:-(\d+)(?::(\d+))?)?$")
# Set by stata-tools itself: the log it follows, the tasks it counts, where Stata starts.
_OURS = {
    "-o": "--output",
    "--output": "--output",
    "-e": "--error",
    "--error": "--error",
    "-a": "--array",
    "--array": "--array",
    "-D": "--chdir",
    "--chdir": "--chdir",
    "-J": "--job-name",
    "--job-name": "--job-name",
    "--wrap": "--wrap",
    "--parsable": "--parsable",
}


class SlurmOptionError(ValueError):
    """A Slurm option we cannot pass on; the message names it and says what to write."""


@dataclass(frozen=True, slots=True)
class SlurmOptions:
    """What the job asks of the scheduler; None leaves it to the cluster's defaults."""

    partition: str | None = None
    time_limit: str | None = None  # Slurm's forms: 30, 2:00:00, 1-12:00:00
    cpus: int | None = None
    memory: str | None = None  # per node: 4G, 500M, 16000 (MB)
    account: str | None = None
    extra: tuple[str, ...] = ()  # more #SBATCH lines: "--qos=long", "--constraint=avx2"

    def merged(self, **per_call: object) -> SlurmOptions:
        """These options with the per-call ones on top (None keeps the setting); validated."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(per_call) - known)
        if unknown:
            raise SlurmOptionError(
                f"unknown Slurm option(s) {', '.join(unknown)}: use {', '.join(sorted(known))}"
            )
        given = {k: v for k, v in per_call.items() if v is not None}
        if "extra" in given:
            extra = given["extra"]
            lines = [extra] if isinstance(extra, str) else list(extra)  # type: ignore[call-overload]
            given["extra"] = (*self.extra, *(str(line) for line in lines))
        return replace(self, **given).validated()  # type: ignore[arg-type]

    def validated(self) -> SlurmOptions:
        """Self, when every option is one sbatch will take; SlurmOptionError otherwise."""
        for label, value in (("partition", self.partition), ("account", self.account)):
            if value is not None and not _NAME.match(value):
                raise SlurmOptionError(
                    f"Slurm {label} {value!r} is not a name Slurm accepts (letters, digits, "
                    "_ . + -; a comma-separated list for partitions)"
                )
        if self.time_limit is not None:
            parse_time_limit(self.time_limit)
        if self.cpus is not None and (
            isinstance(self.cpus, bool)
            or not isinstance(self.cpus, int)
            or not 1 <= self.cpus <= 4096
        ):
            raise SlurmOptionError(
                f"Slurm cpus {self.cpus!r} must be a whole number from 1 to 4096"
            )
        if self.memory is not None and not _MEMORY.match(str(self.memory)):
            raise SlurmOptionError(
                f"Slurm memory {self.memory!r} is not Slurm's form: a number with an optional "
                "K, M, G or T suffix (16G, 500M; a plain number is MB)"
            )
        for line in self.extra:
            extra_line(line)
        return self

    def directives(self) -> list[str]:
        """The #SBATCH lines for these options, in sbatch's long spelling."""
        lines = []
        if self.partition:
            lines.append(f"--partition={self.partition}")
        if self.time_limit:
            lines.append(f"--time={self.time_limit.strip()}")
        if self.cpus:
            lines.append(f"--cpus-per-task={self.cpus}")
        if self.memory:
            lines.append(f"--mem={str(self.memory).upper()}")
        if self.account:
            lines.append(f"--account={self.account}")
        lines.extend(extra_line(line) for line in self.extra)
        return [f"#SBATCH {line}" for line in lines]


def extra_line(line: str) -> str:
    """One extra #SBATCH option, as `--name=value`; refused when it is not one option on one
    line, or when stata-tools sets that option itself."""
    text = str(line).strip()
    if not text or "\n" in text or "\r" in text or "\0" in text:
        raise SlurmOptionError(
            f"extra Slurm line {line!r} must be one option on one line, like --qos=long"
        )
    match = _EXTRA.match(text)
    if not match:
        raise SlurmOptionError(
            f"extra Slurm line {line!r} is not an sbatch option: write it as --name=value "
            "(for example --qos=long or --constraint=avx2)"
        )
    name, sep, value = match.groups()
    if name in _OURS or name.split("=")[0] in _OURS:
        raise SlurmOptionError(
            f"extra Slurm line {line!r} sets {_OURS[name]}, which stata-tools sets itself "
            "(it follows the job's Stata log and counts its tasks); leave it out"
        )
    return name if value is None else f"{name}{sep}{value}"


def parse_time_limit(text: str) -> int | None:
    """Seconds in a Slurm time limit (30 = minutes, 2:00:00, 1-12:00); None for UNLIMITED."""
    value = str(text).strip()
    if value.upper() in ("UNLIMITED", "INFINITE"):
        return None
    match = _TIME.match(value)
    if not match or value in ("0", ""):
        raise SlurmOptionError(
            f"Slurm time limit {text!r} is not one of Slurm's forms: minutes (90), "
            "hours:minutes:seconds (2:00:00), days-hours[:minutes[:seconds]] (1-12:00)"
        )
    g = {k: int(v) if v else 0 for k, v in match.groupdict().items()}
    if match.group("d") is not None:
        return g["d"] * 86400 + g["dh"] * 3600 + g["dm"] * 60 + g["ds"]
    if match.group("h") is not None:
        return g["h"] * 3600 + g["m"] * 60 + g["s"]
    if match.group("mm") is not None:
        return g["mm"] * 60 + g["ss"]
    return g["only"] * 60


@dataclass(frozen=True, slots=True)
class ArraySpec:
    """A job array: its indices, as sbatch's --array takes them, and an optional throttle."""

    text: str
    indices: tuple[int, ...]
    throttle: int | None = None


def parse_array(text: str) -> ArraySpec:
    """`1-100`, `1,3,5`, `0-20:2`, `1-100%10`: the task indices, validated."""
    raw = str(text).strip().replace(" ", "")
    spec, _, throttle_text = raw.partition("%")
    indices: list[int] = []
    for part in spec.split(","):
        match = _ARRAY_PART.match(part)
        if not match:
            raise SlurmOptionError(
                f"array {text!r} is not Slurm's form: ranges and lists of task indices such as "
                "1-100, 1,3,5, 0-20:2, or 1-100%10 (at most 10 running at once)"
            )
        first, last, step = match.group(1), match.group(2), match.group(3)
        low, high = int(first), int(last) if last else int(first)
        if high < low or (step is not None and int(step) < 1):
            raise SlurmOptionError(f"array {text!r}: range {part} runs backwards or steps by 0")
        indices.extend(range(low, high + 1, int(step) if step else 1))
        if len(indices) > MAX_ARRAY_TASKS:
            raise SlurmOptionError(f"array {text!r} has over {MAX_ARRAY_TASKS} tasks")
    throttle = None
    if throttle_text:
        if not throttle_text.isdigit() or int(throttle_text) < 1:
            raise SlurmOptionError(f"array {text!r}: the throttle after % must be a whole number")
        throttle = int(throttle_text)
    unique = tuple(sorted(set(indices)))
    return ArraySpec(raw, unique, throttle)


def task_do_file(run_dir: Path, do_file: Path, index: int) -> Path:
    """Each array task runs its own copy, so that each writes its own `<name>_task<N>.log`
    (batch Stata names the log after the do-file, in the working directory)."""
    return run_dir / f"{do_file.stem}_task{index}.do"


def build_script(
    *,
    command: Sequence[str],
    working_dir: Path,
    output: Path,
    job_name: str,
    options: SlurmOptions,
    array: ArraySpec | None = None,
    do_file: Path | None = None,
    run_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """The job script. `command` is the batch argv; for an array, its do-file argument is
    replaced by the task's copy and the task index becomes the do-file's first argument."""
    quote = shlex.quote
    lines = ["#!/bin/bash", f"#SBATCH --job-name={_job_name(job_name)}"]
    lines.append(f"#SBATCH --output={output}")
    if array is not None:
        lines.append(f"#SBATCH --array={array.text}")
    lines.extend(options.directives())
    lines.append("")
    for key, value in (env or {}).items():
        lines.append(f"export {key}={quote(value)}")
    lines.append(f"cd {quote(str(working_dir))} || exit 1")
    argv = [quote(part) for part in command]
    if array is not None:
        if do_file is None or run_dir is None:
            raise ValueError("an array needs the do-file and the run folder")
        if " " in str(run_dir):
            raise SlurmOptionError(
                f"the run folder {run_dir} has a space, which an array task's do-file path "
                "cannot carry to Stata; set STATA_TOOLS_RUN_DIR to a folder without one"
            )
        task = quote(str(run_dir / f"{do_file.stem}_task")) + '"$SLURM_ARRAY_TASK_ID".do'
        lines.append(f"cp {quote(str(do_file))} {task} || exit 1")
        argv = [task if part.strip("\"'`") == str(do_file) else quote(part) for part in command]
        argv.append('"$SLURM_ARRAY_TASK_ID"')
    lines.append("exec " + " ".join(argv))
    return "\n".join(lines) + "\n"


def _job_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:60]
    return cleaned or "stata"
