"""Named sessions: names, the cap, clients kept apart, and sessions that run at the same time."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx  # what fastmcp 4.2.3 ships as its HTTP client (httpx itself is absent)
import pytest
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from fastmcp.exceptions import ToolError
from platforms import pid_probes
from ports import free_port, start_http_server

from stata_tools.mcp import context, server
from stata_tools.mcp.server import get_session, mcp
from stata_tools.stata.session import Session
from stata_tools.stata.sessions import (
    LOCAL,
    MAIN,
    SessionNameError,
    SessionRegistry,
    TooManySessions,
    UnknownSession,
    check_name,
)
from stata_tools.stata.settings import Settings, SettingsError


def text_of(result) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(block.text for block in result.content if block.type == "text")


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[SessionRegistry]:
    settings = Settings(run_dir=tmp_path / "runs", max_sessions=3)
    primary = Session(settings)
    made = SessionRegistry(settings, lambda: primary)
    yield made
    for session in made.all_sessions():
        session.close()


@pytest.mark.parametrize("name", ["main", "models-2", "A_b", "x" * 32])
def test_a_short_name_of_letters_digits_dash_and_underscore_is_kept(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "x" * 33, "two words", "../etc", "ünï", "a;b", "a\n"])
def test_any_other_name_is_refused_saying_what_a_name_may_hold(name: str) -> None:
    with pytest.raises(SessionNameError, match=r"use 1 to 32 letters, digits, `_` or `-`"):
        check_name(name)


def test_the_local_clients_main_is_the_process_wide_session(registry: SessionRegistry) -> None:
    primary = registry.primary()
    assert registry.session(LOCAL) is primary
    assert registry.names(LOCAL) == [MAIN]
    other = registry.session(LOCAL, "other")
    assert other is not primary and registry.session(LOCAL, "other") is other
    assert registry.names(LOCAL) == [MAIN, "other"]


def test_each_client_has_its_own_sessions_under_one_name(registry: SessionRegistry) -> None:
    first = registry.session("mcp-session:a")  # the first HTTP client gets the prestartable one
    second = registry.session("mcp-session:b")
    assert first is registry.primary() and second is not first
    assert registry.session("mcp-session:a", "x") is not registry.session("mcp-session:b", "x")
    assert registry.names("mcp-session:b") == [MAIN, "x"]
    with pytest.raises(UnknownSession, match=r"no open Stata session named 'y' \(open sessions"):
        registry.session("mcp-session:a", "y", create=False)


def test_the_cap_names_the_open_sessions_and_close_session(registry: SessionRegistry) -> None:
    for name in (MAIN, "b", "c"):
        registry.session(LOCAL, name)
    with pytest.raises(TooManySessions) as refused:
        registry.session(LOCAL, "d")
    message = str(refused.value)
    assert "3 open Stata sessions (main, b, c)" in message
    assert "STATA_TOOLS_MAX_SESSIONS=3" in message and "close_session" in message
    registry.session("mcp-session:other", "d")  # the cap is each client's


async def test_closing_forgets_a_session_and_a_later_main_is_fresh(
    registry: SessionRegistry,
) -> None:
    registry.session(LOCAL, "b")
    await registry.close(LOCAL, "b")
    assert registry.names(LOCAL) == [MAIN]
    primary = registry.primary()
    await registry.close(LOCAL, MAIN)
    assert registry.names(LOCAL) == []
    assert registry.session(LOCAL) is not primary


def test_a_run_is_seen_by_the_client_that_started_it(registry: SessionRegistry) -> None:
    registry.record_run("20260101-000000-000001", "mcp-session:a", "b")
    assert registry.may_see("mcp-session:a", "20260101-000000-000001")
    assert not registry.may_see("mcp-session:b", "20260101-000000-000001")
    assert not registry.may_see(LOCAL, "20260101-000000-000001")
    assert registry.may_see(LOCAL, "20250101-000000-000001")  # an earlier server's run
    assert not registry.may_see("mcp-session:a", "20250101-000000-000001")
    assert registry.run_owner("20260101-000000-000001") == ("mcp-session:a", "b")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def timed(tmp_path: Path) -> Iterator[tuple[SessionRegistry, Clock]]:
    """A registry on a clock of our own: sessions close after 100 s unused, 10 s after their
    client left."""
    clock = Clock()
    settings = Settings(
        run_dir=tmp_path / "runs", max_sessions=3, idle_session_s=100, gone_client_grace_s=10
    )
    primary = Session(settings, clock=clock)
    made = SessionRegistry(
        settings, lambda: primary, factory=lambda s: Session(s, clock=clock), clock=clock
    )
    yield made, clock
    for session in made.all_sessions():
        session.close()


def nothing_pending(client: str, name: str) -> bool:
    return False


async def test_an_http_clients_unused_session_closes_after_the_idle_limit(
    timed: tuple[SessionRegistry, Clock],
) -> None:
    registry, clock = timed
    registry.seen("token:a")
    registry.session("token:a", "models")
    closing = registry.closing("token:a", "models", nothing_pending)
    assert closing is not None and closing.at == 1100.0
    assert closing.reason == "after 1m40s unused (STATA_TOOLS_IDLE_SESSION_S)"
    clock.now = 1099.9
    assert await registry.close_unused(nothing_pending) == []
    clock.now = 1100.0
    closed = await registry.close_unused(nothing_pending)
    assert closed == [("token:a", "models", closing.reason)]
    assert registry.names("token:a") == []
    with pytest.raises(UnknownSession) as gone:
        registry.session("token:a", "models", create=False)
    assert "it was closed after 1m40s unused (STATA_TOOLS_IDLE_SESSION_S), with its data" in str(
        gone.value
    )
    assert registry.session("token:a", "models") is not None  # a run opens a fresh one


async def test_the_local_client_keeps_its_sessions_however_long_unused(
    timed: tuple[SessionRegistry, Clock],
) -> None:
    registry, clock = timed
    registry.session(LOCAL, "b")  # stdio: the server ends with its one client
    assert registry.closing(LOCAL, "b", nothing_pending) is None
    clock.now += 1e6
    assert await registry.close_unused(nothing_pending) == []
    assert registry.names(LOCAL) == [MAIN, "b"]


async def test_a_departed_clients_sessions_close_after_the_grace_period_its_runs_first(
    timed: tuple[SessionRegistry, Clock],
) -> None:
    registry, clock = timed
    client = "mcp-session:gone"
    registry.seen(client)
    for name in (MAIN, "side", "long"):
        registry.session(client, name)
    registry.client_left(client)
    running = {"long"}  # a background run there has not ended

    def pending(owner: str, name: str) -> bool:
        return owner == client and name in running

    closing = registry.closing(client, "side", pending)
    assert closing is not None and closing.at == 1010.0
    assert closing.reason == "10.0s after its client's MCP session ended"
    long = registry.closing(client, "long", pending)
    assert long is not None and long.at is None  # not while its run goes on
    clock.now = 1010.0
    closed = await registry.close_unused(pending)
    assert sorted(name for _, name, _ in closed) == [MAIN, "side"]
    assert registry.names(client) == ["long"]
    clock.now = 5000.0  # long after: still kept while the run goes on
    assert await registry.close_unused(pending) == []
    running.clear()  # the run ended: closed at the next look
    assert [name for _, name, _ in await registry.close_unused(pending)] == ["long"]
    assert registry.names(client) == [] and client not in registry._gone


async def test_a_session_at_work_is_not_idle(timed: tuple[SessionRegistry, Clock]) -> None:
    registry, clock = timed
    registry.seen("token:a")
    session = registry.session("token:a", "busy")
    with session._at_work():
        assert session.idle_since() is None
        clock.now = 2000.0
        assert await registry.close_unused(nothing_pending) == []
    assert session.idle_since() == 2000.0  # unused from the end of its work
    closing = registry.closing("token:a", "busy", nothing_pending)
    assert closing is not None and closing.at == 2100.0


@pytest.fixture
async def sessions_client(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Client]:
    """The in-memory server with a registry of its own (at most 3 sessions) around the shared
    process-wide session."""
    settings = dataclasses.replace(get_session().settings, max_sessions=3)
    fresh = SessionRegistry(settings, get_session)
    monkeypatch.setattr(context, "_registry", fresh)
    try:
        async with Client(mcp) as client:
            yield client
    finally:
        for session in fresh.all_sessions():
            if session is not get_session():
                session.close()


async def test_runs_in_two_sessions_go_on_at_the_same_time(sessions_client: Client) -> None:
    client = sessions_client
    for name in ("main", "second"):  # start both Statas first: the timing is of the runs
        await client.call_tool("run_code", {"code": "display 1", "session": name})
    began = time.monotonic()
    one, two = await asyncio.gather(
        client.call_tool("run_code", {"code": "sleep 1500", "session": "main"}),
        client.call_tool("run_code", {"code": "sleep 1500", "session": "second"}),
    )
    took = time.monotonic() - began
    assert one.meta["status"] == two.meta["status"] == "ok"
    assert 1.5 <= took < 2.4, f"two 1.5 s runs in two sessions took {took:.2f} s"


async def test_each_session_has_its_own_stata_and_data(sessions_client: Client) -> None:
    client = sessions_client
    await client.call_tool("run_code", {"code": "global WHERE main_session"})
    await client.call_tool("run_code", {"code": "global WHERE other_one", "session": "other"})
    main = await client.call_tool("run_code", {"code": 'display "$WHERE"'})
    other = await client.call_tool("run_code", {"code": 'display "$WHERE"', "session": "other"})
    assert "\nmain_session" in text_of(main) and "\nother_one" in text_of(other)
    listed = await client.call_tool("list_sessions", {})
    rows = {row["session"]: row for row in listed.meta["sessions"]}
    assert list(rows) == ["main", "other"]
    assert rows["main"]["worker_pid"] != rows["other"]["worker_pid"]
    assert all(row["started"] and not row["busy"] for row in rows.values())
    assert "2 of at most 3 sessions" in text_of(listed)
    status = await client.call_tool("session_status", {"session": "other"})
    assert text_of(status).startswith("Stata ")
    assert "\nSession: other (list_sessions" in text_of(status)
    assert status.meta["worker_pid"] == rows["other"]["worker_pid"]


async def test_inspection_tools_read_the_session_they_name(sessions_client: Client) -> None:
    client = sessions_client
    await client.call_tool("run_code", {"code": "sysuse auto, clear", "session": "cars"})
    await client.call_tool("run_code", {"code": "clear"})
    described = await client.call_tool("describe_data", {"session": "cars"})
    assert "Observations:            74" in text_of(described) and "price" in text_of(described)
    await client.call_tool("run_code", {"code": "summarize price", "session": "cars"})
    stored = await client.call_tool("get_results", {"session": "cars"})
    assert stored.meta["scalars"]["r(N)"] == 74
    main = await client.call_tool("describe_data", {})
    assert "price" not in text_of(main)  # main was cleared; cars kept its data
    for tool in ("describe_data", "get_results", "list_graphs", "close_session"):
        with pytest.raises(ToolError, match=r"no open Stata session named 'nowhere'"):
            await client.call_tool(tool, {"session": "nowhere"})
    assert "nowhere" not in server.get_registry().names(LOCAL)  # reading opened nothing


async def test_the_cap_and_bad_names_are_clear_errors(sessions_client: Client) -> None:
    client = sessions_client
    for name in ("main", "b", "c"):
        await client.call_tool("run_code", {"code": "display 1", "session": name})
    with pytest.raises(ToolError) as refused:
        await client.call_tool("run_code", {"code": "display 1", "session": "d"})
    assert "3 open Stata sessions (main, b, c)" in str(refused.value)
    assert "close_session" in str(refused.value)
    with pytest.raises(ToolError, match="session name 'no good' is not allowed"):
        await client.call_tool("run_code", {"code": "display 1", "session": "no good"})
    closed = await client.call_tool("close_session", {"session": "c"})
    assert text_of(closed) == "Closed session c: its Stata stopped and its data are gone."
    again = await client.call_tool("run_code", {"code": "display 1", "session": "d"})
    assert again.meta["status"] == "ok"


async def test_close_session_breaks_its_run_and_stops_its_stata(sessions_client: Client) -> None:
    client = sessions_client
    await client.call_tool("run_code", {"code": "display 1", "session": "busy"})
    worker = server.get_registry().session(LOCAL, "busy").engine
    call = asyncio.create_task(
        client.call_tool(
            "run_code", {"code": "sleep 60000", "session": "busy"}, raise_on_error=False
        )
    )
    while worker.active is None:  # type: ignore[union-attr]
        await asyncio.sleep(0.02)
    closed = await client.call_tool("close_session", {"session": "busy"})
    assert "was sent a break first" in text_of(closed)
    result = await asyncio.wait_for(call, 10)
    assert result.meta["status"] == "cancelled"
    assert worker.pid is None  # type: ignore[union-attr]
    assert "busy" not in server.get_registry().names(LOCAL)


@contextlib.contextmanager
def http_server(fake_stata: Path, tmp_path: Path, **env: str) -> Iterator[str]:
    """`stata-tools serve --transport http` on loopback with the fake Stata; its /mcp URL."""
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("STATA_TOOLS_")}
    full = {
        **base,
        "STATA_PATH": str(fake_stata),
        "STATA_TOOLS_RUN_DIR": str(tmp_path / "runs"),
        "FASTMCP_LOG_LEVEL": "WARNING",
        **env,
    }
    proc = start_http_server(port, full)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def http_client(url: str, token: str | None = None, mode: str = "legacy") -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return Client(StreamableHttpTransport(url, headers=headers), mode=mode)  # type: ignore[arg-type]


async def listed_runs(client: Client) -> list[str]:
    contents = await client.read_resource("stata://runs")
    return [run["run_id"] for run in json.loads(contents[0].text)["runs"]]


async def try_to_reach(other: Client, run_ids: list[str]) -> None:
    """Everything a client could do with another's runs is refused as for an unknown run."""
    assert not set(run_ids) & set(await listed_runs(other))
    for run_id in run_ids:
        unknown = f"no kept run has id '{run_id}'"
        for tool in ("read_log", "run_status", "wait_run", "cancel_run"):
            with pytest.raises(ToolError, match=unknown):
                await other.call_tool(tool, {"run_id": run_id})
        with pytest.raises(Exception, match=unknown):
            await other.read_resource(f"stata://runs/{run_id}/log")


