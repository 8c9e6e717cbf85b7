"""The operating-system lock around Stata's worker: no programs started, writes only where allowed.

The static command policy reads Stata code and will always miss something; this does not read
Stata at all. The worker applies a `SandboxSpec` (built by the server from its settings) to itself
before Stata initialises, and everything Stata does afterwards inherits it:

- seccomp (Linux): execve and execveat fail with EPERM, so `shell`, `!`, `winexec` and any other
  way of starting a program fail; lifted by `STATA_TOOLS_ALLOW=shell`. Built with libseccomp
  through `pyseccomp` (the filter generator everyone uses, which knows each architecture's
  syscall numbers and the x32 ABI; a hand-written BPF program would have to).
- Landlock (Linux 5.13+): creating, writing, truncating, renaming and removing files is allowed
  only beneath `writable` (the roots, the run folder, the temporary folder, ...); reading is not
  restricted. Our own ctypes layer of three syscalls, not the `landlock` package: its 1.0.0.dev5
  pre-release checks errno instead of the syscall's return value, so a stale errno from an earlier
  call fails a call that succeeded (tried: after a refused landlock_add_rule, a
  landlock_create_ruleset that returned fd 3 raised EBADF), and it has no way to handle only the
  write rights of the ABI the kernel has, which is what this needs.

Landlock restricts the calling thread and the threads and processes it creates later, so the
worker applies the sandbox on its main thread before Stata's thread exists; seccomp is synchronised
over every thread of the process. macOS and Windows have neither here: the policy alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import functools
import os
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

MODES = ("auto", "strict", "off")
SANDBOX_ENV = "STATA_TOOLS_SANDBOX"
WRITABLE_ENV = "STATA_TOOLS_SANDBOX_WRITABLE"


class SandboxError(RuntimeError):
    """The sandbox was asked for and cannot be had (strict mode), or applying it failed."""


@dataclass(frozen=True, slots=True)
class Writable:
    """One place the sandbox lets Stata write, and why (docs and doctor show the reason)."""

    path: str
    why: str
    create: bool = False  # made (as a folder) by the worker before it locks, if missing


@dataclass(frozen=True, slots=True)
class SandboxSpec:
    """What the worker should lock: built by the server, applied by the worker."""

    mode: str = "auto"
    deny_exec: bool = True  # False when STATA_TOOLS_ALLOW has shell
    writable: tuple[Writable, ...] = ()
    limit_writes: bool = True  # False without roots (library use): writes anywhere


@dataclass(frozen=True, slots=True)
class Protections:
    """Which locks are (or would be) in force, each with a sentence a person can act on."""

    exec_filter: bool
    write_limit: bool
    lines: tuple[str, ...]

    def describe(self) -> str:
        return "\n".join(self.lines)


# ---------------------------------------------------------------- what the kernel offers


@functools.cache  # the kernel and the libraries do not change while we run
def seccomp_available() -> str | None:
    """None when seccomp filters can be installed here; otherwise why not."""
    if sys.platform != "linux":
        return f"seccomp is Linux-only (this is {sys.platform})"
    try:
        import pyseccomp  # noqa: F401 - loads libseccomp.so.2
    except ImportError:
        return "the pyseccomp package is not installed (pip install pyseccomp)"
    except (OSError, RuntimeError) as error:
        return f"libseccomp cannot be loaded ({error}); install libseccomp2"
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            if not any(line.startswith("Seccomp:") for line in status):
                return "this kernel was built without seccomp"
    except OSError:
        pass
    return None


_LANDLOCK_CREATE_RULESET = 444  # the same number on every architecture (new syscalls are unified)
_LANDLOCK_ADD_RULE = 445
_LANDLOCK_RESTRICT_SELF = 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

# Write rights, by the ABI that introduced them; reading and executing are not handled.
_WRITE_FILE = 1 << 1
_REMOVE_DIR, _REMOVE_FILE, _MAKE_CHAR, _MAKE_DIR, _MAKE_REG = 1 << 4, 1 << 5, 1 << 6, 1 << 7, 1 << 8
_MAKE_SOCK, _MAKE_FIFO, _MAKE_BLOCK, _MAKE_SYM = 1 << 9, 1 << 10, 1 << 11, 1 << 12
_REFER, _TRUNCATE = 1 << 13, 1 << 14
_FILE_RIGHTS_V1 = _WRITE_FILE
_DIR_RIGHTS_V1 = (
    _WRITE_FILE
    | _REMOVE_DIR
    | _REMOVE_FILE
    | _MAKE_CHAR
    | _MAKE_DIR
    | _MAKE_REG
    | _MAKE_SOCK
    | _MAKE_FIFO
    | _MAKE_BLOCK
    | _MAKE_SYM
)


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # the kernel's struct is __attribute__((packed))
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def _syscall(libc: ctypes.CDLL, number: int, *args: object) -> int:
    """The syscall's result; OSError from errno when it returns -1 (and only then)."""
    result = libc.syscall(ctypes.c_long(number), *args)
    if result == -1:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return int(result)


