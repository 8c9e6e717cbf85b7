"""The issue's follow test: a do-file of about 60 s run as a Slurm job (which waits in the
queue first) and as a local batch job at the same time, each followed through MCP to the end
with progress the client sees throughout. It runs in `make test` and CI (marked `slow`: pass
`-m 'not e2e and not slow'` to leave it out while working)."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from itertools import pairwise
from pathlib import Path

import pytest
from fastmcp import Client

from stata_tools.mcp import context
from stata_tools.mcp.server import mcp
from stata_tools.stata.background import BackgroundRuns
from stata_tools.stata.session import Session
from stata_tools.stata.sessions import SessionRegistry
from stata_tools.stata.settings import Settings

STEPS = 30  # display + sleep 2000: 60 commands, 60 s
Seen = list[tuple[float, float, float | None, str]]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake_stata_dir: Path):  # type: ignore[no-untyped-def]
    settings = dataclasses.replace(
        Settings.from_env(),
        stata_path=str(fake_stata_dir),
        run_dir=tmp_path / "runs",
        heartbeat_s=1.0,
        slurm_poll_s=2,
    )
    session = Session(settings)
    monkeypatch.setattr(context, "_session", session)
    monkeypatch.setattr(context, "_registry", SessionRegistry(settings, lambda: session))
    monkeypatch.setattr(context, "_background", BackgroundRuns())
    yield session
    session.close()


async def followed(client: Client, do_file: Path, **args: object) -> tuple[object, Seen]:
    seen: Seen = []
    began = time.monotonic()

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        seen.append((time.monotonic() - began, value, total, message or ""))

    result = await client.call_tool(
        "run_do_file",
        {"path": str(do_file), **args},
        progress_handler=on_progress,
        raise_on_error=False,
    )
    return result, seen


def commands_shown(seen: Seen, name: str) -> list[int]:
    return [int(m.group(1)) for *_, text in seen if (m := re.search(rf"{name} (\d+)/60", text))]


def assert_followed_throughout(result, seen: Seen, name: str) -> None:  # type: ignore[no-untyped-def]
    assert result.meta["status"] == "ok" and result.meta["commands_done"] == 2 * STEPS
    assert result.meta["duration_s"] >= 59
    values = [value for _, value, _, _ in seen]
    assert all(b > a for a, b in pairwise(values)) and values[-1] == 2 * STEPS
    assert {total for _, _, total, _ in seen} == {2 * STEPS}
    shown = commands_shown(seen, name)
    assert shown == sorted(shown) and shown[-1] == 2 * STEPS and len(set(shown)) >= STEPS
    running = [at for at, value, _, _ in seen if value >= 1]
    gaps = [b - a for a, b in pairwise(running)]
    assert running[-1] - running[0] >= 55 and max(gaps) <= 5, gaps  # news at least every 5 s


@pytest.mark.slow
async def test_a_minute_long_slurm_job_and_batch_job_followed_to_the_end(
    server: Session, tmp_path: Path, slurm_cluster
) -> None:
    body = "".join(f'display "step {i}"\nsleep 2000\n' for i in range(1, STEPS + 1))
    on_slurm = tmp_path / "minute_slurm.do"
    on_slurm.write_text(body, encoding="utf-8")
    local = tmp_path / "minute_batch.do"
    local.write_text(body, encoding="utf-8")
    async with Client(mcp) as client:
        (slurm_result, slurm_seen), (batch_result, batch_seen) = await asyncio.gather(
            followed(client, on_slurm, executor="slurm", slurm={"extra": ["--begin=now+4"]}),
            followed(client, local, executor="batch"),
        )
    assert_followed_throughout(slurm_result, slurm_seen, "minute_slurm.do")
    assert slurm_result.meta["job"]["state"] == "completed"
    messages = [text for *_, text in slurm_seen]
    pending = [i for i, m in enumerate(messages) if re.match(r"job \d+ pending \(BeginTime\)", m)]
    running = [i for i, m in enumerate(messages) if f"running on {slurm_cluster.node} · " in m]
    assert pending and running and pending[-1] < running[0]  # pending, then running, never back
    assert_followed_throughout(batch_result, batch_seen, "minute_batch.do")
    while_running = [m for _, value, _, m in batch_seen if 1 <= value < 2 * STEPS]
    odd = [m for m in while_running if not re.match(r"batch pid \d+ · minute_batch\.do ", m)]
    assert while_running and not odd, odd