async def isolation(a: Client, b: Client) -> None:
    """A's runs (one done, one in the background) out of B's sight and reach; their data apart."""
    done = await a.call_tool("run_code", {"code": 'global OWNER "client a"\ndisplay "a ran"'})
    background = await a.call_tool("run_code", {"code": "sleep 2500", "background": True})
    mine = [done.meta["run_id"], background.meta["run_id"]]
    assert set(mine) <= set(await listed_runs(a))
    await try_to_reach(b, mine)
    assert "none yet" in text_of(await b.call_tool("list_sessions", {}))
    theirs = await b.call_tool("run_code", {"code": 'display "owner: $OWNER."'})
    assert "\nowner: ." in text_of(theirs)  # B's own Stata, not A's busy one
    assert theirs.meta["run_id"] not in await listed_runs(a)
    assert "a ran" in text_of(await a.call_tool("read_log", {"run_id": mine[0]}))
    listed = await a.call_tool("list_sessions", {})
    assert listed.meta["sessions"][0]["current_run"] == mine[1]
    waited = await a.call_tool("wait_run", {"run_id": mine[1], "timeout_s": 20})
    assert waited.meta["status"] == "ok"  # B's cancel reached nothing


async def test_two_handshake_era_http_clients_cannot_see_each_others_runs(
    fake_stata_dir: Path, tmp_path: Path
) -> None:
    with http_server(fake_stata_dir, tmp_path) as url:
        async with http_client(url) as a, http_client(url) as b:
            await isolation(a, b)