@functools.cache
def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 when it has none (or this is not Linux)."""
    if sys.platform != "linux":
        return 0
    try:
        return _syscall(_libc(), _LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0),
                        ctypes.c_uint32(_CREATE_RULESET_VERSION))  # fmt: skip
    except OSError:
        return 0  # ENOSYS: not built in; EOPNOTSUPP: disabled at boot


def landlock_available() -> str | None:
    if sys.platform != "linux":
        return f"Landlock is Linux-only (this is {sys.platform})"
    if landlock_abi() < 1:
        return "this kernel has no Landlock (Linux 5.13+, with landlock in its lsm= list)"
    return None


def _rights(abi: int) -> tuple[int, int]:
    """(rights for a directory, rights for a file) that this ABI handles."""
    folder, file = _DIR_RIGHTS_V1, _FILE_RIGHTS_V1
    if abi >= 2:
        folder |= _REFER
    if abi >= 3:
        folder |= _TRUNCATE
        file |= _TRUNCATE
    return folder, file


# ---------------------------------------------------------------- what the spec means here


def protections(spec: SandboxSpec | None) -> Protections:
    """What applying `spec` on this machine puts in force (the server asks; the worker applies)."""
    if spec is None or spec.mode == "off":
        return Protections(
            False, False, (f"OS sandbox: off ({SANDBOX_ENV}=off): the command policy alone.",)
        )
    lines: list[str] = []
    exec_filter = write_limit = False
    if not spec.deny_exec:
        lines.append("Starting programs: allowed (STATA_TOOLS_ALLOW has shell).")
    elif (why := seccomp_available()) is None:
        exec_filter = True
        lines.append("Starting programs: refused by seccomp (shell, !, winexec fail).")
    else:
        lines.append(f"Starting programs: not locked ({why}); the command policy alone.")
    if not spec.limit_writes:
        lines.append("Writes: anywhere (no roots configured).")
    elif (why := landlock_available()) is None:
        write_limit = True
        places = ", ".join(w.path for w in spec.writable)
        lines.append(f"Writes: only beneath {places} (Landlock ABI {landlock_abi()}).")
    else:
        lines.append(f"Writes: not locked ({why}).")
    return Protections(exec_filter, write_limit, ("OS sandbox:", *("  " + x for x in lines)))


def check_strict(spec: SandboxSpec) -> None:
    """In strict mode, a SandboxError unless every lock the spec asks for is available."""
    if spec.mode != "strict":
        return
    missing = []
    if spec.deny_exec and (why := seccomp_available()) is not None:
        missing.append(f"the program filter ({why})")
    if spec.limit_writes and (why := landlock_available()) is not None:
        missing.append(f"the write limit ({why})")
    if missing:
        raise SandboxError(
            f"{SANDBOX_ENV}=strict and Stata's worker cannot be sandboxed here: no "
            + "; no ".join(missing)
            + f". Run on a Linux kernel with seccomp and Landlock, or set {SANDBOX_ENV}=auto "
            "to run with what this system offers (the command policy still applies)."
        )


def apply(spec: SandboxSpec | None) -> Protections:
    """Lock this process as the spec says; call on the main thread before any other starts.

    Fails closed: a lock this system offers that cannot be applied raises SandboxError."""
    state = protections(spec)
    if spec is None or spec.mode == "off":
        return state
    check_strict(spec)
    if state.write_limit:
        if threading.active_count() != 1:
            raise SandboxError(
                "the write limit must be applied before Stata's thread starts (Landlock locks the "
                "calling thread only); the worker received a request before Start"
            )
        _restrict_writes(spec.writable)
    if state.exec_filter:
        _deny_exec()
    return state


def _restrict_writes(writable: tuple[Writable, ...]) -> None:
    libc = _libc()
    abi = landlock_abi()
    folder_rights, file_rights = _rights(abi)
    attr = _RulesetAttr(folder_rights)
    try:
        ruleset = _syscall(libc, _LANDLOCK_CREATE_RULESET, ctypes.byref(attr),
                           ctypes.c_size_t(ctypes.sizeof(attr)), ctypes.c_uint32(0))  # fmt: skip
    except OSError as error:
        raise SandboxError(f"Landlock refused a ruleset: {error}") from None
    try:
        for place in writable:
            if place.create:  # Landlock can allow only what exists
                with contextlib.suppress(OSError):
                    os.makedirs(place.path, exist_ok=True)
            try:
                fd = os.open(place.path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # a place that does not exist cannot be written into either
            try:
                rights = folder_rights if os.path.isdir(place.path) else file_rights
                rule = _PathBeneathAttr(rights, fd)
                _syscall(libc, _LANDLOCK_ADD_RULE, ctypes.c_int(ruleset),
                         ctypes.c_int(_RULE_PATH_BENEATH), ctypes.byref(rule),
                         ctypes.c_uint32(0))  # fmt: skip
            except OSError as error:
                raise SandboxError(f"Landlock refused the rule for {place.path}: {error}") from None
            finally:
                os.close(fd)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:  # required to restrict unprivileged
            raise SandboxError(f"no_new_privs could not be set: {os.strerror(ctypes.get_errno())}")
        try:
            _syscall(libc, _LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0))
        except OSError as error:
            raise SandboxError(f"Landlock could not restrict the worker: {error}") from None
    finally:
        os.close(ruleset)


def _deny_exec() -> None:
    import pyseccomp as seccomp

    try:
        fltr = seccomp.SyscallFilter(seccomp.ALLOW)
        fltr.set_attr(seccomp.Attr.CTL_TSYNC, 1)  # every thread of the worker, not just this one
        for name in ("execve", "execveat"):
            fltr.add_rule(seccomp.ERRNO(errno.EPERM), name)
        fltr.load()
    except OSError as error:
        raise SandboxError(f"seccomp could not install the program filter: {error}") from None


# ---------------------------------------------------------------- refusals, explained


# Stata's codes for a file it could not open or could not change (Landlock refuses at open).
WRITE_REFUSED_RCS = frozenset({603, 608})


_SHELL_WORDS = re.compile(r"!|\bx?sh|\bwinexec\b|\bunix\b|\bdos\b")


def may_start_programs(text: str) -> bool:
    """A cheap first look: could this code hold a shell escape at all (then the policy reads it)."""
    return _SHELL_WORDS.search(text) is not None


def exec_note(spec: SandboxSpec | None, lines: list[int]) -> str | None:
    """What a result says when its code has shell escapes the program filter stopped: Stata
    ignores `shell`'s exit status, so without this the run would look as if they had worked."""
    if not lines or spec is None or spec.mode == "off" or not protections(spec).exec_filter:
        return None
    where = ", ".join(str(n) for n in lines[:8]) + (", …" if len(lines) > 8 else "")
    return (
        f"the OS sandbox stopped the shell command{'s' if len(lines) > 1 else ''} on line "
        f"{where} from starting a program: they did nothing (Stata does not report it). To let "
        "Stata start programs, set STATA_TOOLS_ALLOW=shell where the server is configured."
    )


