"""SessionRegistry: each client's named sessions (each its own Session and Stata) and its runs."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio

from stata_tools.run.durations import format_elapsed
from stata_tools.stata.session import Session
from stata_tools.stata.settings import Settings

MAIN = "main"
LOCAL = "local"
"""The client of stdio and in-memory connections (there is one), and every client when shared."""
ANONYMOUS = "http-anonymous"
"""HTTP clients with neither a token nor an MCP session: nothing tells one from another, so they
share `main` and may reach no run by id (not even their own)."""

SESSION_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")


class SessionNameError(ValueError):
    """A session name we would not keep; the message says what a name may hold."""


class TooManySessions(RuntimeError):
    """The client already has the most sessions the settings allow."""


class UnknownSession(LookupError):
    """The client has no open session by that name."""


@dataclass(frozen=True, slots=True)
class Closing:
    """When a session will be closed unless it is used first, and why."""

    at: float | None  # on the registry's clock; None: not while a run of it goes on
    reason: str


Pending = Callable[[str, str], bool]
"""Whether (client, session) has a background run that has not ended (not even begun)."""


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
    clock: Callable[[], float] = time.monotonic
    _remote: set[str] = field(default_factory=set, init=False)  # HTTP clients: idle ones close
    _gone: dict[str, float] = field(default_factory=dict, init=False)  # client → when it left
    _expired: dict[tuple[str, str], str] = field(default_factory=dict, init=False)  # → why

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
        self._expired.pop((client, name), None)
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
        if client == ANONYMOUS:
            return False
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
        why = self._expired.get((client, name))
        closed = f"; it was closed {why}, with its data, and a run opens a fresh one" if why else ""
        return f"no open Stata session named {name!r} ({listed}){closed}; list_sessions shows them"

    # --- closing sessions nobody uses ------------------------------------------------------

    def seen(self, client: str) -> None:
        """An HTTP client: it can vanish without a word, so its idle sessions are closed."""
        self._remote.add(client)

    def client_left(self, client: str) -> None:
        """Its MCP session ended (DELETE, the transport's idle timeout, a crash): its sessions
        close after the grace period, each once its background runs have ended."""
        self._gone.setdefault(client, self.clock())

    def closing(self, client: str, name: str, pending: Pending) -> Closing | None:
        """When the client's session will be closed if nothing uses it first; None: never."""
        session = self.session(client, name, create=False)
        idle = None if pending(client, name) else session.idle_since()
        gone = self._gone.get(client)
        if gone is not None:
            grace = self.settings.gone_client_grace_s
            reason = f"{format_elapsed(grace)} after its client's MCP session ended"
            return Closing(None if idle is None else max(gone + grace, idle), reason)
        limit = self.settings.idle_session_s
        if client not in self._remote or limit <= 0:
            return None
        reason = f"after {format_elapsed(limit)} unused (STATA_TOOLS_IDLE_SESSION_S)"
        return Closing(None if idle is None else idle + limit, reason)

    def due(self, pending: Pending) -> list[tuple[str, str, str]]:
        """(client, session, why) of every session whose time to close has come."""
        now = self.clock()
        found = []
        for client in {*self._open, *([self._primary_client] if self._primary_client else [])}:
            for name in self.names(client):
                closing = self.closing(client, name, pending)
                if closing is not None and closing.at is not None and closing.at <= now:
                    found.append((client, name, closing.reason))
        return found

    async def close_unused(self, pending: Pending) -> list[tuple[str, str, str]]:
        """Close every session that is due (forgotten at once, its Stata stopped off the loop);
        a client that has left is forgotten with its last session."""
        due = self.due(pending)
        stopping = []
        for client, name, reason in due:
            stopping.append(self._forget(client, name))
            self._expired[(client, name)] = reason
        for client in list(self._gone):
            if not self.names(client):
                del self._gone[client]
                self._remote.discard(client)
                self._expired = {k: v for k, v in self._expired.items() if k[0] != client}
        for session in stopping:
            await anyio.to_thread.run_sync(session.close)
        return due

    def _forget(self, client: str, name: str) -> Session:
        """Take the session out of the registry (no await: nothing can slip in between)."""
        session = self.session(client, name, create=False)
        if name == MAIN and self._is_primary(client, claim=False):
            self._primary_retired = True
        else:
            del self._open[client][name]
        self._closed.append(session)
        return session
