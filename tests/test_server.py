"""The MCP surface, through FastMCP's in-memory client: real dispatch, the shared fake Stata."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError

from stata_tools.mcp.server import get_session, mcp
from stata_tools.mcp.tools.runs import QUIET_START_S
from stata_tools.run.dofile import split_commands
from stata_tools.safety import sandbox
from stata_tools.safety.policy import Policy
from stata_tools.safety.roots import Roots


class Recorder:
    def __init__(self) -> None:
        self.progress: list[tuple[float, float | None, str | None]] = []
        self.logs: list[str] = []

    async def on_progress(self, progress: float, total: float | None, message: str | None) -> None:
        self.progress.append((progress, total, message))

    async def on_log(self, message) -> None:  # type: ignore[no-untyped-def]
        if message.logger == "stata.log":
            self.logs.append(message.data["msg"])


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def client(recorder: Recorder):
    async with Client(mcp, progress_handler=recorder.on_progress, log_handler=recorder.on_log) as c:
        yield c


def text_of(result) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(block.text for block in result.content if block.type == "text")


LOOPS_DO = """\
* a do-file with the shapes real ones have
version 17
global greeting "hello"
forvalues i = 1/3 {
    display "iteration `i'"
}
/* a block
   comment */
display "$greeting" + ///
    " world"
local n = 2 + 3   // trailing comment
display `n'
"""


async def test_tools_are_listed_without_output_schemas(client: Client) -> None:
    tools = {tool.name: tool for tool in await client.list_tools()}
    assert set(tools) == {
        "run_do_file",
        "run_code",
        "check_do_file",
        "session_status",
        "cancel_run",
        "run_status",
        "wait_run",
        "list_sessions",
        "close_session",
        "read_log",
        "read_dta_file",
        "read_data_file",
        "get_results",
        "compare_estimates",
        "describe_data",
        "summarize_data",
        "list_data",
        "codebook_data",
        "search_variables",
        "list_graphs",
        "export_graph",
        "stata_help",
        "install_package",
    }
    assert all(tool.output_schema is None for tool in tools.values())
    assert tools["run_do_file"].input_schema["required"] == ["path"]


async def test_run_code_returns_text_the_model_reads(client: Client) -> None:
    result = await client.call_tool("run_code", {"code": "display 1 + 1"})
    text = text_of(result)
    assert text.splitlines()[0].startswith("Stata ok · rc 0 · ")
    assert "\n2\n" in text + "\n"
    assert result.is_error is False
    assert result.structured_content is None
    assert result.meta["rc"] == 0
    assert result.meta["status"] == "ok"
    assert Path(result.meta["log_path"]).is_file()


async def test_a_run_over_within_the_quiet_start_comes_back_alone(
    client: Client, recorder: Recorder
) -> None:
    """No notification for a `display 1`: the result says it all, a millisecond sooner."""
    await client.call_tool("run_code", {"code": "display 0"})  # Stata up: the next run is quick
    alone = 0
    for _ in range(5):  # a loaded machine may stretch one past the quiet start
        recorder.progress.clear()
        recorder.logs.clear()
        began = time.monotonic()
        result = await client.call_tool("run_code", {"code": "display 1"})
        assert result.meta["status"] == "ok"
        if time.monotonic() - began < QUIET_START_S:
            assert recorder.progress == [] and recorder.logs == []
            alone += 1
    assert alone, "no `display 1` came back within the quiet start"


async def test_do_file_progress_counts_top_level_commands(
    client: Client, recorder: Recorder, tmp_path: Path
) -> None:
    do_file = tmp_path / "loops.do"
    source = LOOPS_DO + "sleep 100\n"  # past the quiet start: a run over sooner sends nothing
    do_file.write_text(source)
    total = len(split_commands(source))
    result = await client.call_tool("run_do_file", {"path": str(do_file)})
    text = text_of(result)
    assert result.is_error is False, text
    assert "iteration 3" in text
    assert "hello world" in text
    assert "\n5\n" in text + "\n"
    values = [p for p, _, _ in recorder.progress]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert {t for _, t, _ in recorder.progress} == {float(total)}
    assert values[-1] == total
    messages = [m or "" for _, _, m in recorder.progress]
    assert all(len(m) <= 200 for m in messages)
    assert any(f"loops.do {k}/{total}" in m for m in messages for k in range(2, total + 1))
    assert result.meta["commands_total"] == total == result.meta["commands_done"]


async def test_failing_do_file_reports_rc_message_and_line(client: Client, tmp_path: Path) -> None:
    do_file = tmp_path / "fails.do"
    do_file.write_text('display "before"\n\ndisplay nosuchvar\ndisplay "never"\n')
    result = await client.call_tool("run_do_file", {"path": str(do_file)}, raise_on_error=False)
    text = text_of(result)
    assert result.is_error is True
    assert text.splitlines()[0].startswith("Stata error · rc 111 · ")
    assert "Error r(111): nosuchvar not found" in text
    assert "Failing line 3 of fails.do: display nosuchvar" in text
    assert "never" not in text.split("--- output")[1]
    assert result.meta["error"]["line"] == 3


async def test_session_keeps_globals_and_run_code_locals(client: Client) -> None:
    await client.call_tool("run_code", {"code": "global KEEP 42\nlocal kept 7"})
    result = await client.call_tool("run_code", {"code": "display $KEEP + `kept'"})
    assert "\n49" in text_of(result)


