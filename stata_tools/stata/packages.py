"""install_package: one package into the session's PLUS folder, by a short-lived Stata of its own.

The command policy refuses `ssc install` and `net install` in code, and the session's worker was
locked by Landlock when it started (writes only to the roots, the run folder and temp); a lock
cannot be loosened in a running process. So an install runs in a second worker, started for it
and closed after it, whose lock lets it write only to PLUS (and the run folder for its log, and
temp); it runs no user code, only the two commands built here from a checked name and an allowed
source. It installs into the PLUS folder the session itself searches (read from the session's
`c(sysdir_plus)`, so a `sysdir set PLUS` there is honoured), and Stata looks an unknown command
up on the adopath at its first use, so the session finds the new commands without a restart.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from stata_tools.run.events import RunEvent
from stata_tools.run.results import RunResult, RunStatus
from stata_tools.safety.policy import Policy
from stata_tools.safety.sources import SSC, Source, SourceError, check_name, choose_source
from stata_tools.stata.engine import stata_quote
from stata_tools.stata.session import RunRequest, Session, locate_stata
from stata_tools.stata.settings import Settings
from stata_tools.stata.supervisor import WorkerEngine

INSTALL_TIMEOUT_S = 600.0  # a download over a slow link; the session's own runs are not held up


class InstallRequestError(ValueError):
    """A request install_package will not run; the message says what to change."""


@dataclass(frozen=True, slots=True)
class InstallRequest:
    name: str
    source: str = SSC
    from_url: str | None = None
    replace: bool = False


@dataclass(frozen=True, slots=True)
class InstallOutcome:
    """What Stata's install said, read from its output (pure)."""

    status: str  # installed · up_to_date · exists_different · not_found · failed
    folder: str | None = None  # from "installing into <folder>..."
    replaced: tuple[str, ...] = ()  # "the following files will be replaced:"
    different: tuple[str, ...] = ()  # "the following files already exist and are different:"


@dataclass(frozen=True, slots=True)
class InstallReport:
    """What install_package tells the caller: the outcome, where, which files, and the run."""

    name: str
    source: Source
    plus: str
    outcome: InstallOutcome
    files: tuple[str, ...]  # the package's files in PLUS, as stata.trk records them
    result: RunResult

    @property
    def ok(self) -> bool:
        return self.outcome.status in ("installed", "up_to_date")

    @property
    def where(self) -> str:
        return "SSC" if self.source.kind == SSC else str(self.source.url)

    def render(self) -> str:
        """The text a model reads: one status line, the files, and what to do next."""
        status = self.outcome.status
        lines: list[str] = []
        if status == "installed":
            verb = "reinstalled (files replaced)" if self.outcome.replaced else "installed"
            lines.append(f"{self.name} {verb} from {self.where} into {self.plus}")
        elif status == "up_to_date":
            lines.append(
                f"{self.name} is already installed in {self.plus} and up to date with "
                f"{self.where}: nothing was changed."
            )
        elif status == "exists_different":
            lines.append(
                f"{self.name} was not installed: these files already exist in {self.plus} and "
                "differ from the package's (another version, or another package's):"
            )
            lines += [f"  {path}" for path in self.outcome.different]
            lines.append("Call install_package again with replace=true to overwrite them.")
        elif status == "not_found":
            lines.append(
                f"{self.name} was not found at {self.where} (r({self.result.rc})). Check the "
                "name's spelling; `search` in Stata finds a package's name and site."
            )
        else:
            message = self.result.error.message if self.result.error else ""
            lines.append(
                f"installing {self.name} from {self.where} failed (r({self.result.rc})): "
                f"{message.strip() or self.result.status.value}"
            )
        if self.files and status in ("installed", "up_to_date"):
            lines.append("Files:")
            lines += [f"  {path}" for path in self.files]
        if status == "installed":
            lines.append(
                "The session finds the new commands on its ado-path at their first use. If it "
                "had already loaded an older version, run `discard` first (it also clears stored "
                "results)."
            )
        lines.append(f"Log: {self.result.log_path}")
        return "\n".join(lines)

    def to_meta(self) -> dict[str, Any]:
        return {
            "package": self.name,
            "source": self.source.kind,
            "from_url": self.source.url,
            "status": self.outcome.status,
            "plus": self.plus,
            "files": list(self.files),
            "replaced": list(self.outcome.replaced),
            "different": list(self.outcome.different),
            "rc": self.result.rc,
            "run_id": self.result.run_id,
            "log_path": self.result.log_path,
        }


def check_request(request: InstallRequest, settings: Settings) -> Source:
    """The source to install from; InstallRequestError for a bad name, source or URL."""
    try:
        check_name(request.name)
        return choose_source(request.source, request.from_url, settings.install_sources)
    except SourceError as error:
        raise InstallRequestError(str(error)) from None


def install_code(name: str, source: Source, plus: str, *, replace: bool) -> str:
    """The only code an install worker runs: PLUS as the session has it, then the install."""
    check_name(name)  # never a command built from anything else
    option = "replace" if replace else ""
    if source.kind == SSC:
        command = f"ssc install {name}" + (f", {option}" if option else "")
    else:
        command = f'net install {name}, from("{source.url}") {option}'.rstrip()
    return f"sysdir set PLUS {stata_quote(plus)}\n{command}"