async def test_on_2026_07_28_each_token_is_a_client_of_its_own(
    fake_stata_dir: Path, tmp_path: Path
) -> None:
    with http_server(
        fake_stata_dir, tmp_path, STATA_TOOLS_TOKEN="token-for-a-0001,token-for-b-0002"
    ) as url:
        a = http_client(url, "token-for-a-0001", mode="auto")
        b = http_client(url, "token-for-b-0002", mode="auto")
        async with a, b:
            await isolation(a, b)


async def test_in_shared_mode_every_client_sees_every_run(
    fake_stata_dir: Path, tmp_path: Path
) -> None:
    with http_server(fake_stata_dir, tmp_path, STATA_TOOLS_SHARED_SESSIONS="1") as url:
        async with http_client(url) as a, http_client(url) as b:
            done = await a.call_tool("run_code", {"code": 'global OWNER "client a"'})
            assert done.meta["run_id"] in await listed_runs(b)
            seen = await b.call_tool("run_code", {"code": 'display "owner: $OWNER."'})
            assert "\nowner: client a." in text_of(seen)


async def test_a_background_run_outlives_the_client_that_started_it(
    fake_stata_dir: Path, tmp_path: Path
) -> None:
    with http_server(fake_stata_dir, tmp_path, STATA_TOOLS_TOKEN=ONE_TOKEN) as url:
        async with http_client(url, ONE_TOKEN, mode="auto") as first:
            started = await first.call_tool(
                "run_code", {"code": 'sleep 1000\ndisplay "still here"', "background": True}
            )
        async with http_client(url, ONE_TOKEN, mode="auto") as later:  # its token: one client
            waited = await later.call_tool(
                "wait_run", {"run_id": started.meta["run_id"], "timeout_s": 20}
            )
    assert waited.meta["status"] == "ok" and "still here" in text_of(waited)


