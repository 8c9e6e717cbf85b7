"""The prompts through MCP: listed with their arguments, fetched, and naming only real tools."""

from __future__ import annotations

import re

import pytest
from fastmcp import Client
from fastmcp.exceptions import McpError

from stata_tools.mcp.server import mcp

EXPECTED = {
    "run_and_report": ["path", "focus"],
    "fix_last_error": ["run_id"],
    "check_before_run": ["path"],
    "compare_models": ["names"],
    "describe_dataset": ["path"],
}
REQUIRED = {"run_and_report": {"path"}, "check_before_run": {"path"}}


async def test_prompts_are_listed_with_their_arguments() -> None:
    async with Client(mcp) as client:
        listed = {p.name: p for p in await client.list_prompts()}
    assert {name: [a.name for a in p.arguments or []] for name, p in listed.items()} == EXPECTED
    for name, prompt in listed.items():
        assert prompt.description, name
        required = {a.name for a in prompt.arguments or [] if a.required}
        assert required == REQUIRED.get(name, set()), name


@pytest.mark.parametrize(
    ("name", "arguments", "said"),
    [
        ("run_and_report", {"path": "analysis.do"}, "run_do_file"),
        ("run_and_report", {"path": "a.do", "focus": "the IV estimates"}, "Focus on: the IV"),
        ("fix_last_error", {}, "most recent failed run"),
        ("fix_last_error", {"run_id": "20261204-1"}, "run 20261204-1"),
        ("check_before_run", {"path": "long.do"}, "check_do_file on it"),
        ("compare_models", {"names": "m1 m2"}, "stored estimates m1 m2"),
        ("describe_dataset", {}, "data in Stata's memory"),
        ("describe_dataset", {"path": "survey.sav"}, "the file survey.sav"),
    ],
)
async def test_a_prompt_is_fetched_with_its_arguments(
    name: str, arguments: dict[str, str], said: str
) -> None:
    async with Client(mcp) as client:
        result = await client.get_prompt(name, arguments)
    assert [m.role for m in result.messages] == ["user"]
    text = result.messages[0].content.text
    assert said in text
    assert all(value in text for value in arguments.values())


async def test_a_prompt_without_its_required_argument_is_refused() -> None:
    async with Client(mcp) as client:
        with pytest.raises(McpError, match="path"):
            await client.get_prompt("check_before_run", {})


async def test_every_tool_a_prompt_names_is_served() -> None:
    """Each prompt with only its required arguments and with all of them: both texts."""
    calls = [(n, {a: "x" for a in REQUIRED.get(n, ())}) for n in EXPECTED]
    calls += [(n, {a: "x" for a in args}) for n, args in EXPECTED.items()]
    async with Client(mcp) as client:
        tools = await client.list_tools()
        texts = [(await client.get_prompt(n, a)).messages[0].content.text for n, a in calls]
    served = {t.name for t in tools}
    parameters = {arg for t in tools for arg in t.input_schema.get("properties", {})}
    named = {word for text in texts for word in re.findall(r"\b[a-z]+(?:_[a-z]+)+\b", text)}
    assert named - parameters <= served
    assert {"run_do_file", "read_data_file", "describe_data"} <= named  # both variants read
