"""The `slurm` executor: the batch command submitted with sbatch, its state polled (at most
once every `poll_s` per job), cancel and timeout by scancel. Same engine interface as the
in-process Engine and the batch executor; the batch log on the shared file system is followed
as any run's log."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from stata_tools.stata.batch import (
    UNFINISHED_RC,
    BatchExecution,
    BatchJob,
    LogInUse,
    TaskOutcome,
    batch_argv,
    read_batch_log,
)
from stata_tools.stata.console import ConsoleBinary, console_info, started
from stata_tools.stata.engine import BREAK_RC, Execution, Job, StataInfo, stata_quote
from stata_tools.stata.slurm.script import ArraySpec, SlurmOptions, build_script, task_do_file
from stata_tools.stata.slurm.states import (
    SACCT_FIELDS,
    SQUEUE_FORMAT,
    JobPhase,
    JobState,
    describe,
    end_cause,
    parse_sacct,
    parse_scontrol,
    parse_squeue,
    queue_place,
)

__all__ = [
    "SlurmCommands",
    "SlurmEngine",
    "SlurmError",
    "SlurmJob",
    "task_command",
    "task_log",
]

PLACE_EVERY_S = 30.0  # the queue-wide squeue is the expensive one: rarely


class SlurmError(RuntimeError):
    """A Slurm command failed; the message carries its own words."""


@dataclass(frozen=True, slots=True)
class SlurmJob(BatchJob):
    """A batch run for sbatch: its scheduler options and, for an array, its task indices."""

    options: SlurmOptions = field(default_factory=SlurmOptions)
    array: ArraySpec | None = None


def task_log(job: BatchJob, index: int) -> Path:
    """Where array task `index` writes its batch log (named after its copy of the do-file)."""
    assert job.working_dir is not None
    return job.working_dir / f"{task_do_file(job.run_dir, job.do_file, index).stem}.log"


def task_command(job: BatchJob, index: int) -> str:
    """The echo that opens task `index`'s log: `do <its copy> <index>`."""
    path = str(task_do_file(job.run_dir, job.do_file, index))
    return f"do {stata_quote(path) if ' ' in path else path} {index}"


class SlurmCommands:
    """The Slurm client commands, each with a timeout, never through a shell."""

    def __init__(self, env: Mapping[str, str] | None = None, timeout_s: float = 60.0) -> None:
        self._env = dict(env) if env is not None else None
        self._timeout = timeout_s

    @staticmethod
    def available() -> bool:
        return shutil.which("sbatch") is not None and shutil.which("squeue") is not None

    def _run(self, *argv: str, check: bool = True) -> str:
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=self._timeout,
                env=self._env,
                stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            raise SlurmError(
                f"{argv[0]} is not installed here: run on a login node of the Slurm cluster"
            ) from None
        except subprocess.TimeoutExpired:
            raise SlurmError(f"{argv[0]} did not answer within {self._timeout:g} s") from None
        if check and done.returncode != 0:
            words = (done.stderr or done.stdout).strip() or f"exit code {done.returncode}"
            raise SlurmError(f"{' '.join(argv[:2])} failed: {words}")
        return done.stdout if done.returncode == 0 else ""

    def submit(self, script: Path, cwd: Path) -> str:
        out = self._run("sbatch", "--parsable", str(script), check=True)
        job_id = out.strip().splitlines()[-1].split(";")[0] if out.strip() else ""
        if not job_id.isdigit():
            raise SlurmError(f"sbatch answered {out.strip()!r}, not a job id")
        return job_id

    def squeue(self, job_id: str) -> list[JobState]:
        return parse_squeue(
            self._run("squeue", "-h", "-r", "-j", job_id, "-o", SQUEUE_FORMAT, check=False)
        )

    def pending_order(self, partition: str | None) -> list[str]:
        argv = ["squeue", "-h", "-r", "-t", "PD", "-o", "%i", "--sort=-p,i"]
        if partition:
            argv += ["-p", partition]
        return self._run(*argv, check=False).split()

    def scontrol(self, job_id: str) -> list[JobState]:
        return parse_scontrol(self._run("scontrol", "show", "job", "-o", job_id, check=False))

    def sacct(self, job_id: str) -> list[JobState]:
        if shutil.which("sacct") is None:
            return []
        out = self._run("sacct", "-n", "-P", "-X", "-j", job_id, "-o", SACCT_FIELDS, check=False)
        return parse_sacct(out)

    def cancel(self, job_id: str) -> None:
        self._run("scancel", job_id, check=False)


