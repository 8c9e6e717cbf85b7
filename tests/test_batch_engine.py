"""The batch executor on the fake console Stata: parallel processes, rc from the log, break."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from stata_tools.stata.batch import BatchEngine, BatchExecution, LogInUse, batch_job
from stata_tools.stata.console import find_console


@pytest.fixture
def engine(fake_stata_dir: Path):
    engine = BatchEngine(
        lambda: find_console({"STATA_PATH": str(fake_stata_dir)}), parallel=2, break_grace_s=3
    )
    yield engine
    engine.close()


def job(tmp_path: Path, name: str, source: str, args: tuple[str, ...] = ()):
    do_file = tmp_path / f"{name}.do"
    do_file.write_text(source, encoding="utf-8")
    run_dir = tmp_path / f"run-{name}"
    run_dir.mkdir()
    return batch_job(f"run-{name}", do_file, run_dir, None, args)


def test_start_reports_the_console_binary(engine: BatchEngine, fake_stata_dir: Path) -> None:
    info = engine.start().result(10)
    assert info.path == str(fake_stata_dir / "stata-mp") and info.edition == "mp"


def test_two_do_files_run_in_parallel(engine: BatchEngine, tmp_path: Path) -> None:
    jobs = [job(tmp_path, name, "sleep 1500\ndisplay 1\n") for name in ("a", "b")]
    began = time.monotonic()
    futures = [engine.execute(j) for j in jobs]
    results = [f.result(30) for f in futures]
    assert all(r.rc == 0 and r.state == "completed" for r in results)  # type: ignore[union-attr]
    assert results[0].started < results[1].ended and results[1].started < results[0].ended
    assert time.monotonic() - began < 2.9  # two 1.5 s sleeps side by side, not one after another
    for j in jobs:
        assert j.log_path == tmp_path / f"{j.do_file.stem}.log" and j.log_path.exists()


def test_error_rc_from_the_log_tail(engine: BatchEngine, tmp_path: Path) -> None:
    j = job(tmp_path, "bad", "display 1\nsummarize nosuchvar\n")
    result = engine.execute(j).result(30)
    assert isinstance(result, BatchExecution)
    assert result.rc == 111 and result.state == "failed" and not result.break_requested
    assert "no variables defined" in (result.error_text or "")


def test_arguments_reach_the_do_file(engine: BatchEngine, tmp_path: Path) -> None:
    j = job(tmp_path, "args", "display \"got `1' and `2'\"\n", ("7", "x"))
    assert engine.execute(j).result(30).rc == 0
    assert "got 7 and x" in j.log_path.read_text(encoding="utf-8")
    assert j.command == f"do {j.do_file} 7 x"


def test_break_stops_the_process(engine: BatchEngine, tmp_path: Path) -> None:
    j = job(tmp_path, "slow", "display 1\nsleep 30000\ndisplay 2\n")
    future = engine.execute(j)
    deadline = time.monotonic() + 20
    while "sleep 30000" not in (j.log_path.read_text("utf-8") if j.log_path.exists() else ""):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert engine.request_break(j) and not engine.request_break(j)  # once per run
    result = future.result(15)
    assert result.rc == 1 and result.break_requested and result.state == "cancelled"
    assert result.ended - result.started < 10


def test_stale_log_removed_and_one_writer_per_log(engine: BatchEngine, tmp_path: Path) -> None:
    j = job(tmp_path, "once", "sleep 800\n")
    j.log_path.write_text("old run\nr(111);\n", encoding="utf-8")
    future = engine.execute(j)
    with pytest.raises(LogInUse, match="being written by run run-once"):
        engine.execute(j)
    assert future.result(30).rc == 0
    assert "old run" not in j.log_path.read_text(encoding="utf-8")


def test_missing_console_binary_fails_start(tmp_path: Path) -> None:
    engine = BatchEngine(lambda: find_console({"STATA_PATH": str(tmp_path)}))
    with pytest.raises(Exception, match="no Stata console binary"):
        engine.start().result(5)
