from __future__ import annotations

from stata_tools.run.logs.parse import Kind, LogLine
from stata_tools.run.results import (
    Excerpt,
    RunResult,
    RunStatus,
    StataError,
    excerpt,
    headline,
    render_text,
)


def line(text: str, kind: Kind = Kind.OUTPUT, rc: int | None = None) -> LogLine:
    return LogLine(kind, text, text, rc=rc)


def numbered(count: int) -> list[LogLine]:
    return [line(f"row {n:05d}") for n in range(1, count + 1)]


def test_small_output_is_kept_whole() -> None:
    lines = [line(". display 1", Kind.ECHO), line("1"), line("", Kind.BLANK)]
    got = excerpt(lines, budget_chars=1000)
    assert got == Excerpt(". display 1\n1\n", total_lines=3, total_chars=15, omitted_lines=0)
    assert got.complete


def test_long_output_keeps_head_tail_and_every_error_with_its_message() -> None:
    lines = numbered(10_000)
    lines[4999] = line("variable foo not found")
    lines[5000] = line("r(111);", Kind.RETURN_CODE, rc=111)
    got = excerpt(lines, budget_chars=2000)
    text = got.text.splitlines()
    assert text[0] == "row 00001"
    assert text[-1] == "row 10000"
    assert "[line 5,000] variable foo not found" in text
    assert "[line 5,001] r(111);" in text
    kept_rows = [t for t in text if t.startswith("row ")]
    assert got.omitted_lines == 10_000 - len(kept_rows) - 2
    assert got.total_lines == 10_000
    assert len(got.text) <= 2000 + 200  # the budget plus the omission markers
    gaps = [t for t in text if t.startswith("[… ")]
    assert len(gaps) == 2
    assert sum(int(g.split()[1].replace(",", "")) for g in gaps) == got.omitted_lines


def test_error_lines_in_the_head_are_not_repeated() -> None:
    lines = [line("bad thing"), line("r(198);", Kind.RETURN_CODE, rc=198), *numbered(5000)]
    got = excerpt(lines, budget_chars=1500)
    assert got.text.count("r(198);") == 1
    assert got.text.startswith("bad thing\nr(198);\nrow 00001")


def result(**changes: object) -> RunResult:
    base = dict(
        run_id="20261125-101500-abcdef",
        status=RunStatus.OK,
        rc=0,
        source="/work/a.do",
        log_path="/runs/x/run.log",
        duration_s=3.25,
        commands_total=4,
        commands_done=4,
        output=Excerpt(". display 1\n1", 2, 14, 0),
    )
    base.update(changes)
    return RunResult(**base)  # type: ignore[arg-type]


def test_headline_states_status_rc_duration_and_log() -> None:
    assert headline(result()) == (
        "Stata ok · rc 0 · 3.2s · 4/4 commands · run 20261125-101500-abcdef · log /runs/x/run.log"
    )


def test_error_result_explains_the_code_and_points_at_the_line() -> None:
    error = StataError(111, "variable foo not found", "regress price foo", 7, "a.do")
    text = render_text(result(status=RunStatus.ERROR, rc=111, commands_done=3, error=error))
    lines = text.splitlines()
    assert lines[0].startswith("Stata error · rc 111 · ")
    assert lines[1] == "Error r(111): variable foo not found"
    assert lines[2].startswith("  What it means: ")
    assert "Failing line 7 of a.do: regress price foo" in text
    assert text.endswith("--- output (2 lines) ---\n. display 1\n1")


def test_meta_carries_the_structured_details() -> None:
    error = StataError(601, "file x.dta not found", "use x", 2, "a.do")
    meta = result(status=RunStatus.ERROR, rc=601, error=error).to_meta()
    assert meta["status"] == "error"
    assert meta["rc"] == 601
    assert meta["error"] == {
        "rc": 601,
        "message": "file x.dta not found",
        "command": "use x",
        "line": 2,
        "source": "a.do",
    }
    assert meta["duration_s"] == 3.25


def test_truncated_output_says_where_the_full_log_is() -> None:
    text = render_text(result(output=Excerpt("a\n[… 10 lines omitted …]\nb", 12, 40, 10)))
    assert "12 lines, 10 omitted; the full log is at /runs/x/run.log" in text


def test_headline_and_meta_compare_with_the_last_run_of_the_do_file() -> None:
    done = result(duration_s=250.0, last_duration_s=235.0, last_status="ok")
    assert headline(done).split(" · ")[2] == "took 4m10s (last run 3m55s)"
    assert done.to_meta()["last_run"] == {"duration_s": 235.0, "status": "ok"}
    failed_before = result(duration_s=250.0, last_duration_s=3.0, last_status="error")
    assert headline(failed_before).split(" · ")[2] == "took 4m10s (last run 3.0s, error)"
    assert result().to_meta()["last_run"] is None