ONE_TOKEN = "the-one-token-0123"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # the server reaps the workers it stops: no zombie lingers
    except ProcessLookupError:
        return False
    return True


async def until(condition, timeout_s: float = 15.0) -> float:  # type: ignore[no-untyped-def]
    """Poll until `condition()` holds; when it did."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)
    return time.monotonic()


def worker_pids(listed) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {row["session"]: row["worker_pid"] for row in listed.meta["sessions"]}


@pid_probes
async def test_a_departed_clients_sessions_close_after_the_grace_its_background_run_first(
    fake_stata_dir: Path, tmp_path: Path
) -> None:
    with http_server(fake_stata_dir, tmp_path, STATA_TOOLS_GONE_CLIENT_GRACE_S="0.3") as url:
        async with http_client(url) as client:  # handshake era: the end of its MCP session
            await client.call_tool("run_code", {"code": "display 1", "session": "side"})
            started = await client.call_tool(
                "run_code",
                {"code": 'sleep 2500\ndisplay "finished"', "session": "long", "background": True},
            )
            pids = worker_pids(await client.call_tool("list_sessions", {}))
            assert pids["long"] is None or alive(pids["long"])
            while pids["long"] is None:  # its Stata starts in the background
                pids = worker_pids(await client.call_tool("list_sessions", {}))
        # the client left (DELETE of its MCP session): `side` closes after the grace period,
        # `long` only once its background run has ended, which it is left to do
        await until(lambda: not alive(pids["side"]))
        assert alive(pids["long"])
        await until(lambda: not alive(pids["long"]))
    run_id = started.meta["run_id"]
    result = json.loads((tmp_path / "runs" / run_id / "result.json").read_text())
    assert result["status"] == "ok"
    assert "finished" in (tmp_path / "runs" / run_id / "run.log").read_text()


@pid_probes
async def test_an_http_clients_unused_session_closes_and_list_sessions_says_when(
    fake_stata_dir: Path, tmp_path: Path
) -> None:
    with http_server(
        fake_stata_dir, tmp_path, STATA_TOOLS_TOKEN=ONE_TOKEN, STATA_TOOLS_IDLE_SESSION_S="1.5"
    ) as url:
        async with http_client(url, ONE_TOKEN, mode="auto") as client:
            await client.call_tool("run_code", {"code": "display 1", "session": "models"})
            listed = await client.call_tool("list_sessions", {})
            row = listed.meta["sessions"][0]
            assert row["session"] == "models" and row["closes_at"] is not None
            assert row["closes"] == "after 1.5s unused (STATA_TOOLS_IDLE_SESSION_S)"
            assert "; closes at " in text_of(listed) and "UTC unless used before" in text_of(listed)
            pid = row["worker_pid"]
            await until(lambda: not alive(pid))
            assert (await client.call_tool("list_sessions", {})).meta["sessions"] == []
            with pytest.raises(ToolError, match=r"it was closed after 1.5s unused"):
                await client.call_tool("session_status", {"session": "models"})
            again = await client.call_tool("run_code", {"code": "display 2", "session": "models"})
            assert again.meta["status"] == "ok"  # a run opens a fresh one


def raw_session(url: str) -> tuple[httpx.Client, Callable[[str, dict[str, Any]], Any]]:
    """A handshake-era client by hand, which can leave without DELETE: tools/call → result."""
    http = httpx.Client(timeout=30)
    headers = {"Accept": "application/json, text/event-stream"}
    ids = iter(range(1, 1000))

    def post(message: dict[str, Any]) -> Any:
        answer = http.post(url, json={"jsonrpc": "2.0", **message}, headers=headers)
        answer.raise_for_status()
        for line in answer.text.splitlines():
            if line.startswith("data: ") and '"result"' in line:
                return json.loads(line[6:])["result"]
        return None

    hello = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw"}}
    answer = http.post(
        url,
        json={"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": hello},
        headers=headers,
    )
    headers["Mcp-Session-Id"] = answer.headers["mcp-session-id"]
    headers["Mcp-Protocol-Version"] = "2025-11-25"
    post({"method": "notifications/initialized"})

    def call(tool: str, arguments: dict[str, Any]) -> Any:
        params = {"name": tool, "arguments": arguments}
        return post({"id": next(ids), "method": "tools/call", "params": params})

    return http, call


@pid_probes
async def test_a_client_that_vanishes_without_a_word_is_let_go_when_its_mcp_session_expires(
    fake_stata_dir: Path, tmp_path: Path
) -> None:
    """No DELETE: the transport's idle timeout (FASTMCP_HTTP_SESSION_IDLE_TIMEOUT) ends the
    MCP session, and the client's sessions close after the grace period."""
    with http_server(
        fake_stata_dir,
        tmp_path,
        STATA_TOOLS_GONE_CLIENT_GRACE_S="0.2",
        FASTMCP_HTTP_SESSION_IDLE_TIMEOUT="1",
    ) as url:
        http, call = raw_session(url)
        try:
            ran = call("run_code", {"code": "display 1", "session": "side"})
            assert ran["_meta"]["status"] == "ok"
            listed = call("list_sessions", {})
            pid = {r["session"]: r["worker_pid"] for r in listed["_meta"]["sessions"]}["side"]
        finally:
            http.close()  # the connection goes, the MCP session stays: no DELETE
        assert alive(pid)
        await until(lambda: not alive(pid))  # no request for 1 s: the MCP session ended


