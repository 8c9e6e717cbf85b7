"""HTTP serving as users start it: a bearer token off loopback, Host/Origin checks, progress."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx  # what fastmcp 4.2.3 ships as its HTTP client (httpx itself is absent)
import pytest
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from ports import free_port, wait_for_port

from stata_tools.mcp.http import HttpSecurity, SharedTokenVerifier, announce, is_loopback
from stata_tools.run.dofile import split_commands

REPO = Path(__file__).resolve().parents[1]
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "http-test", "version": "0"},
    },
}
SERVE = [sys.executable, "-m", "stata_tools", "serve", "--transport", "http"]
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    stdout: Path
    stderr: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def post(self, **headers: str) -> httpx.Response:
        """A raw initialize POST, as a browser or curl would send it."""
        sent = {**MCP_HEADERS, **{k.replace("_", "-"): v for k, v in headers.items()}}
        return httpx.post(self.url, json=INITIALIZE, headers=sent, timeout=10)


@contextlib.contextmanager
def serve(tmp_path: Path, host: str = "127.0.0.1", **env: str) -> Iterator[Server]:
    """`stata-tools serve --transport http` with the fake Stata; SIGTERM and a clean exit after."""
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("STATA_TOOLS_")}
    full_env = {
        **base,
        "STATA_PATH": str(REPO / "tests" / "fake_stata"),
        "STATA_TOOLS_RUN_DIR": str(tmp_path / "runs"),
        "FASTMCP_LOG_LEVEL": "WARNING",
        **env,
    }
    out, err = tmp_path / f"stdout-{port}.txt", tmp_path / f"stderr-{port}.txt"
    with out.open("wb") as out_file, err.open("wb") as err_file:
        proc = subprocess.Popen(
            [*SERVE, "--host", host, "--port", str(port)],
            stdout=out_file,
            stderr=err_file,
            env=full_env,
            cwd=REPO,
        )
    server = Server(proc, port, out, err)
    try:
        try:
            wait_for_port(port, proc)
        except AssertionError:
            raise AssertionError(err.read_text()) from None
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("open")) as server:
        yield server


TOKEN = "test-token-0123456789"


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("token"), STATA_TOOLS_TOKEN=TOKEN) as server:
        yield server


def text_of(result) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(block.text for block in result.content if block.type == "text")


class Progress:
    def __init__(self) -> None:
        self.seen: list[tuple[float, float | None, str]] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.seen.append((progress, total, message or ""))


async def wait_until(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "condition not met in time"
        await asyncio.sleep(0.02)


# --- loopback without a token -------------------------------------------------------------------


async def test_loopback_without_a_token_initializes_and_runs_code(open_server: Server) -> None:
    assert open_server.post().status_code == 200
    async with Client(open_server.url) as client:
        result = await client.call_tool("run_code", {"code": "display 1"})
    text = text_of(result)
    assert text.startswith("Stata ok · rc 0"), text
    assert "\n1" in text


@pytest.mark.parametrize("host", ["evil.example:{port}", "evil.example", "127.0.0.1:1"])
def test_a_foreign_host_header_is_misdirected(open_server: Server, host: str) -> None:
    reply = open_server.post(Host=host.format(port=open_server.port))
    assert reply.status_code == 421  # the MCP SDK's answer to a Host it does not serve


@pytest.mark.parametrize("origin", ["http://evil.example", "http://localhost:1", "null"])
def test_a_foreign_origin_is_forbidden(open_server: Server, origin: str) -> None:
    assert open_server.post(Origin=origin).status_code == 403


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_this_servers_own_names_and_origins_are_accepted(open_server: Server, host: str) -> None:
    authority = f"{host}:{open_server.port}"
    reply = open_server.post(Host=authority, Origin=f"http://{authority}")
    assert reply.status_code == 200


# --- STATA_TOOLS_TOKEN --------------------------------------------------------------------------


def test_a_missing_token_is_unauthorized(token_server: Server) -> None:
    reply = token_server.post()
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("authorization", [f"Bearer {TOKEN}x", "Bearer test", f"Basic {TOKEN}"])
def test_a_wrong_token_is_unauthorized(token_server: Server, authorization: str) -> None:
    reply = token_server.post(Authorization=authorization)
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"].startswith("Bearer")


def test_the_right_token_is_let_in(token_server: Server) -> None:
    assert token_server.post(Authorization=f"Bearer {TOKEN}").status_code == 200


def test_host_checks_come_before_the_token(token_server: Server) -> None:
    bad_host = token_server.post(Host=f"evil.example:{token_server.port}")
    assert bad_host.status_code == 421
    bad_origin = token_server.post(Authorization=f"Bearer {TOKEN}", Origin="http://evil.example")
    assert bad_origin.status_code == 403


async def test_a_client_with_the_token_gets_progress_during_a_run(token_server: Server) -> None:
    code = 'display "one"\nsleep 150\ndisplay "two"\nsleep 150\ndisplay "three"\n'
    total = len(split_commands(code))
    progress = Progress()
    transport = StreamableHttpTransport(
        token_server.url, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    async with Client(transport, progress_handler=progress) as client:
        result = await client.call_tool("run_code", {"code": code})
    text = text_of(result)
    assert text.startswith("Stata ok · rc 0"), text
    assert "three" in text
    values = [value for value, _, _ in progress.seen]
    assert len(values) >= 2, progress.seen
    assert values == sorted(values) and len(set(values)) == len(values)
    assert {t for _, t, _ in progress.seen} == {float(total)}
    assert values[-1] == total


async def test_cancel_over_http_stops_the_run(token_server: Server) -> None:
    progress = Progress()
    async with Client(token_server.url, auth=TOKEN) as client:
        call = asyncio.create_task(
            client.call_tool("run_code", {"code": "sleep 60000"}, progress_handler=progress)
        )
        await wait_until(lambda: any("1/1" in m for _, _, m in progress.seen))
        cancelled_at = time.monotonic()
        call.cancel()  # the SDK sends notifications/cancelled
        with pytest.raises(asyncio.CancelledError):
            await call

        async def newest_status() -> str:
            contents = await client.read_resource("stata://runs")
            return json.loads(contents[0].text)["runs"][0]["status"]  # type: ignore[union-attr]

        while (status := await newest_status()) == "running":
            assert time.monotonic() - cancelled_at < 3, "the run outlived its cancel"
            await asyncio.sleep(0.05)
        assert status == "cancelled"
        after = await client.call_tool("run_code", {"code": "display 2+2"})
        assert "\n4" in text_of(after)


# --- binding off loopback -----------------------------------------------------------------------

GENERATED = re.compile(r"Authorization: Bearer ([A-Za-z0-9_-]{40,})")


async def test_a_wildcard_bind_generates_a_token_and_prints_it_once(tmp_path: Path) -> None:
    with serve(tmp_path, host="0.0.0.0") as server:
        stderr = server.stderr.read_text()
        (token,) = GENERATED.findall(stderr)
        assert stderr.count(token) == 1
        assert "claude mcp add --transport http" in stderr
        assert "STATA_TOOLS_TOKEN" in stderr
        assert server.post().status_code == 401
        assert server.post(Authorization="Bearer guess").status_code == 401
        assert server.post(Authorization=f"Bearer {token}").status_code == 200
        async with Client(server.url, auth=token) as client:
            result = await client.call_tool("run_code", {"code": "display 7"})
        assert "\n7" in text_of(result)
    assert server.proc.returncode == 0
    assert token not in server.stdout.read_text()
    assert server.stderr.read_text().count(token) == 1


def test_a_bad_allowed_hosts_entry_stops_the_server_with_a_message(tmp_path: Path) -> None:
    env = {**os.environ, "STATA_TOOLS_ALLOWED_HOSTS": "example.com:https"}
    done = subprocess.run(
        [*SERVE, "--port", str(free_port())],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 2
    assert "STATA_TOOLS_ALLOWED_HOSTS" in done.stderr and "example.com:https" in done.stderr


# --- HttpSecurity.from_env ----------------------------------------------------------------------


LOOPBACK = ["127.0.0.1", "127.0.0.2", "localhost", "LocalHost", "::1", "[::1]"]


@pytest.mark.parametrize("host", LOOPBACK)
def test_loopback_binds_need_no_token(host: str) -> None:
    assert is_loopback(host)
    security = HttpSecurity.from_env(host, 8000, {})
    assert security.loopback
    assert security.token is None and not security.token_generated


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "10.0.0.1", "example.com"])
def test_other_binds_get_a_generated_token(host: str) -> None:
    assert not is_loopback(host)
    first = HttpSecurity.from_env(host, 8000, {})
    second = HttpSecurity.from_env(host, 8000, {"STATA_TOOLS_TOKEN": ""})
    assert first.token_generated and second.token_generated
    assert first.token and second.token and first.token != second.token
    assert len(first.token) >= 43  # secrets.token_urlsafe(32)


def test_a_token_from_the_environment_wins_on_loopback_too() -> None:
    for host in ("127.0.0.1", "0.0.0.0"):
        security = HttpSecurity.from_env(host, 8000, {"STATA_TOOLS_TOKEN": " mine "})
        assert security.token == "mine" and not security.token_generated


def test_loopback_allows_only_this_servers_names() -> None:
    security = HttpSecurity.from_env("127.0.0.1", 8123, {})
    assert set(security.allowed_hosts) == {"127.0.0.1:8123", "localhost:8123", "[::1]:8123"}
    assert set(security.allowed_origins) == {
        "http://127.0.0.1:8123",
        "http://localhost:8123",
        "http://[::1]:8123",
    }
    other = HttpSecurity.from_env("127.0.0.2", 8123, {})
    assert "127.0.0.2:8123" in other.allowed_hosts


def test_a_specific_address_allows_itself_and_the_listed_hosts() -> None:
    env = {"STATA_TOOLS_ALLOWED_HOSTS": " mcp.example.com , 10.0.0.7:9000,[fe80::1]:8000,fe80::2,"}
    security = HttpSecurity.from_env("192.168.1.5", 8123, env)
    assert security.allowed_hosts == (
        "192.168.1.5:8123",
        "mcp.example.com",
        "mcp.example.com:8123",
        "10.0.0.7:9000",
        "[fe80::1]:8000",
        "[fe80::2]",
        "[fe80::2]:8123",
    )
    assert "localhost:8123" not in security.allowed_hosts
    assert "http://192.168.1.5:8123" in security.allowed_origins
    assert "https://mcp.example.com" in security.allowed_origins
    assert "http://evil.example" not in security.allowed_origins


def test_a_wildcard_bind_allows_loopback_and_this_machines_name() -> None:
    security = HttpSecurity.from_env("0.0.0.0", 8123, {})
    assert {"127.0.0.1:8123", "localhost:8123"} <= set(security.allowed_hosts)
    assert f"{socket.gethostname().lower()}:8123" in security.allowed_hosts
    assert "0.0.0.0:8123" not in security.allowed_hosts


def test_a_bad_port_in_allowed_hosts_is_refused() -> None:
    with pytest.raises(ValueError, match="STATA_TOOLS_ALLOWED_HOSTS"):
        HttpSecurity.from_env("0.0.0.0", 8000, {"STATA_TOOLS_ALLOWED_HOSTS": "a.example:x"})


async def test_each_of_several_tokens_is_a_client_of_its_own() -> None:
    verifier = SharedTokenVerifier("token-a-000001, token-b-000002")
    a = await verifier.verify_token("token-a-000001")
    b = await verifier.verify_token("token-b-000002")
    assert a is not None and b is not None and a.client_id != b.client_id
    assert a.client_id.startswith("token-") and "000001" not in a.client_id
    assert await verifier.verify_token("token-a-000001, token-b-000002") is None
    assert await verifier.verify_token("") is None
    assert (await SharedTokenVerifier("one").verify_token("one")).client_id == "stata-tools"  # type: ignore[union-attr]


async def test_the_verifier_accepts_only_the_exact_token() -> None:
    verifier = SharedTokenVerifier("s3cret")
    assert await verifier.verify_token("s3cret") is not None
    for wrong in ("s3cre", "s3cret ", "S3CRET", "", "sécret"):
        assert await verifier.verify_token(wrong) is None


def test_the_start_up_note_says_when_2026_clients_would_share_sessions() -> None:
    def note(env: dict[str, str], shared: bool = False) -> str:
        err = io.StringIO()
        announce(HttpSecurity.from_env("127.0.0.1", 8000, env), err, shared=shared)
        return err.getvalue()

    assert "those sharing one share sessions and runs" in note({})
    assert "those with none get session main alone" in note({})
    assert "those sharing one share" in note({"STATA_TOOLS_TOKEN": "only-one-token-00"})
    assert "kept apart" not in note({"STATA_TOOLS_TOKEN": "token-a-000001,token-b-000002"})
    assert "kept apart" not in note({}, shared=True)