_FILE_IN_ERROR = re.compile(r"file (.+?) (?:could not be opened|is read-only|cannot be modified)")


def refusal_note(spec: SandboxSpec | None, message: str, cwd: Path | None = None) -> str | None:
    """What a run's result says when Stata could not open a file the write limit keeps it from
    writing (Stata says only r(603)); None when the lock was off or the file lies where it may."""
    if spec is None or spec.mode == "off" or not protections(spec).write_limit:
        return None
    places = ", ".join(w.path for w in spec.writable)
    found = _FILE_IN_ERROR.search(message.replace("\n> ", ""))  # a log's wrapped lines, joined
    if found is None:
        return None  # no file named: nothing to say about where it lies
    named = found.group(1).strip().strip('"')
    path = Path(os.path.expanduser(named))
    if not path.is_absolute():
        path = (cwd or Path.cwd()) / path
    real = Path(os.path.realpath(path))
    if any(real.is_relative_to(os.path.realpath(w.path)) for w in spec.writable):
        return None  # allowed there: something else stopped it
    what = str(real)
    return (
        f"the OS sandbox refused to let Stata write {what}: Stata may write only beneath "
        f"{places}. Write inside one of them, or add the folder to {WRITABLE_ENV} (folders "
        f"separated by '{os.pathsep}') or to STATA_TOOLS_ROOTS where the server is configured "
        f"(or turn the sandbox off with {SANDBOX_ENV}=off)."
    )