def write(path: Path, content: str | None) -> Path:
    if content is not None:
        path.write_text(content)
    return path


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("missing.do", None, "does not exist"),
        ("", None, "is a directory"),
        ("empty.do", "", "is empty"),
        ("blank.do", "  \n\n", "is empty"),
        ("comments.do", "* only\n// comments\n/* and\nmore */\n", "only comments"),
    ],
)
async def test_bad_do_files_get_clear_errors_and_the_server_keeps_serving(
    client: Client, tmp_path: Path, name: str, content: str | None, expected: str
) -> None:
    path = write(tmp_path / name, content)
    with pytest.raises(ToolError, match=expected):
        await client.call_tool("run_do_file", {"path": str(path)})
    after = await client.call_tool("run_code", {"code": "display 3"})
    assert after.is_error is False


async def test_code_our_lexer_rejects_still_goes_to_stata(client: Client) -> None:
    result = await client.call_tool(
        "run_code", {"code": "display 1\n}\ndisplay 2"}, raise_on_error=False
    )
    text = text_of(result)
    assert "Note: progress is counted by heartbeat only: line 2" in text
    assert result.meta["commands_total"] == 0


async def test_missing_working_dir_is_refused(client: Client, tmp_path: Path) -> None:
    with pytest.raises(ToolError, match=r"working directory .*nowhere does not exist"):
        await client.call_tool(
            "run_code", {"code": "display 1", "working_dir": str(tmp_path / "nowhere")}
        )


async def test_latin1_do_file_runs_with_a_note(client: Client, tmp_path: Path) -> None:
    do_file = tmp_path / "old.do"
    do_file.write_bytes(b'* caf\xe9 \x92quoted\x92\ndisplay "ok from latin-1"\n')
    result = await client.call_tool("run_do_file", {"path": str(do_file)})
    text = text_of(result)
    assert result.is_error is False, text
    assert "ok from latin-1" in text
    assert "old.do is not UTF-8" in text


async def test_working_dir_is_where_relative_paths_resolve(client: Client, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "child.do").write_text('display "child ran"\n')
    home = os.getcwd()
    try:
        result = await client.call_tool(
            "run_do_file", {"path": "child.do", "working_dir": str(tmp_path / "sub")}
        )
    finally:
        await client.call_tool("run_code", {"code": f'cd "{home}"'})  # Stata's cd is the process's
    assert "child ran" in text_of(result)
    assert os.getcwd() == home