async def test_an_anonymous_2026_client_gets_main_and_nothing_that_others_could_reach(
    fake_stata_dir: Path, tmp_path: Path
) -> None:
    with http_server(fake_stata_dir, tmp_path) as url:  # loopback, no token
        async with http_client(url, mode="auto") as a, http_client(url, mode="auto") as b:
            done = await a.call_tool("run_code", {"code": 'display "a ran"'})
            assert done.meta["status"] == "ok" and "a ran" in text_of(done)
            run_id = done.meta["run_id"]
            how = r"STATA_TOOLS_TOKEN=token-a,token-b.*STATA_TOOLS_SHARED_SESSIONS=1"
            refused = [
                ("run_code", {"code": "display 1", "session": "other"}, "session 'other'"),
                ("run_code", {"code": "display 1", "background": True}, "background=true"),
                ("read_log", {"run_id": run_id}, "reaching runs by id"),
                ("run_status", {"run_id": run_id}, "reaching runs by id"),
                ("wait_run", {"run_id": run_id}, "reaching runs by id"),
                ("cancel_run", {"run_id": run_id}, "cancel_run"),
                ("cancel_run", {}, "cancel_run"),
                ("close_session", {"session": "other"}, "session 'other'"),
            ]
            for client in (a, b):  # its own run as much as another's: they look the same
                for tool, args, what in refused:
                    with pytest.raises(ToolError, match=f"{what}.*is refused.*{how}"):
                        await client.call_tool(tool, args)
                for uri in ("stata://runs", f"stata://runs/{run_id}/log"):
                    with pytest.raises(Exception, match="is refused: this HTTP client sent no"):
                        await client.read_resource(uri)
            running = asyncio.create_task(a.call_tool("run_code", {"code": "sleep 1500"}))
            status = await b.call_tool("session_status", {})
            while not status.meta["busy"]:
                status = await b.call_tool("session_status", {})
            assert "Busy: running a run; 0 queued." in text_of(status)
            assert "current_run" not in status.meta  # None, dropped on the wire
            theirs = (await running).meta["run_id"]
            assert theirs not in text_of(status)