def writable_places(
    roots: tuple[Path, ...],
    run_dir: Path,
    *,
    temp_dirs: tuple[str, ...],
    home: Path,
    install: bool,
    extra: tuple[Path, ...] = (),
) -> tuple[Writable, ...]:
    """Where Stata may write, and why: the list docs/security.md explains."""
    places = [Writable(str(root), "an allowed root (STATA_TOOLS_ROOTS)") for root in roots]
    places.append(Writable(str(run_dir), "the run folder: logs, output, graphs, worker logs"))
    places += [
        Writable(t, "the temporary folder (tempfile, preserve, graph export)") for t in temp_dirs
    ]
    places.append(Writable("/dev/null", "output thrown away (Stata and libraries open it)"))
    places.append(Writable("/dev/shm", "POSIX shared memory and semaphores (sem_open)"))
    places += [
        Writable(str(p), "Stata's preferences (set ..., permanently; the console's history)")
        for p in sorted(home.glob(".stata*"))
    ]
    if install:
        places.append(
            Writable(
                str(home / "ado"), "PLUS and PERSONAL (STATA_TOOLS_ALLOW=install)", create=True
            )
        )
    places += [Writable(str(p), WRITABLE_ENV) for p in extra]
    first = {}  # one entry a path: the first reason given for it
    for place in places:
        first.setdefault(place.path, place)
    return tuple(first.values())


def install_places(
    plus: Path, run_dir: Path, *, temp_dirs: tuple[str, ...]
) -> tuple[Writable, ...]:
    """Where an install_package worker may write: PLUS and what any Stata needs, no roots."""
    places = [
        Writable(str(plus), "Stata's PLUS folder: the package being installed", create=True),
        Writable(str(run_dir), "the run folder: the install's log, the worker's log"),
        *(Writable(t, "the temporary folder (downloads)") for t in temp_dirs),
        Writable("/dev/null", "output thrown away (Stata and libraries open it)"),
        Writable("/dev/shm", "POSIX shared memory and semaphores (sem_open)"),
    ]
    first: dict[str, Writable] = {}
    for place in places:
        first.setdefault(place.path, place)
    return tuple(first.values())
