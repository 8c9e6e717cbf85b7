"""install_package through MCP: an SSC install allowed and reported, a URL refused, a bad name
refused, and `ssc install` in run_code still refused by the policy (pointing at the tool)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError
from package_site import make_package, serve

from stata_tools.mcp import context
from stata_tools.mcp.server import get_session, mcp
from stata_tools.stata.session import Session


def texts(result) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(block.text for block in result.content if block.type == "text")


@dataclasses.dataclass
class Server:
    client: Client
    progress: list[str | None]
    plus: Path
    ssc: Path
    site: Path


@pytest.fixture
async def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Server]:
    """The server on a fresh Stata with HOME (so PLUS) in tmp_path, SSC in a folder of ours, and
    the default policy: installs refused in code."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("FAKE_STATA_SSC", str(tmp_path / "ssc"))
    settings = dataclasses.replace(get_session().settings, run_dir=tmp_path / "runs")
    assert "install" in settings.policy.refused  # type: ignore[union-attr]
    fresh = Session(settings)
    monkeypatch.setattr(context, "_session", fresh)
    progress: list[str | None] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(message)

    try:
        async with Client(mcp, progress_handler=on_progress) as client:
            yield Server(
                client, progress, tmp_path / "ado" / "plus", tmp_path / "ssc", tmp_path / "site"
            )
    finally:
        fresh.close()


async def test_the_tool_is_listed_with_its_arguments(server: Server) -> None:
    tools = {tool.name: tool for tool in await server.client.list_tools()}
    schema = tools["install_package"].input_schema
    assert schema["required"] == ["name"]
    assert set(schema["properties"]) == {"name", "source", "from_url", "replace", "session"}
    assert schema["properties"]["source"]["enum"] == ["ssc", "net"]


async def test_an_ssc_install_is_allowed_and_reported(server: Server) -> None:
    make_package(server.ssc, "mypkg", "hello")
    result = await server.client.call_tool("install_package", {"name": "mypkg"})
    lines = texts(result).splitlines()
    assert lines[0] == f"mypkg installed from SSC into {server.plus}/"
    assert lines[1:5] == [
        "Files:",
        f"  {server.plus}/m/mypkg.ado",
        f"  {server.plus}/m/mypkg.sthlp",
        f"  {server.plus}/_/_mypkg_util.ado",
    ]
    assert result.meta["status"] == "installed" and result.meta["plus"] == f"{server.plus}/"
    assert result.meta["files"][0] == f"{server.plus}/m/mypkg.ado"
    assert (server.plus / "m" / "mypkg.ado").is_file()
    assert any("ssc install mypkg" in (m or "") for m in server.progress), server.progress
    log = await server.client.call_tool("read_log", {"run_id": result.meta["run_id"]})
    assert "installation complete." in texts(log)  # the install's run is the client's own
    used = await server.client.call_tool("run_code", {"code": "mypkg"})
    assert "hello from mypkg" in texts(used)
    again = await server.client.call_tool("install_package", {"name": "mypkg"})
    assert "already installed" in texts(again) and again.meta["status"] == "up_to_date"


async def test_ssc_install_in_run_code_is_still_refused_and_points_at_the_tool(
    server: Server,
) -> None:
    make_package(server.ssc, "mypkg")
    with pytest.raises(ToolError) as refused:
        await server.client.call_tool("run_code", {"code": "ssc install mypkg"})
    message = str(refused.value)
    assert "Nothing was run: the command policy refused a command." in message
    assert "`ssc install` on line 1 installs, updates or removes Stata packages" in message
    assert "use the install_package tool instead" in message
    assert not server.plus.exists()


async def test_a_url_not_in_the_setting_is_refused_with_what_is_allowed(server: Server) -> None:
    make_package(server.site, "webpkg", letter_folder=False)
    with serve(server.site) as url, pytest.raises(ToolError) as refused:
        await server.client.call_tool(
            "install_package", {"name": "webpkg", "source": "net", "from_url": url}
        )
    message = str(refused.value)
    assert f"{url} is not beneath a site STATA_TOOLS_INSTALL_SOURCES allows" in message
    assert "(it allows ssc)" in message and "To allow more, add `ssc` or a URL prefix" in message
    assert not server.plus.exists()


async def test_an_allowed_site_installs_over_http(server: Server) -> None:
    make_package(server.site, "webpkg", "web", letter_folder=False)
    session = context._session
    assert session is not None
    with serve(server.site) as url:
        session.settings = dataclasses.replace(session.settings, install_sources=("ssc", url))
        result = await server.client.call_tool(
            "install_package", {"name": "webpkg", "source": "net", "from_url": url}
        )
    assert texts(result).splitlines()[0] == f"webpkg installed from {url} into {server.plus}/"
    assert result.meta["from_url"] == url


@pytest.mark.parametrize(
    "name", ["reghdfe; shell rm -rf ~", 'reghdfe", replace', "reg hdfe", "9lives", "x" * 33]
)
async def test_a_bad_name_is_refused_before_stata_is_asked(server: Server, name: str) -> None:
    with pytest.raises(ToolError, match="is not a Stata package name"):
        await server.client.call_tool("install_package", {"name": name})
    assert not server.plus.exists()


async def test_unknown_packages_and_bad_sources_are_clear_errors(server: Server) -> None:
    server.ssc.mkdir()
    with pytest.raises(ToolError) as missing:
        await server.client.call_tool("install_package", {"name": "nonexist"})
    assert str(missing.value).startswith("nonexist was not found at SSC (r(601))")
    with pytest.raises(ToolError, match="source='net' needs from_url"):
        await server.client.call_tool("install_package", {"name": "x", "source": "net"})
    with pytest.raises(ToolError, match="ssc"):
        await server.client.call_tool("install_package", {"name": "x", "source": "github"})


def test_the_server_s_instructions_name_the_tool() -> None:
    assert "install a community package with\ninstall_package(name)" in (mcp.instructions or "")


async def test_a_busy_session_says_so_and_nothing_is_installed(server: Server) -> None:
    make_package(server.ssc, "mypkg")
    started = await server.client.call_tool("run_code", {"code": "sleep 20000", "background": True})
    run_id = started.meta["run_id"]
    await server.client.call_tool("wait_run", {"run_id": run_id, "timeout_s": 1})  # it has begun
    try:
        with pytest.raises(ToolError) as busy:
            await server.client.call_tool("install_package", {"name": "mypkg"})
        assert "Stata is busy with run" in str(busy.value)
        assert "The install reads the session's PLUS folder first." in str(busy.value)
    finally:
        await server.client.call_tool("cancel_run", {"run_id": run_id})
    assert not server.plus.exists()
