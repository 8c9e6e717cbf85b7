"""Who is asking and which of their sessions a call means: the state behind every tool."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import TypeVar

from fastmcp import Context
from fastmcp.exceptions import ToolError
from fastmcp.server.dependencies import get_access_token
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from stata_tools.stata.background import BackgroundRun, BackgroundRuns
from stata_tools.stata.engine import return_code
from stata_tools.stata.prestart import Prestart
from stata_tools.stata.runs import RUNNING_OR_INTERRUPTED, RunStore
from stata_tools.stata.session import Session, SessionBusy
from stata_tools.stata.sessions import (
    ANONYMOUS,
    LOCAL,
    MAIN,
    SessionNameError,
    SessionRegistry,
    TooManySessions,
    UnknownSession,
)
from stata_tools.stata.settings import Settings
from stata_tools.stata.supervisor import WorkerLost, WorkerStartError

T = TypeVar("T")

MCP_SESSION = "mcp-session:"  # a handshake-era HTTP client: its negotiated MCP session
_WATCHED = "stata_tools.watched"  # on a connection whose end is watched

_session: Session | None = None
_prestart: Prestart | None = None
_registry: SessionRegistry | None = None
_background: BackgroundRuns | None = None


def get_session() -> Session:
    """The process-wide session, created on first use (Stata itself starts at the first run)."""
    global _session
    if _session is None:
        _session = Session(Settings.from_env())  # Stata runs in a worker process
    return _session


def get_registry() -> SessionRegistry:
    """Every client's named sessions; the process-wide session is the first client's `main`."""
    global _registry
    if _registry is None:
        _registry = SessionRegistry(get_session().settings, get_session)
    return _registry


def get_background() -> BackgroundRuns:
    """The runs started with background=true in this process."""
    global _background
    if _background is None:
        _background = BackgroundRuns(get_session().settings.max_runs_kept)
    return _background


def client_of(ctx: Context) -> str:
    """Who is asking, for keeping sessions and runs apart: stdio has one client; over HTTP a
    handshake-era client is its MCP session, a 2026-07-28 one (which has no session) its bearer
    token. Shared mode makes every client the one local client."""
    if get_registry().settings.shared_sessions or ctx.transport not in ("sse", "streamable-http"):
        return LOCAL
    request = ctx.request_context
    http = request.request if request is not None else None
    handshake = request is not None and request.protocol_version not in MODERN_PROTOCOL_VERSIONS
    if handshake and http is not None and http.headers.get("mcp-session-id"):
        return MCP_SESSION + ctx.session_id  # negotiated: the SDK refuses ids it did not issue
    token = get_access_token()
    if token is not None:
        return "token:" + token.client_id
    return ANONYMOUS


def anonymous_refusal(what: str) -> str:
    """Why an anonymous HTTP client may not have `what`, and how to be told apart."""
    return (
        f"{what} is refused: this HTTP client sent no bearer token and has no MCP session "
        "(protocol 2026-07-28 has none), so nothing tells it from other such clients, which "
        "would see and stop its runs. Give each client its own token (start the server with "
        "STATA_TOOLS_TOKEN=token-a,token-b,… and send Authorization: Bearer <its token>), or, "
        "when every client is you, start it with STATA_TOOLS_SHARED_SESSIONS=1 to share "
        "sessions and runs knowingly. run_code and run_do_file in session main still work."
    )


def identified(ctx: Context, what: str, error: type[Exception] = ToolError) -> str:
    """The client, when it can be told apart from others (or shares knowingly); else `error`
    with what to do: anonymous HTTP clients get `main` and nothing that outlives a call."""
    client = client_of(ctx)
    if client == ANONYMOUS:
        raise error(anonymous_refusal(what))
    return client


def named_session(ctx: Context, name: str, *, create: bool = True) -> Session:
    """The caller's session by that name; a ToolError says what to do when there is none."""
    if name != MAIN:
        identified(ctx, f"session {name!r} (any session but {MAIN!r})")
    try:
        return get_registry().session(client_of(ctx), name, create=create)
    except (SessionNameError, TooManySessions, UnknownSession) as error:
        raise ToolError(str(error)) from None