async def test_in_shared_mode_an_anonymous_2026_client_has_it_all(
    fake_stata_dir: Path, tmp_path: Path
) -> None:
    with http_server(fake_stata_dir, tmp_path, STATA_TOOLS_SHARED_SESSIONS="1") as url:
        async with http_client(url, mode="auto") as a, http_client(url, mode="auto") as b:
            started = await a.call_tool(
                "run_code", {"code": 'display "shared"', "session": "other", "background": True}
            )
            waited = await b.call_tool(
                "wait_run", {"run_id": started.meta["run_id"], "timeout_s": 20}
            )
    assert waited.meta["status"] == "ok" and "shared" in text_of(waited)


async def test_two_sessions_finishing_do_files_keep_both_in_the_history(
    sessions_client: Client, tmp_path: Path
) -> None:
    client = sessions_client
    first, second = tmp_path / "first.do", tmp_path / "second.do"
    first.write_text("sleep 600\ndisplay 1\n")
    second.write_text("display 2\nsleep 300\n")
    await asyncio.gather(
        client.call_tool("run_do_file", {"path": str(first)}),
        client.call_tool("run_do_file", {"path": str(second), "session": "other"}),
    )
    history = json.loads((get_session().settings.run_dir / "timings.json").read_text())
    assert {str(first), str(second)} <= set(history["files"])


