"""The README's tables say what the server serves: every tool, with its arguments, and no more."""

from __future__ import annotations

import re
from pathlib import Path

from fastmcp import Client

from stata_tools.mcp.server import mcp

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    match = re.search(rf"^## {title}\n(.*?)(?=^## )", README, re.S | re.M)
    assert match is not None, f"README.md has no '## {title}' section"
    return match.group(1)


def documented_tools() -> dict[str, list[str]]:
    """Each `name(arg, arg=default, …)` in the first column of the Tools table."""
    found: dict[str, list[str]] = {}
    for row in re.findall(r"^\| (.+?) \| .+ \|$", _section("Tools"), re.M):
        for name, args in re.findall(r"`(\w+)\((.*?)\)`", row):
            found[name] = [a.split("=")[0].strip() for a in re.split(r",\s*", args) if a.strip()]
    return found


async def test_the_tools_table_lists_every_served_tool_with_its_arguments() -> None:
    async with Client(mcp) as client:
        tools = await client.list_tools()
    served = {t.name: sorted(t.input_schema.get("properties", {})) for t in tools}
    assert {name: sorted(args) for name, args in documented_tools().items()} == served


async def test_the_prompts_table_lists_every_served_prompt() -> None:
    async with Client(mcp) as client:
        prompts = await client.list_prompts()
    documented = set(re.findall(r"^\| `(\w+)", _section("Prompts"), re.M))
    assert documented == {p.name for p in prompts}
