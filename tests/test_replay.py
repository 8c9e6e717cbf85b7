"""Real logs end to end: each do/log pair in the corpus replayed by the fake Stata
(FAKE_STATA_REPLAY) through the Session and the MCP server, held against where the log really is."""

from __future__ import annotations

import contextlib
import dataclasses
import re
import shutil
from pathlib import Path

import pytest
from corpus import corpus_params
from fastmcp import Client
from recordings import (
    Pair,
    commands_of,
    first_lines_echoed,
    pairs,
    read_lines,
    recorded_error,
    squash,
    truth,
)

from stata_tools import CommandStarted, Finished, Output, RunRequest, Session
from stata_tools.mcp import context
from stata_tools.mcp.server import get_session, mcp
from stata_tools.run.dofile import decode_source
from stata_tools.run.events import ErrorRaised
from stata_tools.run.logs.parse import LogParser
from stata_tools.run.progress import Tracker

DO_FILES = corpus_params("pairs/*.do")
_K = re.compile(r" (\d+)/(\d+) · ")


def pair_of(do_file: Path) -> Pair:
    found = [p for p in pairs(do_file.parent) if p.do_file == do_file]
    assert found, f"no recorded log pairs with {do_file.name}"
    return found[0]


@pytest.fixture
def replay(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Copy a do-file beside the tests' roots and have the fake replay `recording` for it: in a
    session of its own (the fake reads its knobs when its worker starts), which the server's
    tools use too."""
    sessions: list[Session] = []

    def arm(do_file: Path, recording: Path) -> Path:
        target = tmp_path / do_file.name
        shutil.copyfile(do_file, target)
        monkeypatch.setenv("FAKE_STATA_REPLAY", str(recording))
        monkeypatch.setenv("FAKE_STATA_LINE_DELAY_MS", "0.2")  # paced: many follower batches
        settings = dataclasses.replace(get_session().settings, run_dir=tmp_path / "runs")
        sessions.append(Session(settings))
        monkeypatch.setattr(context, "_session", sessions[-1])
        return target

    yield arm
    for session in sessions:
        session.close()


async def run_events(session: Session, do_file: Path) -> list[object]:
    events: list[object] = []
    async with contextlib.aclosing(session.run(RunRequest(do_file=do_file))) as stream:
        async for event in stream:
            events.append(event)
    return events


def source_of(do_file: Path) -> str:
    return decode_source(do_file.read_bytes())[0]


# --------------------------------------------------------------------------------------------
# The lexer against what Stata echoed


@pytest.mark.parametrize("do_file", DO_FILES)
def test_the_lexer_splits_commands_where_stata_echoed_them(do_file: Path) -> None:
    pair = pair_of(do_file)
    log_lines = read_lines(pair.log)
    found = truth(log_lines, source_of(do_file))
    commands = commands_of(do_file)
    echoed = sorted(found.echoed_at)
    assert len(echoed) >= 3
    assert found.misplaced == []  # no echo starts inside one of our commands
    shown = first_lines_echoed(log_lines)
    for k in range(echoed[0], echoed[-1] + 1):  # and each of ours is echoed where it starts,
        if k not in found.echoed_at:  # unless the log never shows its first line at all
            first = squash(commands[k - 1].head)
            assert not any(said.startswith(first) for said in shown), commands[k - 1]


# --------------------------------------------------------------------------------------------
# Replays through the Session


@pytest.mark.parametrize("do_file", DO_FILES)
async def test_a_replayed_pair_runs_with_true_progress(do_file: Path, replay) -> None:  # type: ignore[no-untyped-def]
    pair = pair_of(do_file)
    target = replay(do_file, pair.log)
    total = len(commands_of(do_file))
    events = await run_events(get_session(), target)
    finished = events[-1]
    assert isinstance(finished, Finished)
    result = finished.result
    assert result.commands_total == total
    recorded = recorded_error(read_lines(pair.log))
    if recorded is None:
        assert result.ok, result.error
        assert result.commands_done == total
    else:  # the recorded run failed: so does the replay, at the command the recording was in
        rc, at = recorded
        failed = truth(read_lines(pair.log), source_of(do_file)).command_at[at]
        assert result.rc == rc and result.error is not None
        assert result.commands_done == failed
        assert result.error.line == commands_of(do_file)[failed - 1].first_line
    values = [e.snapshot.progress for e in events if hasattr(e, "snapshot")]  # type: ignore[attr-defined]
    assert values == sorted(values) and values[-1] == total
    assert {e.snapshot.total for e in events if hasattr(e, "snapshot")} == {total}  # type: ignore[attr-defined]

    log_lines = read_lines(Path(result.log_path))
    where = truth(log_lines, source_of(do_file))
    seen = 0
    for event in events:  # k in each message is never ahead of the command the log is in
        if isinstance(event, Output):
            seen += len(event.lines)
            found = _K.search(event.snapshot.message)
            assert found and int(found.group(2)) == total
            assert int(found.group(1)) <= where.command_at[seen - 1], event.snapshot.message
    assert seen == len(log_lines)
    started = [e.index for e in events if isinstance(e, CommandStarted)]
    assert started == sorted(set(started))
    assert set(where.echoed_at) <= set(started)  # every command Stata echoed was counted


@pytest.mark.parametrize("do_file", DO_FILES)
async def test_the_tracker_is_never_ahead_on_a_replayed_log(do_file: Path, replay) -> None:  # type: ignore[no-untyped-def]
    """Line by line over the log our run wrote: the exact check the batches above blur."""
    pair = pair_of(do_file)
    target = replay(do_file, pair.log)  # first: it gives the session its own worker
    events = await run_events(get_session(), target)
    log_lines = read_lines(Path(events[-1].result.log_path))  # type: ignore[attr-defined]
    commands = commands_of(do_file)
    where = truth(log_lines, source_of(do_file))
    tracker = Tracker(commands, do_file.name, 0.0, wrapper=f'do "{do_file}"')
    parser = LogParser()
    started: dict[int, int] = {}
    for n, raw in enumerate(log_lines):
        for event in tracker.feed(parser.feed(raw), float(n)):
            if isinstance(event, CommandStarted):
                started[event.index] = n
        assert tracker.index <= where.command_at[n], (n, raw)
    assert set(where.echoed_at) <= set(started)
    for k, at in where.echoed_at.items():  # counted at its echo, or once the echo is joined
        end = at + 1
        while end < len(log_lines) and log_lines[end].startswith("> "):
            end += 1
        assert at <= started[k] <= end, (k, at, started[k])


# --------------------------------------------------------------------------------------------
# Replays through MCP


@pytest.mark.parametrize("do_file", DO_FILES)
async def test_a_replayed_pair_through_mcp(do_file: Path, replay) -> None:  # type: ignore[no-untyped-def]
    pair = pair_of(do_file)
    target = replay(do_file, pair.log)
    total = len(commands_of(do_file))
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value: float, of: float | None, message: str | None) -> None:
        progress.append((value, of, message))

    async with Client(mcp, progress_handler=on_progress) as client:
        arguments = {"path": str(target)}
        result = await client.call_tool("run_do_file", arguments, raise_on_error=False)
    recorded = recorded_error(read_lines(pair.log))
    assert result.is_error is (recorded is not None)
    assert result.meta["commands_total"] == total
    values = [p for p, _, _ in progress]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert values[-1] == total and {t for _, t, _ in progress} == {float(total)}
    counts = [int(m.group(1)) for _, _, text in progress if (m := _K.search(text or ""))]
    assert counts == sorted(counts)
    if recorded is None:
        assert result.meta["commands_done"] == total and counts[-1] == total


# --------------------------------------------------------------------------------------------
# A recorded error


def cut_after_echo(log_lines: list[str], at: int) -> list[str]:
    """The recording up to and including the echo at line `at` and its `> ` lines."""
    end = at + 1
    while end < len(log_lines) and log_lines[end].startswith("> "):
        end += 1
    return log_lines[:end]


def failing_variants(folder: Path) -> list[tuple[Pair, int, bool]]:
    """Per pair: an error right after a plain command's echo (the median one) and, where the
    recording has one, inside an `if` block echoed line by line (the if command is to blame)."""
    variants = []
    for pair in pairs(folder):
        log_lines = read_lines(pair.log)
        commands = commands_of(pair.do_file)
        where = truth(log_lines, source_of(pair.do_file))
        plain = [k for k in sorted(where.echoed_at) if not commands[k - 1].is_block]
        k = plain[len(plain) // 2]
        variants.append((pair, where.echoed_at[k], False))
        bodies = [n for n in where.in_blocks if log_lines[n].startswith(". ")]
        for n in bodies:
            if commands[where.command_at[n] - 1].text.startswith("if"):
                variants.append((pair, n, True))
                break
    return variants


async def test_a_recorded_error_names_the_line_it_came_from(
    corpus_dir: Path, tmp_path: Path, replay
) -> None:  # type: ignore[no-untyped-def]
    variants = failing_variants(corpus_dir / "pairs")
    assert len(variants) >= 5 and any(inside for _, _, inside in variants)
    for n, (pair, at, _inside) in enumerate(variants):
        log_lines = read_lines(pair.log)
        recording = tmp_path / f"failing{n}.log"
        shape = ["variable nosuchvar not found", "r(111);"]
        failing_lines = [*cut_after_echo(log_lines, at), *shape]
        recording.write_text("\n".join(failing_lines) + "\n")
        assert recorded_error(failing_lines) == (111, len(failing_lines) - 1)
        commands = commands_of(pair.do_file)
        where = truth(log_lines, source_of(pair.do_file))
        expected = commands[where.command_at[at] - 1]
        target = replay(pair.do_file, recording)  # first: it gives the session its own worker
        events = await run_events(get_session(), target)
        result = events[-1].result  # type: ignore[attr-defined]
        assert result.rc == 111 and result.error is not None, Path(result.log_path).read_text()[
            -600:
        ]
        assert result.error.message == "variable nosuchvar not found"
        assert (result.error.line, result.error.command) == (expected.first_line, expected.head)
        assert result.commands_done == expected.index
        raised = [e for e in events if isinstance(e, ErrorRaised)]
        assert [e.rc for e in raised] == [111]


def test_the_truth_keeps_an_if_body_in_its_command_and_skips_unechoed_lines() -> None:
    """The independent alignment the replays are held against, on a log it must get right."""
    source = (
        "display 1\nquietly {\n    regress y x\n    predict r\n}\nif 1 {\n    display 2\n}\n"
        "display 2\nforeach v in a b {\n    display 3\n}\n"
    )
    log = [
        ". display 1",
        "1",
        "",
        ". quietly {",
        "",
        ". if 1 {",
        ".     display 2",
        "2",
        ". }",
        "",
        ". display 2",
        "2",
        "",
        ". foreach v in a b {",
        "  2.     display 3",
        "  3. }",
        "3",
        "3",
    ]
    found = truth(log, source)
    assert found.command_at == [1, 1, 1, 2, 2, 3, 3, 3, 3, 3, 4, 4, 4, 5, 5, 5, 5, 5]
    assert found.echoed_at == {1: 0, 2: 3, 3: 5, 4: 10, 5: 13}
    assert found.misplaced == [] and found.in_blocks == [6, 8]
    assert recorded_error([*log, "variable q not found", "r(111);"]) == (111, 19)
    ended = [*log, "r(111);", "", "end of do-file", "r(111);"]
    assert recorded_error(ended) == (111, 18)
    assert recorded_error([*log, "r(111);", "", ". display 4", "4"]) is None