_FILE_LINE = re.compile(r"^\s{2,}(\S.*?)\s*$")


def parse_install_output(text: str, rc: int) -> InstallOutcome:
    """Read what `ssc install`/`net install` printed (Stata's wording) into an outcome."""
    lines = text.replace("\r\n", "\n").replace("\n> ", "").splitlines()  # wrapped lines joined
    folder = None
    replaced: list[str] = []
    different: list[str] = []
    collecting: list[str] | None = None
    complete = up_to_date = False
    for raw in lines:
        stripped = raw.strip()
        if collecting is not None:
            found = _FILE_LINE.match(raw)
            if found:
                collecting.append(found.group(1))
                continue
            collecting = None
        if stripped == "the following files will be replaced:":
            collecting = replaced
        elif stripped == "the following files already exist and are different:":
            collecting = different
        elif stripped.startswith("installing into ") and stripped.endswith("..."):
            folder = stripped[len("installing into ") : -3]
        elif stripped == "installation complete.":
            complete = True
        elif stripped == "all files already exist and are up to date.":
            up_to_date = True
    if rc == 0 and complete:
        status = "installed"
    elif rc == 0 and up_to_date:
        status = "up_to_date"
    elif rc == 602 and different:
        status = "exists_different"
    elif rc == 601 and ("not found at SSC" in text or re.search(r"\.pkg not found", text)):
        status = "not_found"
    else:
        status = "failed"
    return InstallOutcome(status, folder, tuple(replaced), tuple(different))


def tracked_files(trk: str, name: str) -> tuple[str, ...]:
    """The files stata.trk lists for the package's newest entry, relative to PLUS."""
    files: tuple[str, ...] = ()
    entry: list[str] = []
    for raw in trk.splitlines():
        if raw == "e":
            if f"n {name.lower()}.pkg" in (line.lower() for line in entry):
                files = tuple(line[2:].strip() for line in entry if line.startswith("f "))
            entry = []
        elif not raw.startswith("*"):
            entry.append(raw.rstrip())
    return files


def plus_folder(pystata: ModuleType, sfi: ModuleType) -> str:
    """The session's PLUS folder, `~` expanded where Stata runs (Unix Stata keeps the tilde)."""
    return os.path.expanduser(str(sfi.Macro.getGlobal("c(sysdir_plus)")))


def install_session(settings: Settings, plus: Path) -> Session:
    """A Stata of its own for one install: its worker may write to PLUS, the run folder and
    temp only, and its policy lets installs through (it runs only install_code)."""
    local = dataclasses.replace(settings, policy=Policy(frozenset({"install"})))
    engine = WorkerEngine(
        functools.partial(locate_stata, local),
        log_dir=settings.run_dir / "workers",
        sandbox=lambda: settings.install_spec(plus),
    )
    return Session(local, engine=engine)


_LOCKS: dict[int, asyncio.Lock] = {}


def _one_at_a_time() -> asyncio.Lock:
    """Installs take turns (they are rare): two into one PLUS would both write its stata.trk,
    and two for one session would both read its PLUS folder while the other's read holds it."""
    return _LOCKS.setdefault(id(asyncio.get_running_loop()), asyncio.Lock())


async def install_package(
    session: Session,
    request: InstallRequest,
    on_event: Callable[[RunEvent], object] | None = None,
) -> InstallReport:
    """Install into the PLUS folder `session` searches; bad requests raise InstallRequestError.
    `on_event` sees the install run's events (its output, heartbeats) as they come."""
    settings = session.settings
    source = check_request(request, settings)
    async with _one_at_a_time():
        return await _install(session, request, source, on_event)


async def _install(
    session: Session,
    request: InstallRequest,
    source: Source,
    on_event: Callable[[RunEvent], object] | None,
) -> InstallReport:
    settings = session.settings
    plus = await session.query(plus_folder)
    if not plus or any(c in plus for c in '\n\r"`$') or not os.path.isabs(plus):
        raise InstallRequestError(
            f"the session's PLUS folder {plus!r} is not a plain absolute path; set it with "
            "`sysdir set PLUS <folder>` (a folder without quotes, ` or $) and try again"
        )
    code = install_code(request.name, source, plus, replace=request.replace)
    installer = install_session(settings, Path(plus))
    try:
        run = RunRequest(code=code, timeout_s=INSTALL_TIMEOUT_S)
        result = await installer.execute(run, on_event)
    finally:
        installer.close()
    text = result.output.text + ("\n" + result.error.message if result.error else "")
    outcome = parse_install_output(text, result.rc)
    if result.status is not RunStatus.OK and result.status is not RunStatus.ERROR:
        outcome = dataclasses.replace(outcome, status="failed")  # timed out, crashed, cancelled
    trk = Path(plus) / "stata.trk"
    files: tuple[str, ...] = ()
    if outcome.status in ("installed", "up_to_date"):
        try:
            listed = tracked_files(trk.read_text(encoding="utf-8", errors="replace"), request.name)
        except OSError:
            listed = ()
        files = tuple(str(Path(plus) / f.replace("\\", "/")) for f in listed)
    return InstallReport(request.name, source, plus, outcome, files, result)