@dataclass
class _Tracked:
    job: SlurmJob
    job_id: str | None = None
    states: dict[int | None, JobState] = field(default_factory=dict)
    place: int | None = None
    place_at: float = float("-inf")
    polls: int = 0
    cancelled: bool = False
    detached: bool = False
    wake: threading.Event = field(default_factory=threading.Event)


class SlurmEngine:
    """Jobs submitted with sbatch and polled until they end; any number at once."""

    def __init__(
        self,
        locate: Callable[[], ConsoleBinary],
        *,
        options: SlurmOptions | None = None,
        poll_s: float = 5.0,
        commands: SlurmCommands | None = None,
    ) -> None:
        self._locate = locate
        self.options = options or SlurmOptions()
        self._poll_s = max(1.0, poll_s)
        self._commands = commands or SlurmCommands()
        self._lock = threading.Lock()
        self._console: ConsoleBinary | None = None
        self._info: StataInfo | None = None
        self._tracked: dict[str, _Tracked] = {}
        self._final: dict[str, str] = {}  # run id → its last description, once it has ended
        self._logs: dict[Path, str] = {}

    @property
    def info(self) -> StataInfo | None:
        return self._info

    @property
    def active(self) -> Job | None:
        with self._lock:
            return next((t.job for t in self._tracked.values()), None)

    def start(self) -> Future[StataInfo]:
        return started(self._start)

    def _start(self) -> StataInfo:
        if self._info is None:
            self._console = self._locate()
            self._info = console_info(self._console)
        return self._info

    def execute(
        self, job: Job, on_submitted: Callable[[str], None] | None = None
    ) -> Future[Execution]:
        """Write the job script and submit it from a thread that then polls the job's state;
        `on_submitted(job_id)` is called there as soon as sbatch has answered."""
        if not isinstance(job, SlurmJob):
            raise TypeError("the slurm executor runs SlurmJob do-files")
        self._start()
        self._claim(job, None, fresh=True)
        future: Future[Execution] = Future()
        args = (job, future, time.monotonic(), on_submitted)
        threading.Thread(
            target=self._follow, args=args, name=f"slurm-{job.run_id}", daemon=True
        ).start()
        return future

    def attach(self, job: Job, job_id: str, elapsed_s: float = 0.0) -> Future[Execution]:
        """Follow a job submitted earlier (by a server since restarted) as if we had submitted
        it: its state polled, cancel by scancel; its log is left as it is."""
        if not isinstance(job, SlurmJob):
            raise TypeError("the slurm executor runs SlurmJob do-files")
        if not job_id.isdigit():
            raise ValueError(f"{job_id!r} is not a Slurm job id")
        self._start()
        self._claim(job, job_id, fresh=False)
        future: Future[Execution] = Future()
        args = (job, future, time.monotonic() - max(0.0, elapsed_s), None)
        threading.Thread(
            target=self._follow, args=args, name=f"slurm-{job.run_id}", daemon=True
        ).start()
        return future

    def _claim(self, job: SlurmJob, job_id: str | None, *, fresh: bool) -> None:
        """The job's logs are ours while it is followed; a fresh job's stale logs go first."""
        logs = self._logs_of(job)
        with self._lock:
            for log in logs:
                if log in self._logs:
                    raise LogInUse(
                        f"{log.name} in {log.parent} is being written by run {self._logs[log]} "
                        "of the same do-file; wait for it, or pass another working_dir"
                    )
            if job.run_id in self._tracked:
                raise LogInUse(f"run {job.run_id} is already followed here")
            for log in logs:
                self._logs[log] = job.run_id
            self._tracked[job.run_id] = _Tracked(job, job_id)
        if fresh:
            for log in logs:
                with contextlib.suppress(FileNotFoundError):
                    log.unlink()

    def _logs_of(self, job: SlurmJob) -> list[Path]:
        if job.array is None:
            return [job.log_path]
        return [task_log(job, index) for index in job.array.indices]

    def script(self, job: SlurmJob) -> str:
        assert self._console is not None and job.working_dir is not None
        output = job.run_dir / ("slurm-%A_%a.out" if job.array else "slurm-%j.out")
        return build_script(
            command=batch_argv(self._console, job),
            working_dir=job.working_dir,
            output=output,
            job_name=f"stata-{job.do_file.stem}",
            options=job.options,
            array=job.array,
            do_file=job.do_file,
            run_dir=job.run_dir,
        )

    def job_id(self, job: Job) -> str | None:
        with self._lock:
            tracked = self._tracked.get(job.run_id)
            return tracked.job_id if tracked else None

    def states(self, job: Job) -> dict[int | None, JobState]:
        """The newest state of the job, or of each array task seen so far."""
        with self._lock:
            tracked = self._tracked.get(job.run_id)
            return dict(tracked.states) if tracked else {}

    def describe(self, job: Job) -> str:
        """`job 123 pending (Resources), 3rd in queue`; for an array, its tasks by state."""
        with self._lock:
            tracked = self._tracked.get(job.run_id)
            if tracked is None:
                return self._final.get(job.run_id, "slurm job ended")
            if tracked.job_id is None:
                return "submitting to Slurm"
            states = dict(tracked.states)
            place = tracked.place
            array = tracked.job.array
        name = f"job {tracked.job_id}"
        if array is None:
            state = states.get(None)
            return f"{name} " + (describe(state, place) if state else "submitted")
        counts: dict[str, int] = {}
        for index in array.indices:
            state = states.get(index)
            phase = state.phase.value if state else JobPhase.PENDING.value
            counts[phase] = counts.get(phase, 0) + 1
        parts = ", ".join(f"{n} {phase}" for phase, n in counts.items())
        return f"array {name}: {parts}"

    def request_break(self, job: Job | None = None) -> bool:
        """scancel the job (Slurm sends Stata SIGTERM: it breaks, then exits); once per run."""
        with self._lock:
            tracked = (
                self._tracked.get(job.run_id) if job else next(iter(self._tracked.values()), None)
            )
            if tracked is None or tracked.cancelled:
                return False
            tracked.cancelled = True
            job_id = tracked.job_id
        if job_id is not None:
            self._commands.cancel(job_id)
        tracked.wake.set()
        return True

    def detach(self, job: Job) -> str | None:
        """Stop following the job and leave it to run (the client went away); its id."""
        with self._lock:
            tracked = self._tracked.get(job.run_id)
            if tracked is None:
                return None
            tracked.detached = True
        tracked.wake.set()
        return tracked.job_id

    # ------------------------------------------------------------------------- the poll thread

    def _follow(
        self,
        job: SlurmJob,
        future: Future[Execution],
        started: float,
        on_submitted: Callable[[str], None] | None,
    ) -> None:
        try:
            result = self._submit_and_wait(job, started, on_submitted)
        except BaseException as error:
            future.set_exception(error)
        else:
            future.set_result(result)
        finally:
            final = self.describe(job)  # what the job last was, for lines read after its end
            with self._lock:
                self._final[job.run_id] = final
                while len(self._final) > 256:
                    self._final.pop(next(iter(self._final)))
                self._tracked.pop(job.run_id, None)
                for log in self._logs_of(job):
                    self._logs.pop(log, None)

    def _submit_and_wait(
        self, job: SlurmJob, started: float, on_submitted: Callable[[str], None] | None
    ) -> Execution:
        tracked = self._tracked[job.run_id]
        job_id = tracked.job_id
        if job_id is None:  # ours to submit (attach() brings a job id)
            path = job.run_dir / "job.sh"
            path.write_text(self.script(job), encoding="utf-8")
            with self._lock:
                if tracked.cancelled:
                    return BatchExecution(
                        BREAK_RC, "--Break--", True, started, time.monotonic(), state="cancelled"
                    )
            job_id = self._commands.submit(path, job.run_dir)
            with self._lock:
                tracked.job_id = job_id
                cancel_now = tracked.cancelled
            if on_submitted is not None:
                on_submitted(job_id)
            if cancel_now:
                self._commands.cancel(job_id)
        expected = {None} if job.array is None else set(job.array.indices)
        while True:
            self._poll(tracked, expected)
            with self._lock:
                states = dict(tracked.states)
                detached = tracked.detached
            if detached:
                return BatchExecution(
                    0, None, False, started, time.monotonic(), state="detached", job_id=job_id
                )
            if all(key in states and states[key].phase.ended for key in expected):
                return self._ended(tracked, states, started)
            tracked.wake.wait(self._poll_s)
            tracked.wake.clear()

    def _poll(self, tracked: _Tracked, expected: set[int | None]) -> None:
        """squeue for the job; scontrol (then sacct) for what squeue no longer lists. A task no
        command knows any more has ended (its log says how); one never seen yet is waited for."""
        job_id = tracked.job_id
        assert job_id is not None
        seen = {s.task: s for s in self._commands.squeue(job_id) if s.job_id == job_id}
        missing = {k for k in expected if k not in seen}
        with self._lock:
            known = dict(tracked.states)
            tracked.polls += 1
            polls = tracked.polls
        missing -= {k for k in missing if k in known and known[k].phase.ended}
        if missing:
            for state in self._commands.scontrol(job_id):
                if state.job_id == job_id and state.task in missing:
                    seen[state.task] = state
            if missing - seen.keys():
                for state in self._commands.sacct(job_id):
                    if state.job_id == job_id and state.task in missing and state.task not in seen:
                        seen[state.task] = state
            for key in missing - seen.keys():
                if key in known or polls >= 3:
                    seen[key] = JobState(job_id, key, JobPhase.UNKNOWN, "UNKNOWN")
        single = seen.get(None)
        now = time.monotonic()
        pending = single is not None and single.phase is JobPhase.PENDING
        if pending and now - tracked.place_at >= PLACE_EVERY_S:
            place = queue_place(self._commands.pending_order(tracked.job.options.partition), job_id)
            with self._lock:
                tracked.place, tracked.place_at = place, now
        with self._lock:
            tracked.states.update(seen)

    def _ended(
        self, tracked: _Tracked, states: dict[int | None, JobState], started: float
    ) -> BatchExecution:
        job = tracked.job
        ended = time.monotonic()
        if job.array is None:
            state = states[None]
            rc, text, phase = self._outcome(job.log_path, state, tracked.cancelled, job)
            return BatchExecution(
                rc,
                text,
                tracked.cancelled,
                started,
                ended,
                state=phase,
                job_id=tracked.job_id,
                node=state.node,
                detail=_detail(state),
            )
        tasks = []
        for index in job.array.indices:
            state = states[index]
            log = task_log(job, index)
            rc, text, phase = self._outcome(log, state, tracked.cancelled, job)
            message = _last_message(text) if rc else None
            tasks.append(TaskOutcome(index, phase, rc, str(log), message, state.node))
        failed = [t for t in tasks if t.state != "completed"]
        rc = failed[0].rc or UNFINISHED_RC if failed else 0
        phase = "completed" if not failed else ("cancelled" if tracked.cancelled else "failed")
        text = None
        if failed:
            text = f"{len(failed)} of {len(tasks)} tasks did not complete"
        return BatchExecution(
            rc,
            text,
            tracked.cancelled,
            started,
            ended,
            state=phase,
            job_id=tracked.job_id,
            tasks=tuple(tasks),
        )

    def _outcome(
        self, log: Path, state: JobState, cancelled: bool, job: SlurmJob
    ) -> tuple[int, str | None, str]:
        """The return code (the log's, else what ended the job) and the end state's name."""
        rc, text, _ = read_batch_log(log)
        phase = state.phase
        if phase in (JobPhase.FAILED, JobPhase.CANCELLED, JobPhase.UNKNOWN) and not cancelled:
            phase = end_cause(_output_text(job, state)) or phase  # slurmstepd's own words
        if phase is JobPhase.UNKNOWN:
            phase = JobPhase.COMPLETED if rc is not None else JobPhase.FAILED
        if phase is JobPhase.COMPLETED:
            name = "completed" if rc == 0 else "failed"
        elif phase is JobPhase.CANCELLED:
            name = "cancelled"
        else:
            name = phase.value
        if rc is None:
            rc = BREAK_RC if phase in (JobPhase.CANCELLED, JobPhase.TIMED_OUT) else UNFINISHED_RC
            if not log.exists():
                text = _slurm_output(job) or "Stata wrote no batch log"
        if rc == 0 and name not in ("completed",):
            rc = BREAK_RC if name in ("cancelled", "timed out") else UNFINISHED_RC
        return rc, text, name