async def test_session_status_reports_the_fake(client: Client) -> None:
    await client.call_tool("run_code", {"code": "display 1"})
    result = await client.call_tool("session_status", {})
    text = text_of(result)
    assert "MP" in text
    assert result.meta["started"] is True
    assert result.meta["busy"] is False
    assert result.meta["edition"] == "mp"


@pytest.mark.skipif(
    (sandbox.seccomp_available() or sandbox.landlock_available()) is not None,
    reason="the OS sandbox is not available here",
)
async def test_session_status_says_which_protections_are_in_force(client: Client) -> None:
    await client.call_tool("run_code", {"code": "display 1"})
    result = await client.call_tool("session_status", {})
    text = text_of(result)
    assert "Starting programs: refused by seccomp" in text
    assert "Writes: only beneath" in text and "Landlock ABI" in text
    assert result.meta["sandbox"] == {"exec_filter": True, "write_limit": True}


async def test_read_dta_file_needs_no_stata(client: Client, tmp_path: Path) -> None:
    frame = {"make": ["AMC Concord", "VW Rabbit"], "foreign": [0, 1], "price": [4099, 4697]}
    path = tmp_path / "cars.dta"
    pyreadstat.write_dta(
        pd.DataFrame(frame),
        str(path),
        variable_value_labels={"foreign": {0: "Domestic", 1: "Foreign"}},
    )
    result = await client.call_tool("read_dta_file", {"path": str(path), "count": 5})
    text = text_of(result)
    assert "Domestic" in text and "Foreign" in text and "VW Rabbit" in text
    assert result.meta["n_obs"] == 2
    with pytest.raises(ToolError, match="no such file"):
        await client.call_tool("read_dta_file", {"path": str(tmp_path / "none.dta")})


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")
async def test_a_fifo_as_a_dta_or_a_log_is_refused_at_once_and_the_server_serves_on(
    client: Client, tmp_path: Path
) -> None:
    fifo = tmp_path / "pipe.dta"
    os.mkfifo(fifo)
    began = time.monotonic()
    with pytest.raises(ToolError, match=r"is a FIFO \(named pipe\), not a regular file"):
        await client.call_tool("read_dta_file", {"path": str(fifo)})
    ran = await client.call_tool("run_code", {"code": "display 6*7"})
    run_id = ran.meta["run_id"]
    log = Path(get_session().runs.folder(run_id)) / "run.log"
    log.unlink()
    os.mkfifo(log)
    with pytest.raises(ToolError, match=r"the log of run .* cannot be read: .* is a FIFO"):
        await client.call_tool("read_log", {"run_id": run_id, "tail_lines": 5})
    assert time.monotonic() - began < 10
    status = await client.call_tool("session_status", {})
    assert status.meta["started"] is True


# --- allowed roots --------------------------------------------------------------------------------


