"""Configuration from the environment, read once at start-up into a frozen value."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from stata_tools.safety.policy import ALLOW_ENV, CATEGORIES, Policy, PolicyError
from stata_tools.safety.roots import Roots
from stata_tools.safety.sandbox import SandboxSpec, Writable, install_places, writable_places
from stata_tools.safety.sources import SourceError, check_source_entry
from stata_tools.stata.slurm.script import SlurmOptionError, SlurmOptions

PREFIX = "STATA_TOOLS_"


class SettingsError(ValueError):
    """An environment variable holds a value we cannot use; the message names it."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a session needs to know that the user may want to change."""

    stata_path: str | None = None
    stata_edition: str | None = None
    run_dir: Path = Path.home() / ".cache" / "stata-tools" / "runs"
    heartbeat_s: float = 5.0
    output_budget_chars: int = 20_000
    default_timeout_s: float | None = None
    break_grace_s: float = 10.0
    max_runs_kept: int = 200
    max_graphs: int = 4
    prestart: bool = False  # start Stata right after the MCP handshake, not at the first run
    run_history: bool = True  # keep each do-file's command times for `~8m left` next run
    data_changes: bool = True  # a `data: 74 → 72 obs (−2) · …` line when a run changed the data
    max_sessions: int = 4  # named sessions (each its own Stata) one client may keep open
    shared_sessions: bool = False  # HTTP: every client sees every session and run
    gone_client_grace_s: float = 60.0  # HTTP: a departed client's sessions close after this
    idle_session_s: float = 14_400.0  # HTTP: a session unused this long closes (0: never)
    roots: Roots | None = None  # None: any path (library use); from_env: the working directory
    policy: Policy | None = None  # None: no command checks (library use); from_env: the default
    batch_parallel: int = 2  # local batch processes at once (executor="batch")
    slurm: SlurmOptions = field(default_factory=SlurmOptions)  # executor="slurm" defaults
    slurm_poll_s: float = 5.0  # squeue at most this often per job
    slurm_cancel_on_disconnect: bool = False  # a job submitted to outlive the session does
    log_polling: str = "auto"  # batch logs: poll (NFS, Lustre) on, off, or auto (detected)
    log_poll_s: float = 1.0  # how often a polled batch log is read
    sandbox: str = "auto"  # the OS lock around Stata's worker: auto, strict or off
    sandbox_lifts: frozenset[str] = frozenset()  # categories STATA_TOOLS_ALLOW names (not `all`)
    sandbox_writable: tuple[Path, ...] = ()  # more folders the sandbox lets Stata write into
    stata_tmpdir: Path | None = None  # STATA_TMPDIR: Stata's temporary folder, when not TMPDIR's
    install_sources: tuple[str, ...] = ("ssc",)  # what install_package may install from

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read `STATA_PATH`, `STATA_EDITION` and the `STATA_TOOLS_*` variables."""
        env = os.environ if env is None else env
        defaults = cls()
        return cls(
            stata_path=env.get("STATA_PATH") or None,
            stata_edition=env.get("STATA_EDITION") or None,
            run_dir=Path(env[PREFIX + "RUN_DIR"]).expanduser()
            if env.get(PREFIX + "RUN_DIR")
            else defaults.run_dir,
            heartbeat_s=_number(env, "HEARTBEAT_S", defaults.heartbeat_s, minimum=0.5),
            output_budget_chars=int(
                _number(env, "OUTPUT_BUDGET_CHARS", defaults.output_budget_chars, minimum=1000)
            ),
            default_timeout_s=_optional_number(env, "DEFAULT_TIMEOUT_S"),
            break_grace_s=_number(env, "BREAK_GRACE_S", defaults.break_grace_s, minimum=0.1),
            max_runs_kept=int(_number(env, "MAX_RUNS_KEPT", defaults.max_runs_kept, minimum=1)),
            max_graphs=int(_number(env, "MAX_GRAPHS", defaults.max_graphs, minimum=0)),
            prestart=_switch(env, "PRESTART", defaults.prestart),
            run_history=_switch(env, "RUN_HISTORY", defaults.run_history),
            data_changes=_switch(env, "DATA_CHANGES", defaults.data_changes),
            max_sessions=int(_number(env, "MAX_SESSIONS", defaults.max_sessions, minimum=1)),
            shared_sessions=_switch(env, "SHARED_SESSIONS", defaults.shared_sessions),
            gone_client_grace_s=_number(
                env, "GONE_CLIENT_GRACE_S", defaults.gone_client_grace_s, minimum=0
            ),
            idle_session_s=_number(env, "IDLE_SESSION_S", defaults.idle_session_s, minimum=0),
            roots=Roots.from_env(env),
            policy=_policy(env),
            batch_parallel=int(_number(env, "BATCH_PARALLEL", defaults.batch_parallel, minimum=1)),
            slurm=_slurm(env),
            slurm_poll_s=_number(env, "SLURM_POLL_S", defaults.slurm_poll_s, minimum=2),
            slurm_cancel_on_disconnect=_switch(
                env, "SLURM_CANCEL_ON_DISCONNECT", defaults.slurm_cancel_on_disconnect
            ),
            log_polling=_choice(env, "LOG_POLLING", ("auto", "on", "off"), defaults.log_polling),
            log_poll_s=_number(env, "LOG_POLL_S", defaults.log_poll_s, minimum=0.1),
            sandbox=_choice(env, "SANDBOX", ("auto", "strict", "off"), defaults.sandbox),
            sandbox_lifts=_named_categories(env),
            stata_tmpdir=Path(env["STATA_TMPDIR"]) if env.get("STATA_TMPDIR") else None,
            sandbox_writable=tuple(
                Path(entry.strip()).expanduser()
                for entry in env.get(PREFIX + "SANDBOX_WRITABLE", "").split(os.pathsep)
                if entry.strip()
            ),
            install_sources=_install_sources(env, defaults.install_sources),
        )

    def sandbox_spec(self) -> SandboxSpec | None:
        """The lock the settings ask for: no roots (library use) means writes anywhere; a category
        named in STATA_TOOLS_ALLOW lifts its part (shell: programs may start; install: PLUS)."""
        if self.sandbox == "off":
            return SandboxSpec(mode="off", deny_exec=False)
        allowed = self.sandbox_lifts  # named in STATA_TOOLS_ALLOW; `all` alone lifts nothing
        install = "install" in allowed
        home = Path.home()
        writable: tuple[Writable, ...] = ()
        if self.roots is not None:
            temp = (
                tempfile.gettempdir(),
                *([str(self.stata_tmpdir)] if self.stata_tmpdir else []),
            )
            writable = writable_places(
                self.roots.paths,
                self.run_dir,
                temp_dirs=temp,
                home=home,
                install=install,
                extra=self.sandbox_writable,
            )
        return SandboxSpec(
            mode=self.sandbox,
            deny_exec="shell" not in allowed,
            writable=writable,
            limit_writes=self.roots is not None,
        )

    def install_spec(self, plus: Path) -> SandboxSpec:
        """The lock for an install_package worker: whatever the roots, writes go only to PLUS,
        the run folder (its log) and the temporary folders; programs stay refused."""
        if self.sandbox == "off":
            return SandboxSpec(mode="off", deny_exec=False)
        temp = (tempfile.gettempdir(), *([str(self.stata_tmpdir)] if self.stata_tmpdir else []))
        return SandboxSpec(
            mode=self.sandbox,
            deny_exec="shell" not in self.sandbox_lifts,
            writable=install_places(plus, self.run_dir, temp_dirs=temp),
            limit_writes=True,
        )


def _install_sources(env: Mapping[str, str], default: tuple[str, ...]) -> tuple[str, ...]:
    """STATA_TOOLS_INSTALL_SOURCES: `ssc` and http(s) URL prefixes, comma- or space-separated."""
    raw = env.get(PREFIX + "INSTALL_SOURCES", "").strip()
    if not raw:
        return default
    try:
        return tuple(check_source_entry(entry) for entry in re.split(r"[\s,]+", raw) if entry)
    except SourceError as error:
        raise SettingsError(f"{PREFIX}INSTALL_SOURCES: {error}") from None


def _slurm(env: Mapping[str, str]) -> SlurmOptions:
    """STATA_TOOLS_SLURM_*: partition, time, CPUs, memory, account, extra lines (`;` between)."""
    cpus = env.get(PREFIX + "SLURM_CPUS", "").strip()
    if cpus and not cpus.isdigit():
        raise SettingsError(f"{PREFIX}SLURM_CPUS={cpus!r} is not a whole number")
    extra = env.get(PREFIX + "SLURM_EXTRA", "")
    try:
        return SlurmOptions(
            partition=env.get(PREFIX + "SLURM_PARTITION", "").strip() or None,
            time_limit=env.get(PREFIX + "SLURM_TIME", "").strip() or None,
            cpus=int(cpus) if cpus else None,
            memory=env.get(PREFIX + "SLURM_MEM", "").strip() or None,
            account=env.get(PREFIX + "SLURM_ACCOUNT", "").strip() or None,
            extra=tuple(line.strip() for line in extra.split(";") if line.strip()),
        ).validated()
    except SlurmOptionError as error:
        raise SettingsError(f"{PREFIX}SLURM_*: {error}") from None


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    raw = env.get(PREFIX + name, "").strip().lower()
    if not raw:
        return default
    if raw not in choices:
        raise SettingsError(f"{PREFIX}{name}={raw!r} is not one of {', '.join(choices)}")
    return raw


def _policy(env: Mapping[str, str]) -> Policy:
    try:
        return Policy.from_env(env)
    except PolicyError as error:
        raise SettingsError(str(error)) from None


def _named_categories(env: Mapping[str, str]) -> frozenset[str]:
    """The categories STATA_TOOLS_ALLOW names one by one: each lifts its part of the OS sandbox,
    while `all` turns only the static policy off (the sandbox is the lock behind it)."""
    names = {n.lower() for n in re.split(r"[\s,]+", env.get(ALLOW_ENV, "")) if n}
    return frozenset(names & set(CATEGORIES))


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    raw = env.get(PREFIX + name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name}={raw!r} is not a number") from None
    if value < minimum:
        raise SettingsError(f"{PREFIX}{name}={raw!r} is below the minimum of {minimum:g}")
    return value


_ON = frozenset({"1", "on", "true", "yes"})
_OFF = frozenset({"0", "off", "false", "no"})


def _switch(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(PREFIX + name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _ON or value in _OFF:
        return value in _ON
    raise SettingsError(f"{PREFIX}{name}={raw!r} is not a switch: use on or off")


def _optional_number(env: Mapping[str, str], name: str) -> float | None:
    raw = env.get(PREFIX + name)
    if raw is None or raw.strip() in ("", "0", "none"):
        return None
    return _number(env, name, 0.0, minimum=0.1)