def _detail(state: JobState) -> str:
    parts = [f"Slurm state {state.state}"]
    if state.exit_code is not None:
        parts.append(f"exit code {state.exit_code}:{state.signal or 0}")
    if state.node:
        parts.append(f"node {state.node}")
    if state.reason and state.reason not in ("None",):
        parts.append(f"reason {state.reason}")
    return ", ".join(parts)


def _last_message(text: str | None) -> str | None:
    """Stata's error message: the line before the first `r(N);` of the log's tail."""
    if not text:
        return None
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.startswith("r(")), len(lines))
    before = [line for line in lines[:first] if line.strip() and not line.startswith((". ", "> "))]
    before = [line for line in before if line != "end of do-file"]
    return before[-1] if before else None


def _output_text(job: SlurmJob, state: JobState) -> str:
    """The tail of the job's (or array task's) Slurm output file: slurm-%j.out, slurm-%A_%a.out."""
    name = (
        f"slurm-{state.job_id}.out"
        if state.task is None
        else (f"slurm-{state.job_id}_{state.task}.out")
    )
    with contextlib.suppress(OSError), (job.run_dir / name).open("rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(max(0, size - 16384))
        return handle.read().decode("utf-8", errors="replace")
    return ""


def _slurm_output(job: SlurmJob) -> str | None:
    for path in sorted(job.run_dir.glob("slurm-*.out")):
        with contextlib.suppress(OSError):
            text = path.read_text(encoding="utf-8", errors="replace").strip()
            if text:
                return "\n".join(text.splitlines()[-5:])
    return None