async def test_cancel_run_by_id_breaks_a_foreground_run_in_another_session(
    sessions_client: Client,
) -> None:
    client = sessions_client
    await client.call_tool("run_code", {"code": "display 1", "session": "side"})
    call = asyncio.create_task(
        client.call_tool(
            "run_code", {"code": "sleep 60000", "session": "side"}, raise_on_error=False
        )
    )
    run_id = None
    while run_id is None:
        listed = await client.call_tool("list_sessions", {})
        run_id = {r["session"]: r for r in listed.meta["sessions"]}["side"]["current_run"]
        await asyncio.sleep(0.05)
    main_idle = await client.call_tool("cancel_run", {})  # main runs nothing: left alone
    assert text_of(main_idle) == "No run is active: nothing to cancel."
    answer = await client.call_tool("cancel_run", {"run_id": run_id})
    assert text_of(answer) == (
        f"Sent a break to run {run_id} in session side; its call ends with status cancelled."
    )
    result = await asyncio.wait_for(call, 10)
    assert result.meta["status"] == "cancelled" and result.meta["session"] == "side"


def test_the_closing_limits_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {"STATA_TOOLS_GONE_CLIENT_GRACE_S": "5", "STATA_TOOLS_IDLE_SESSION_S": "0"}
    )
    assert (settings.gone_client_grace_s, settings.idle_session_s) == (5.0, 0.0)
    defaults = Settings.from_env({})
    assert (defaults.gone_client_grace_s, defaults.idle_session_s) == (60.0, 14_400.0)
    with pytest.raises(SettingsError, match=r"STATA_TOOLS_IDLE_SESSION_S='-1' is below"):
        Settings.from_env({"STATA_TOOLS_IDLE_SESSION_S": "-1"})


async def test_idle_limit_zero_keeps_an_http_clients_sessions(
    timed: tuple[SessionRegistry, Clock],
) -> None:
    registry, clock = timed
    registry.settings = dataclasses.replace(registry.settings, idle_session_s=0)
    registry.seen("token:a")
    registry.session("token:a", "b")
    assert registry.closing("token:a", "b", nothing_pending) is None
    clock.now += 1e6
    assert await registry.close_unused(nothing_pending) == []
