"""Background runs with executor="batch" and "slurm" through the MCP tools (run_status,
wait_run, cancel_run by id, stata://runs), and a restarted server finding its Slurm jobs again
from the run store. The Slurm tests use the real test cluster (tests/slurm_cluster.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastmcp import Client

from stata_tools.mcp import context
from stata_tools.mcp.server import mcp
from stata_tools.stata.background import BackgroundRuns
from stata_tools.stata.session import Session
from stata_tools.stata.sessions import SessionRegistry
from stata_tools.stata.settings import Settings

Progress = list[tuple[float, float | None, str | None]]


def text_of(result) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(block.text for block in result.content if block.type == "text")


@dataclasses.dataclass
class Server:
    """The state one server process holds (its session, registry, background runs)."""

    session: Session
    background: BackgroundRuns


@pytest.fixture
def start_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake_stata_dir: Path
) -> Iterator[Callable[[], Server]]:
    """A server's state on one run folder; calling it again is a restart (new objects)."""
    settings = dataclasses.replace(
        Settings.from_env(),
        stata_path=str(fake_stata_dir),
        run_dir=tmp_path / "runs",
        heartbeat_s=0.5,
        slurm_poll_s=1,
    )
    started: list[Server] = []

    def start() -> Server:
        session = Session(settings)
        server = Server(session, BackgroundRuns())
        monkeypatch.setattr(context, "_session", session)
        monkeypatch.setattr(context, "_registry", SessionRegistry(settings, lambda: session))
        monkeypatch.setattr(context, "_background", server.background)
        started.append(server)
        return server

    yield start
    for server in started:
        server.session.close()


async def start_run(client: Client, do_file: Path, **args: object) -> str:
    started = await client.call_tool(
        "run_do_file", {"path": str(do_file), "background": True, **args}
    )
    assert started.meta["background"] is True
    return started.meta["run_id"]


async def wait(client: Client, run_id: str, timeout_s: float = 60) -> tuple[object, Progress]:
    progress: Progress = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    waited = await client.call_tool(
        "wait_run",
        {"run_id": run_id, "timeout_s": timeout_s},
        progress_handler=on_progress,
        raise_on_error=False,
    )
    return waited, progress


def steps(path: Path, n: int, sleep_ms: int) -> Path:
    path.write_text(
        "".join(f'display "step {i}"\nsleep {sleep_ms}\n' for i in range(1, n + 1)),
        encoding="utf-8",
    )
    return path


async def test_a_batch_run_in_the_background(start_server, tmp_path: Path) -> None:
    start_server()
    do_file = steps(tmp_path / "bg batch.do", 4, 500)
    async with Client(mcp) as client:
        run_id = await start_run(client, do_file, executor="batch")
        await asyncio.sleep(1.2)
        status = await client.call_tool("run_status", {"run_id": run_id})
        assert status.meta["done"] is False and status.meta["total"] == 8
        assert 1 <= status.meta["progress"] < 8
        assert re.search(r"^batch pid \d+ · bg batch\.do \d/8", status.meta["message"])
        assert "step 1" in text_of(status)  # the batch log's tail
        waited, progress = await wait(client, run_id)
    assert text_of(waited).startswith("Stata ok · rc 0 · ")
    assert waited.meta["job"]["executor"] == "batch" and waited.meta["commands_done"] == 8
    values = [value for value, _, _ in progress]
    assert values == sorted(values) and values[-1] == 8 and {t for _, t, _ in progress} == {8}


async def test_cancel_run_stops_a_background_batch_run(start_server, tmp_path: Path) -> None:
    start_server()
    do_file = tmp_path / "stop_me.do"
    do_file.write_text('display "before"\nsleep 60000\n', encoding="utf-8")
    async with Client(mcp) as client:
        run_id = await start_run(client, do_file, executor="batch")
        await asyncio.sleep(1.0)
        answer = await client.call_tool("cancel_run", {"run_id": run_id})
        assert answer.meta["cancelled"] is True
        waited, _ = await wait(client, run_id, 30)
    assert text_of(waited).startswith("Stata cancelled · rc 1 · ") and waited.is_error
    assert waited.meta["job"]["state"] == "cancelled"
    assert "--Break--" in (tmp_path / "stop_me.log").read_text(encoding="utf-8")


def squeue_ids(cluster) -> list[str]:  # type: ignore[no-untyped-def]
    return cluster.run("squeue", "-h", "-o", "%i").split()