def has_session(ctx: Context, name: str) -> bool:
    return name in get_registry().names(client_of(ctx))


def get_prestart() -> Prestart:
    """The background start of the process-wide session's Stata (begun only when enabled)."""
    global _prestart
    if _prestart is None:
        engine = get_session().engine
        assert engine is not None
        _prestart = Prestart(engine.start)
    return _prestart


def visible_runs(ctx: Context, error: type[Exception] = ToolError) -> RunStore:
    """The run store as this client may see it: its own runs, or every kept one when local;
    an anonymous HTTP client sees none (`error` says why)."""
    store = get_session().runs
    client = identified(ctx, "reaching runs by id (and listing them)", error)
    return store.only(lambda run_id: get_registry().may_see(client, run_id))


def adopt(ctx: Context, run_id: str) -> BackgroundRun | None:
    """A run this process knows in the background; else, when its folder records a Slurm job
    that has not ended (an earlier server submitted it), that job followed again from now on."""
    client = client_of(ctx)
    registry = get_registry()
    run = get_background().get(run_id)
    if run is not None:
        return run if registry.may_see(client, run_id) else None
    if registry.run_owner(run_id) is not None or not registry.may_see(client, run_id):
        return None  # this process's own (foreground) run, or not this client's
    if any(session.follows(run_id) for session in registry.all_sessions()):
        return None
    session = named_session(ctx, MAIN)
    if session.resumable(run_id) is None:
        return None
    run = get_background().resume(session, run_id, name=MAIN, client=client)
    registry.record_run(run_id, client, MAIN)
    return run


def adopt_all(ctx: Context) -> None:
    """Every visible run whose Slurm job an earlier server left unfinished, followed again."""
    for summary in visible_runs(ctx).summaries():
        if summary.status in (RUNNING_OR_INTERRUPTED, "detached"):
            adopt(ctx, summary.run_id)


def session_of(run_id: str) -> str | None:
    owner = get_registry().run_owner(run_id)
    return owner[1] if owner else None


async def query(fn: Callable[[ModuleType, ModuleType], T], ctx: Context, name: str) -> T:
    """A read between runs; Stata's own error (r(NNN)) or a busy session becomes a ToolError."""
    session = named_session(ctx, name, create=name == MAIN)  # a read opens no new Stata
    try:
        return await session.query(fn)
    except SessionBusy as error:
        raise ToolError(str(error)) from None
    except (WorkerLost, WorkerStartError) as error:
        raise ToolError(f"Stata's session was lost while answering: {error}") from None
    except SystemError as error:
        rc = return_code(str(error))
        message = " ".join(
            line for line in str(error).splitlines() if line and not line.startswith("r(")
        )
        raise ToolError(f"{message} (r({rc}))" if rc else message or "Stata refused") from None


def pending(client: str, name: str) -> bool:
    """Whether the client's session has a background run not yet ended: it is not closed."""
    return get_background().pending(client, name)


def expiry_tick(settings: Settings) -> float:
    """How often unused sessions are looked for: a tenth of the shorter limit, 50 ms to 5 s."""
    limits = [s for s in (settings.gone_client_grace_s, settings.idle_session_s) if s > 0]
    return min(5.0, max(0.05, min(limits, default=50.0) / 10))


def watch_client(ctx: Context) -> None:
    """An HTTP client is noted (its idle sessions close); a handshake-era one is watched, so its
    sessions close once its MCP session ends (the SDK unwinds the connection's exit stack then:
    client DELETE, the transport's idle timeout, a crash)."""
    if ctx.transport not in ("sse", "streamable-http"):
        return
    client = client_of(ctx)
    registry = get_registry()
    registry.seen(client)
    if not client.startswith(MCP_SESSION):
        return
    try:
        connection = getattr(ctx.session, "_connection", None)  # as FastMCP's ping middleware
    except RuntimeError:  # no MCP session after all
        return
    if connection is None or connection.state.get(_WATCHED):
        return
    connection.state[_WATCHED] = True

    async def left() -> None:
        registry.client_left(client)

    connection.exit_stack.push_async_callback(left)
