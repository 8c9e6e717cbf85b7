"""The official MCP TypeScript SDK client against our stdio server (`make e2e`; needs Node)."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
from ports import free_port, start_http_server
from sdk_client import call

from stata_tools.run.dofile import split_commands

pytestmark = pytest.mark.e2e

THIRTY_SECONDS = """\
* thirty seconds, never more than 5 s without a line of output
display "step 1"
sleep 5000
display "step 2"
sleep 5000
forvalues i = 1/2 {
    display "loop `i'"
    sleep 5000
}
sleep 8000
display "last"
"""


def test_a_30s_do_file_finishes_under_a_5s_timeout_reset_by_progress(
    node_client: Path, fake_stata_dir: Path, tmp_path: Path
) -> None:
    do_file = tmp_path / "thirty.do"
    do_file.write_text(THIRTY_SECONDS)
    env = {
        **os.environ,
        "STATA_PATH": str(fake_stata_dir),
        "STATA_TOOLS_RUN_DIR": str(tmp_path / "runs"),
        "STATA_TOOLS_HEARTBEAT_S": "2",
    }
    got = call(node_client, "run_do_file", {"path": str(do_file)}, 5000, env)
    assert got["ok"] is True, got
    assert got["isError"] is False
    assert got["text"].startswith("Stata ok · rc 0")
    assert 28 < got["wall_s"] < 60
    total = len(split_commands(THIRTY_SECONDS))
    values = [p["progress"] for p in got["progress"]]
    assert all(b > a for a, b in itertools.pairwise(values))
    assert {p["total"] for p in got["progress"]} == {total}
    assert values[-1] == total
    gaps = [b["t"] - a["t"] for a, b in zip(got["progress"], got["progress"][1:], strict=False)]
    assert max(gaps) < 5
    messages = [p["message"] for p in got["progress"]]
    assert any("thirty.do 2/7" in m and "sleep 5000" in m for m in messages)
    assert any("thirty.do 5/7" in m and "forvalues i = 1/2 {" in m for m in messages)
    assert any("thirty.do 6/7" in m and "sleep 8000" in m for m in messages)


# --- safe by default, through an independent client ----------------------------------------------


@pytest.fixture
def confined(fake_stata_dir: Path, tmp_path: Path) -> tuple[Path, dict]:
    """A project folder as the only root, a secret folder beside it, links between them."""
    project, secret = tmp_path / "project", tmp_path / "secret"
    project.mkdir()
    secret.mkdir()
    (project / "ok.do").write_text('display "inside"\n')
    (secret / "key.do").write_text('display "outside"\n')
    (project / "link.do").symlink_to(secret / "key.do")
    env = {
        **os.environ,
        "STATA_PATH": str(fake_stata_dir),
        "STATA_TOOLS_RUN_DIR": str(tmp_path / "runs"),
        "STATA_TOOLS_ROOTS": str(project),
    }
    return project, env


@pytest.mark.parametrize(
    ("code", "named"),
    [
        ("shell ls", "`shell` on line 1"),
        ("!ls", "`!` on line 1"),
        ("local c shell\n`c' ls", "`shell` (from a macro) on line 2"),
    ],
)
def test_the_policy_refuses_shell_escapes(
    node_client: Path, confined: tuple[Path, dict], code: str, named: str
) -> None:
    got = call(node_client, "run_code", {"code": code}, 30_000, confined[1])
    assert got["ok"] is True and got["isError"] is True, got
    assert got["text"].startswith("Nothing was run: the command policy refused a command.")
    assert named in got["text"]
    assert "STATA_TOOLS_ALLOW=shell" in got["text"]


@pytest.mark.parametrize("path", ["../secret/key.do", "link.do", "{secret}/key.do"])
def test_do_files_outside_the_roots_are_refused(
    node_client: Path, confined: tuple[Path, dict], path: str
) -> None:
    project, env = confined
    arguments = {"path": path.format(secret=project.parent / "secret"), "working_dir": str(project)}
    got = call(node_client, "run_do_file", arguments, 30_000, env)
    assert got["ok"] is True and got["isError"] is True, got
    assert f"is outside the allowed roots: {project.resolve()}" in got["text"]
    inside = call(node_client, "run_do_file", {"path": str(project / "ok.do")}, 30_000, env)
    assert inside["isError"] is False and "inside" in inside["text"]


def test_http_needs_the_token_and_then_streams_progress(
    node_client: Path, fake_stata_dir: Path, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "STATA_PATH": str(fake_stata_dir),
        "STATA_TOOLS_RUN_DIR": str(tmp_path / "runs"),
        "STATA_TOOLS_TOKEN": "e2e-secret-token",
        "STATA_TOOLS_HEARTBEAT_S": "1",
    }
    server = start_http_server(port, env)
    try:
        url = ("--url", f"http://127.0.0.1:{port}/mcp")
        code = "display 1\nsleep 1500\ndisplay 2\nsleep 1500\ndisplay 3\n"
        client_env = {k: v for k, v in env.items() if k != "STATA_TOOLS_TOKEN"}
        refused = call(node_client, "run_code", {"code": code}, 5000, client_env, url)
        assert (refused["connected"], refused["status"]) == (False, 401), refused
        wrong = call(
            node_client,
            "run_code",
            {"code": code},
            5000,
            client_env | {"MCP_BEARER_TOKEN": "x"},
            url,
        )
        assert (wrong["connected"], wrong["status"]) == (False, 401), wrong
        with_token = client_env | {"MCP_BEARER_TOKEN": "e2e-secret-token"}
        got = call(node_client, "run_code", {"code": code}, 5000, with_token, url)
        assert got["ok"] is True and got["isError"] is False, got
        values = [p["progress"] for p in got["progress"]]
        assert len(values) >= 3
        assert all(b > a for a, b in itertools.pairwise(values))
        assert values[-1] == len(split_commands(code)) == 5
    finally:
        server.terminate()
        server.wait(15)
