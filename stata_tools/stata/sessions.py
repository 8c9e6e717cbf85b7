"""SessionRegistry: each client's named sessions (each its own Session and Stata) and its runs."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from stata_tools.stata.session import Session
from stata_tools.stata.settings import Settings

MAIN = "main"
LOCAL = "local"
"""The client of stdio and in-memory connections (there is one), and every client when shared."""

SESSION_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")


class SessionNameError(ValueError):
    """A session name we would not keep; the message says what a name may hold."""


class TooManySessions(RuntimeError):
    """The client already has the most sessions the settings allow."""


class UnknownSession(LookupError):
    """The client has no open session by that name."""


def check_name(name: str) -> str:
    """A session name as given, when it is 1-32 letters, digits, `_` or `-`."""
    if not SESSION_NAME.fullmatch(name):
        raise SessionNameError(
            f"session name {name!r} is not allowed: use 1 to 32 letters, digits, `_` or `-` "
            f"(for example {MAIN!r} or 'models-2')"
        )
    return name


@dataclass
class SessionRegistry:
    """Sessions keyed by client and name; the first client's `main` is the process-wide session
    (so a prestarted Stata is used), every other one a Session of its own, made on first use."""

    settings: Settings
    primary: Callable[[], Session]
    factory: Callable[[Settings], Session] = Session
    _open: dict[str, dict[str, Session]] = field(default_factory=dict, init=False)
    _primary_client: str | None = field(default=None, init=False)
    _primary_retired: bool = field(default=False, init=False)
    _runs: dict[str, tuple[str, str]] = field(default_factory=dict, init=False)
    _closed: list[Session] = field(default_factory=list, init=False)  # a queued call may wake it

    def session(self, client: str, name: str = MAIN, *, create: bool = True) -> Session:
        """The client's session by that name, opened when `create` and under the cap."""
        check_name(name)
        if name == MAIN and self._is_primary(client, claim=create):
            return self.primary()
        found = self._open.get(client, {}).get(name)
        if found is not None:
            return found
        if not create:
            raise UnknownSession(self._unknown(client, name))
        opened = self.names(client)
        if len(opened) >= self.settings.max_sessions:
            raise TooManySessions(
                f"this client already has {len(opened)} open Stata sessions "
                f"({', '.join(opened)}), the most STATA_TOOLS_MAX_SESSIONS="
                f"{self.settings.max_sessions} allows: close one with close_session(session=…) "
                f"or run in one of them"
            )
        session = self.factory(self.settings)
        self._open.setdefault(client, {})[name] = session
        return session

    def names(self, client: str) -> list[str]:
        """The client's open sessions, `main` first when it has one."""
        names = list(self._open.get(client, {}))
        if self._is_primary(client, claim=False):
            names.insert(0, MAIN)
        return sorted(names, key=lambda name: (name != MAIN, name))

    def sessions(self, client: str) -> list[tuple[str, Session]]:
        return [(name, self.session(client, name, create=False)) for name in self.names(client)]

    async def close(self, client: str, name: str) -> Session:
        """Break what runs there, stop its Stata and forget it; the closed session."""
        session = self.session(client, name, create=False)
        await session.stop_running()
        session.close()
        if name == MAIN and self._is_primary(client, claim=False):
            self._primary_retired = True  # a later `main` is a fresh Session of this client's
        else:
            del self._open[client][name]
            self._closed.append(session)
        return session

    def record_run(self, run_id: str, client: str, name: str) -> None:
        self._runs[run_id] = (client, name)

    def run_owner(self, run_id: str) -> tuple[str, str] | None:
        """The client and session that started the run in this process, if one did."""
        return self._runs.get(run_id)

    def may_see(self, client: str, run_id: str) -> bool:
        """The local client sees every kept run (its own earlier servers' too); an HTTP client
        only those it started."""
        owner = self._runs.get(run_id)
        return owner[0] == client if owner is not None else client == LOCAL

    def all_sessions(self) -> list[Session]:
        found = [s for opened in self._open.values() for s in opened.values()]
        if self._primary_client is not None and not self._primary_retired:
            found.insert(0, self.primary())
        return found

    async def stop_all(self) -> None:
        """Break every run (bounded) and stop the workers this registry started."""
        sessions = self.all_sessions()
        await asyncio.gather(*(session.stop_running() for session in sessions))
        for opened in self._open.values():
            for session in opened.values():
                session.close()
        for session in self._closed:
            session.close()

    def _is_primary(self, client: str, *, claim: bool) -> bool:
        if self._primary_retired:
            return False
        if self._primary_client is None and (claim or client == LOCAL):
            self._primary_client = client  # stdio's one client has it from the start
        return self._primary_client == client

    def _unknown(self, client: str, name: str) -> str:
        opened = self.names(client)
        listed = f"open sessions: {', '.join(opened)}" if opened else "no session is open"
        return f"no open Stata session named {name!r} ({listed}); list_sessions shows them"