@pytest.fixture
def confined(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shared session allowed only tmp_path/project; tmp_path/secret lies outside."""
    project, secret = tmp_path / "project", tmp_path / "secret"
    project.mkdir()
    secret.mkdir()
    (project / "ok.do").write_text('display "inside"\n')
    (secret / "key.do").write_text('display "outside"\n')
    session = get_session()
    roots = Roots((project.resolve(),))
    monkeypatch.setattr(session, "settings", dataclasses.replace(session.settings, roots=roots))
    return tmp_path


@pytest.mark.parametrize(
    ("path", "working_dir"),
    [
        ("secret/key.do", None),
        ("project/../secret/key.do", None),
        ("../secret/key.do", "project"),
        ("project/link.do", None),
        ("project/door/key.do", None),
    ],
)
async def test_do_files_outside_the_roots_are_refused(
    client: Client, confined: Path, path: str, working_dir: str | None
) -> None:
    (confined / "project" / "link.do").symlink_to(confined / "secret" / "key.do")
    (confined / "project" / "door").symlink_to(confined / "secret", target_is_directory=True)
    args = {"path": str(confined / path)}
    if working_dir:
        args = {"path": path, "working_dir": str(confined / working_dir)}
    with pytest.raises(ToolError) as refused:
        await client.call_tool("run_do_file", args)
    assert "is outside the allowed roots: " + str((confined / "project").resolve()) in str(
        refused.value
    )
    result = await client.call_tool("run_do_file", {"path": str(confined / "project" / "ok.do")})
    assert "inside" in text_of(result)


async def test_working_dirs_and_dta_files_outside_the_roots_are_refused(
    client: Client, confined: Path
) -> None:
    with pytest.raises(ToolError, match=r"working directory .* is outside the allowed roots"):
        await client.call_tool("run_code", {"code": "display 1", "working_dir": str(confined)})
    with pytest.raises(ToolError, match=r"\.dta file .* is outside the allowed roots"):
        await client.call_tool("read_dta_file", {"path": str(confined / "secret" / "x.dta")})


async def test_roots_the_client_announces_are_allowed_too(confined: Path) -> None:
    secret = (confined / "secret").as_uri()
    async with Client(mcp, roots=[secret]) as announcing:
        result = await announcing.call_tool(
            "run_do_file", {"path": str(confined / "secret" / "key.do")}
        )
    assert "outside" in text_of(result) and result.is_error is False


# --- the command policy ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "named"),
    [
        ("shell ls", "`shell` on line 2"),  # line 1 sets a global
        ("display 1\n!ls -la", "`!` on line 3"),
        ("local c shell\n`c' rm -rf ~", "`shell` (from a macro) on line 3"),
        ('capture noisily python: print("hi")', "`python` on line 2"),
        ("forvalues i = 1/2 {\n    erase f`i'.dta\n}", "`erase` on line 3"),
        ("#delimit ;\nssc install reghdfe ;", "`ssc install` on line 3"),
    ],
)
async def test_the_policy_refuses_before_anything_runs(
    client: Client, code: str, named: str
) -> None:
    await client.call_tool("run_code", {"code": 'global before "kept"'})
    with pytest.raises(ToolError) as refused:
        await client.call_tool("run_code", {"code": 'global before "changed"\n' + code})
    message = str(refused.value)
    assert message.startswith("Nothing was run: the command policy refused a command.")
    assert named in message
    assert "STATA_TOOLS_ALLOW=" in message
    kept = await client.call_tool("run_code", {"code": 'display "$before"'})
    assert "\nkept" in text_of(kept)


async def test_a_do_file_calling_a_shell_do_file_is_refused(client: Client, tmp_path: Path) -> None:
    (tmp_path / "helper.do").write_text("display 1\nwinexec notepad\n")
    main = tmp_path / "main.do"
    main.write_text('do "helper.do"\n')
    with pytest.raises(ToolError, match=r"`winexec` on line 2 of helper\.do"):
        await client.call_tool("run_do_file", {"path": str(main), "working_dir": str(tmp_path)})


async def test_allowed_categories_reach_stata(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = get_session()
    allowing = dataclasses.replace(session.settings, policy=Policy(frozenset({"erase"})))
    monkeypatch.setattr(session, "settings", allowing)
    result = await client.call_tool(
        "run_code", {"code": "capture erase no-such-file.dta\ndisplay _rc"}
    )
    assert result.is_error is False  # Stata ran it: the file's absence is Stata's to report
    after = text_of(result).split(". display _rc\n")[1]
    assert after.strip().isdigit() and after.strip() != "0"


# --- checking before running ----------------------------------------------------------------------


async def test_check_do_file_reports_without_running(client: Client, tmp_path: Path) -> None:
    (tmp_path / "child.do").write_text("display 1\nshell ls\n")
    main = tmp_path / "main.do"
    main.write_text('global ran "yes"\ndo child\nforeach v in a {\n  display `v\'\n')
    await client.call_tool("run_code", {"code": 'global ran "no"'})
    result = await client.call_tool("check_do_file", {"path": str(main)})
    text = text_of(result)
    assert result.is_error is False
    assert text.splitlines()[0] == (
        "Checked main.do without Stata: 2 problems the run would hit · 3 commands · calls 1 do-file"
    )
    assert "- main.do line 3: `{` is never closed by a `}`" in text
    assert "- child.do line 2: shell ls: `shell` runs an operating-system command" in text
    assert f"- line 2: do child → {tmp_path / 'child.do'} · 2 commands" in text
    assert result.meta["ok"] is False and result.meta["command_lines"] == [1, 2, 3]
    assert [(p["kind"], p["file"], p["line"]) for p in result.meta["problems"]] == [
        ("unclosed-brace", "main.do", 3),
        ("refused", "child.do", 2),
    ]
    unchanged = await client.call_tool("run_code", {"code": 'display "$ran"'})
    assert "\nno" in text_of(unchanged)  # nothing in main.do ran


async def test_check_do_file_refuses_bad_paths_clearly(client: Client, confined: Path) -> None:
    with pytest.raises(ToolError, match=r"do-file .*key\.do is outside the allowed roots"):
        await client.call_tool("check_do_file", {"path": str(confined / "secret" / "key.do")})
    with pytest.raises(ToolError, match=r"nope\.do does not exist: check the path"):
        await client.call_tool("check_do_file", {"path": str(confined / "project" / "nope.do")})
    ok = await client.call_tool("check_do_file", {"path": str(confined / "project" / "ok.do")})
    assert text_of(ok).startswith("Checked ok.do without Stata: no problems found · 1 command")


async def test_progress_follows_a_called_do_file(
    client: Client, recorder: Recorder, tmp_path: Path
) -> None:
    (tmp_path / "01_clean.do").write_text('display "a"\nsleep 300\ndisplay "b"\nsleep 300\n')
    master = tmp_path / "master.do"
    master.write_text('display "start"\ndo 01_clean.do\ndisplay "end"\n')
    result = await client.call_tool(
        "run_do_file", {"path": str(master), "working_dir": str(tmp_path)}
    )
    assert result.is_error is False
    messages = [m or "" for _, _, m in recorder.progress]
    assert any(m.startswith("master.do 2/3 › 01_clean.do 2/4 · ") for m in messages), messages
    assert any(m.startswith("master.do 2/3 › 01_clean.do 4/4 · ") for m in messages), messages
    values = [p for p, _, _ in recorder.progress]
    assert values == sorted(values) and len(set(values)) == len(values) and values[-1] == 3


async def test_an_error_in_a_called_do_file_is_reported_at_its_line(
    client: Client, tmp_path: Path
) -> None:
    (tmp_path / "01_clean.do").write_text('display "a"\n\ndisplay nosuchvar\n')
    master = tmp_path / "master.do"
    master.write_text('display "start"\ndo 01_clean.do\ndisplay "never"\n')
    arguments = {"path": str(master), "working_dir": str(tmp_path)}
    result = await client.call_tool("run_do_file", arguments, raise_on_error=False)
    text = text_of(result)
    assert result.is_error is True
    assert "Failing line 3 of 01_clean.do: display nosuchvar" in text
    assert result.meta["error"]["line"] == 3


async def test_run_do_file_with_the_batch_executor(
    client: Client, recorder: Recorder, tmp_path: Path
) -> None:
    do_file = tmp_path / "as_batch.do"
    do_file.write_text('display "one"\nsleep 300\ndisplay "two"\n', encoding="utf-8")
    result = await client.call_tool("run_do_file", {"path": str(do_file), "executor": "batch"})
    assert "two" in text_of(result)
    job = result.meta["job"]
    assert job["executor"] == "batch" and job["state"] == "completed" and job["job_id"].isdigit()
    assert result.meta["log_path"] == str(tmp_path / "as_batch.log")
    messages = [m for _, _, m in recorder.progress if m]
    assert any(m.startswith("batch pid ") and "as_batch.do" in m for m in messages)


async def test_run_do_file_refuses_an_array_outside_slurm(client: Client, tmp_path: Path) -> None:
    do_file = tmp_path / "x.do"
    do_file.write_text("display 1\n", encoding="utf-8")
    with pytest.raises(ToolError, match="array need executor='slurm'"):
        await client.call_tool("run_do_file", {"path": str(do_file), "array": "1-3"})