async def test_a_slurm_run_in_the_background(start_server, tmp_path: Path, slurm_cluster) -> None:
    start_server()
    do_file = steps(tmp_path / "bg_slurm.do", 4, 600)
    async with Client(mcp) as client:
        run_id = await start_run(client, do_file, executor="slurm")
        for _ in range(40):
            status = await client.call_tool("run_status", {"run_id": run_id})
            if "running on" in status.meta["message"]:
                break
            await asyncio.sleep(0.25)
        assert re.search(
            rf"^job \d+ running on {slurm_cluster.node} · bg_slurm\.do \d/8", status.meta["message"]
        )
        assert status.meta["done"] is False
        waited, progress = await wait(client, run_id)
    assert text_of(waited).startswith("Stata ok · rc 0 · ")
    assert waited.meta["job"]["executor"] == "slurm" and waited.meta["job"]["state"] == "completed"
    values = [value for value, _, _ in progress]
    assert values == sorted(values) and values[-1] == 8


async def test_cancel_run_scancels_a_background_slurm_job(
    start_server, tmp_path: Path, slurm_cluster
) -> None:
    start_server()
    do_file = tmp_path / "scancel_me.do"
    do_file.write_text('display "before"\nsleep 60000\n', encoding="utf-8")
    async with Client(mcp) as client:
        run_id = await start_run(client, do_file, executor="slurm")
        for _ in range(40):
            status = await client.call_tool("run_status", {"run_id": run_id})
            if status.meta["progress"] >= 1:
                break
            await asyncio.sleep(0.25)
        answer = await client.call_tool("cancel_run", {"run_id": run_id})
        assert answer.meta["cancelled"] is True
        waited, _ = await wait(client, run_id, 30)
    assert text_of(waited).startswith("Stata cancelled · rc 1 · ")
    assert waited.meta["job"]["state"] == "cancelled"
    assert waited.meta["job"]["job_id"] not in squeue_ids(slurm_cluster)


async def leave_running(client: Client, server: Server, do_file: Path) -> tuple[str, str]:
    """Start a Slurm run in the background, see it run, then shut the server down."""
    run_id = await start_run(client, do_file, executor="slurm")
    for _ in range(60):
        status = await client.call_tool("run_status", {"run_id": run_id})
        if status.meta["progress"] >= 1:
            break
        await asyncio.sleep(0.25)
    await server.background.stop_all()  # the server's shutdown: Slurm jobs are left to run
    saved = json.loads((server.session.runs.folder(run_id) / "result.json").read_text())
    assert saved["status"] == "detached"
    return run_id, saved["job"]["job_id"]


async def test_a_restarted_server_follows_and_finishes_its_slurm_job(
    start_server, tmp_path: Path, slurm_cluster
) -> None:
    do_file = steps(tmp_path / "survives.do", 6, 600)
    async with Client(mcp) as client:
        run_id, job_id = await leave_running(client, start_server(), do_file)
    assert job_id in squeue_ids(slurm_cluster)
    start_server()  # a new server on the same run folder
    async with Client(mcp) as client:
        listed = json.loads((await client.read_resource("stata://runs"))[0].text)["runs"]
        entry = next(run for run in listed if run["run_id"] == run_id)
        assert entry["status"] == "running" and entry["session"] == "main"
        status = await client.call_tool("run_status", {"run_id": run_id})
        assert text_of(status).startswith(f"Run {run_id} in session main: running · ")
        assert status.meta["total"] == 12
        waited, progress = await wait(client, run_id)
        assert text_of(waited).startswith("Stata ok · rc 0 · ")
        assert waited.meta["job"]["job_id"] == job_id and waited.meta["commands_done"] == 12
        values = [value for value, _, _ in progress]
        assert values == sorted(values) and values[-1] == 12
        assert any(f"job {job_id} running on " in (m or "") for _, _, m in progress)
        listed = json.loads((await client.read_resource("stata://runs"))[0].text)["runs"]
        assert next(run for run in listed if run["run_id"] == run_id)["status"] == "ok"


async def test_a_restarted_server_cancels_its_slurm_job(
    start_server, tmp_path: Path, slurm_cluster
) -> None:
    do_file = tmp_path / "cancel_after_restart.do"
    do_file.write_text('display "before"\nsleep 60000\n', encoding="utf-8")
    async with Client(mcp) as client:
        run_id, job_id = await leave_running(client, start_server(), do_file)
    start_server()
    async with Client(mcp) as client:
        answer = await client.call_tool("cancel_run", {"run_id": run_id})
        assert text_of(answer).startswith(f"Sent a break to run {run_id} in session main")
        waited, _ = await wait(client, run_id, 30)
    assert text_of(waited).startswith("Stata cancelled · rc 1 · ")
    assert waited.meta["job"]["job_id"] == job_id and waited.meta["job"]["state"] == "cancelled"
    assert job_id not in squeue_ids(slurm_cluster)
