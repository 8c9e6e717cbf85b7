"""Checking a do-file before running it: commands, called do-files, policy, roots and syntax."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stata_tools.inspection.check import (
    MAX_DEPTH,
    CheckError,
    CheckReport,
    ChildStatus,
    check_do_file,
    check_source,
    render_check,
)
from stata_tools.run.dofile import decode_source, split_commands
from stata_tools.safety.guard import CalledDoFile
from stata_tools.safety.policy import Policy
from stata_tools.safety.roots import OutsideRoots, Roots
from stata_tools.stata.settings import Settings


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    (folder / "sub").mkdir(parents=True)
    return folder


def settings_for(project: Path, allowed: frozenset[str] = frozenset()) -> Settings:
    return Settings(roots=Roots((project.resolve(),)), policy=Policy(allowed))


def checked(project: Path, name: str = "main.do", **kwargs: object) -> CheckReport:
    allowed = kwargs.pop("allowed", frozenset())
    return check_do_file(
        project / name, settings=settings_for(project, allowed), cwd=project, **kwargs
    )


def kinds(report: CheckReport) -> list[tuple[str, str, int | None]]:
    return [(f.kind, f.file, f.line) for f in report.problems]


# --- commands -------------------------------------------------------------------------------------


def test_commands_and_the_lines_they_start_on(project: Path) -> None:
    source = (
        "* a header\n"
        "version 17\n"
        "\n"
        "foreach v in a b {\n"
        "    display `\"`v'\"'\n"
        "}\n"
        "regress y x, ///\n"
        "    robust\n"
    )
    (project / "main.do").write_text(source)
    report = checked(project)
    assert report.ok and report.problems == () and report.notes == ()
    starts = [(c.index, c.line, c.last_line, c.head, c.is_block) for c in report.file.commands]
    assert starts == [
        (1, 2, 2, "version 17", False),
        (2, 4, 6, "foreach v in a b {", True),
        (3, 7, 8, "regress y x, ///", False),
    ]
    assert [c.first_line for c in split_commands(source)] == [c.line for c in report.file.commands]
    text = render_check(report)
    assert text.splitlines()[0] == "Checked main.do without Stata: no problems found · 3 commands"
    assert "    1. line 2: version 17\n    2. line 4–6: foreach v in a b {\n" in text
    assert report.to_meta()["command_lines"] == [2, 4, 7]


def test_a_big_do_file_lists_a_window_and_ranges(project: Path) -> None:
    body = "".join(f"display {i}\n" + ("\n" if i % 3 == 0 else "") for i in range(1, 401))
    (project / "main.do").write_text(body)
    report = checked(project)
    assert len(report.file.commands) == 400
    lines = render_check(report).splitlines()
    listed = [line for line in lines if line.startswith(" ") and ". line " in line]
    assert [line.split(".")[0].strip() for line in listed] == [str(i) for i in range(1, 41)]
    ranges = [line for line in lines if line.startswith("  commands ")]
    assert ranges[0] == "  commands 41–58: lines 54–77"  # 360 left: 18 a row, 20 rows
    assert len(ranges) == 20 and ranges[-1].startswith("  commands 383–400: lines ")
    assert "(40 of 400 listed one by one; from_command=K lists 40 from command K)" in lines[-5]
    assert len(lines) < 80

    window = render_check(report, from_command=200).splitlines()
    listed = [line.split(".")[0].strip() for line in window if ". line " in line]
    assert listed == [str(i) for i in range(200, 240)]
    assert "  commands 1–10: lines 1–13" in window  # before the window, in ranges too
    line_of_200 = next(c.line for c in report.file.commands if c.index == 200)
    assert f"  200. line {line_of_200}: display 200" in window


# --- called do-files ------------------------------------------------------------------------------


def test_check_source_needs_no_disk_only_a_loader() -> None:
    files = {"child.do": "display 1\nrmdir old\n"}
    asked: list[str] = []

    def load(written: str) -> CalledDoFile:
        asked.append(written)
        path = Path("/virtual") / written
        text = files.get(written)
        return CalledDoFile(written, path if text else None, text, "utf-8", (path,), ())

    report = check_source(
        "do child\ndo other\n", "main.do", Path("/virtual/main.do"), policy=Policy(),
        roots=None, load=load,
    )  # fmt: skip
    assert kinds(report) == [("missing", "main.do", 2), ("refused", "child.do", 2)]
    assert report.file.children[0].file is not None
    assert asked == ["child.do", "other.do", "other"]  # each once: the policy reuses the walk's


def test_called_do_files_are_resolved_and_checked_recursively(project: Path) -> None:
    (project / "main.do").write_text(
        'version 17\ndo sub/clean\nquietly run "helpers.do"\ndo sub/clean.do\n'
    )
    (project / "sub" / "clean.do").write_text("display 1\ninclude helpers\n")
    (project / "helpers.do").write_text("display 2\ndisplay 3\n")
    report = checked(project)
    assert report.ok
    top = report.file.children
    assert [(c.line, c.command, c.written, c.status) for c in top] == [
        (2, "do", "sub/clean", ChildStatus.FOUND),
        (3, "run", "helpers.do", ChildStatus.REPEATED),  # read already, through clean.do
        (4, "do", "sub/clean.do", ChildStatus.REPEATED),
    ]
    clean = top[0].file
    assert clean is not None and clean.path == project / "sub" / "clean.do"
    assert [c.head for c in clean.commands] == ["display 1", "include helpers"]
    (grandchild,) = clean.children
    assert grandchild.status is ChildStatus.FOUND and grandchild.file is not None
    assert len(grandchild.file.commands) == 2
    assert [f.name for f in report.files()] == ["main.do", "sub/clean.do", "helpers.do"]
    text = render_check(report)
    assert (
        "Do-files it calls:\n"
        f"- line 2: do sub/clean → {project / 'sub' / 'clean.do'} · 2 commands\n"
        f"  - line 2: include helpers → {project / 'helpers.do'} · 2 commands\n"
        f"- line 3: run helpers.do → {project / 'helpers.do'} (checked above)\n"
    ) in text


def test_relative_calls_start_at_the_working_directory_then_the_do_files_folder(
    project: Path,
) -> None:
    (project / "sub" / "main.do").write_text("do first\ndo second\n")
    (project / "first.do").write_text("display 1\n")  # in the working directory
    (project / "sub" / "first.do").write_text("display 2\ndisplay 3\n")
    (project / "sub" / "second.do").write_text("display 4\n")  # beside the do-file
    report = check_do_file(
        "sub/main.do", working_dir=project, settings=settings_for(project), cwd=project.parent
    )
    assert [c.path for c in report.file.children] == [
        project / "first.do",
        project / "sub" / "second.do",
    ]
    assert report.folders == (project.resolve(), (project / "sub").resolve())


def test_a_missing_do_file_is_a_problem_unless_captured_or_named_by_a_macro(
    project: Path,
) -> None:
    (project / "main.do").write_text(
        'do "nothere.do"\ncapture do optional\nlocal in "sub"\ndo "`in\'/x.do"\n* do not.do\n'
        'do "$root/y.do"\n'
    )
    report = checked(project)
    assert kinds(report) == [("missing", "main.do", 1), ("outside-roots", "main.do", 6)]
    assert report.problems[0].message == (
        f"`do nothere.do`: file not found; looked for {project / 'nothere.do'} "
        "(Stata stops with r(601))"
    )
    assert [(n.kind, n.line) for n in report.notes] == [("missing", 2), ("missing", 4)]
    assert "under capture, so the run goes on without it" in report.notes[0].message
    looked = report.file.children[1].looked_in
    assert looked == (project / "optional.do", project / "optional")
    assert report.notes[1].message.startswith(
        f"`do sub/x.do`: file not found; looked for {project}"
    )
    assert "the path comes from macros" in report.notes[1].message
    # $root is not set in the code, so the run's own check reads /y.do and refuses it
    assert "`do /y.do`: /y.do is outside the allowed roots" in report.problems[1].message
    assert "(the path comes from macros, read as the run's own" in report.problems[1].message


def test_a_do_file_outside_the_roots_is_a_problem(project: Path) -> None:
    (project.parent / "secret.do").write_text("display 1\n")
    (project / "main.do").write_text("do ../secret.do\n")
    report = checked(project)
    assert kinds(report) == [("outside-roots", "main.do", 1)]
    (child,) = report.file.children
    assert child.status is ChildStatus.OUTSIDE and child.file is None  # never read
    assert "STATA_TOOLS_ROOTS" in report.problems[0].fix
    assert f"(that is, {(project.parent / 'secret.do').resolve()})" in report.problems[0].message


def test_cycles_are_found_and_not_followed(project: Path) -> None:
    (project / "main.do").write_text("do a\n")
    (project / "a.do").write_text("display 1\ndo b\n")
    (project / "b.do").write_text("include main.do\n")
    report = checked(project)
    assert kinds(report) == [("cycle", "b.do", 1)]
    assert "already running further up this chain of calls" in report.problems[0].message
    b = report.files()[-1]
    assert b.children[0].status is ChildStatus.CYCLE and b.children[0].path == project / "main.do"


def test_calls_are_followed_only_so_deep(project: Path) -> None:
    for depth in range(MAX_DEPTH + 3):
        (project / f"f{depth}.do").write_text(f"do f{depth + 1}\n")
    report = checked(project, "f0.do")
    assert len(report.files()) == MAX_DEPTH
    # the run's own check cannot follow it either, so it refuses the run (fail closed)
    assert kinds(report) == [("unchecked", f"f{MAX_DEPTH - 1}.do", 1)]
    assert "do-files calling do-files more than 16 deep" in report.problems[0].message
    assert report.problems[0].fix.endswith("STATA_TOOLS_ALLOW=all")
    assert [(n.kind, n.file) for n in report.notes] == [("not-followed", f"f{MAX_DEPTH - 1}.do")]


# --- the command policy ---------------------------------------------------------------------------


def test_policy_refusals_name_the_command_file_line_and_setting(project: Path) -> None:
    (project / "main.do").write_text("display 1\n!ls\ndo tools\n")
    (project / "tools.do").write_text("local c erase\n\n`c' x.dta\nssc install reghdfe\n")
    report = checked(project)
    assert kinds(report) == [
        ("refused", "main.do", 2),
        ("refused", "tools.do", 3),
        ("refused", "tools.do", 4),
    ]
    assert [f.fix for f in report.problems] == [
        "to allow it, set STATA_TOOLS_ALLOW=shell",
        "to allow it, set STATA_TOOLS_ALLOW=erase",
        "to allow it, set STATA_TOOLS_ALLOW=install",
    ]
    assert report.problems[1].message.startswith("`c' x.dta: `erase` (from a macro) deletes files")
    allowed = checked(project, allowed=frozenset({"shell", "erase", "install"}))
    assert allowed.ok and allowed.refusals == ()
    assert "allowing shell, erase, install" in render_check(allowed)


def test_without_a_policy_nothing_is_refused(project: Path) -> None:
    (project / "main.do").write_text("shell ls\n")
    report = check_do_file(project / "main.do", settings=Settings(), cwd=project)
    assert report.ok and report.roots is None
    assert "Command policy: not checked" in render_check(report)
    assert "Allowed roots: any path" in render_check(report)


# --- syntax ---------------------------------------------------------------------------------------


def test_syntax_problems_come_with_their_lines_and_a_fix(project: Path) -> None:
    (project / "main.do").write_text(
        "display 1\n"
        "}\n"
        'display "open\n'
        "foreach v in a b {\n"
        "    display `v'\n"
        "program define p\n"
        "    display 1\n"
        "/* never closed\n"
    )
    (project / "semi.do").write_text("#delimit ;\ndisplay 1;\ndisplay\n  2\n")
    report = checked(project)
    assert kinds(report) == [
        ("stray-brace", "main.do", 2),
        ("unclosed-string", "main.do", 3),
        ("unclosed-brace", "main.do", 4),
        ("unclosed-end", "main.do", 6),
        ("unclosed-comment", "main.do", 8),
    ]
    assert all(f.fix for f in report.problems)
    assert [c.line for c in report.file.commands] == [1, 3, 4]  # counted as far as it reads
    semi = checked(project, "semi.do")
    assert kinds(semi) == [("open-statement", "semi.do", 3)]
    assert semi.problems[0].fix.startswith("end it with `;`")


# --- bad input ------------------------------------------------------------------------------------


def test_a_missing_file_or_a_directory_is_a_clear_error(project: Path) -> None:
    with pytest.raises(CheckError, match=r"main\.do does not exist: check the path"):
        checked(project)
    with pytest.raises(CheckError, match=r"is a directory, not a file: pass the path of a \.do"):
        checked(project, "sub")
    with pytest.raises(CheckError, match=r"working directory .*nowhere does not exist"):
        checked(project, "main.do", working_dir=project / "nowhere")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")
def test_a_fifo_is_refused_without_blocking(project: Path) -> None:
    os.mkfifo(project / "main.do")
    with pytest.raises(CheckError, match=r"is a FIFO \(named pipe\), not a regular file: pass"):
        checked(project)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")
def test_a_called_fifo_is_a_problem_found_without_blocking(project: Path) -> None:
    (project / "main.do").write_text("do pipe\n")
    os.mkfifo(project / "pipe.do")
    report = checked(project)
    assert kinds(report) == [("missing", "main.do", 1), ("unchecked", "main.do", 1)]
    assert "is a FIFO (named pipe)" in report.problems[1].message
    assert report.problems[0].message.startswith(
        f"`do pipe`: {project / 'pipe.do'} is a FIFO (named pipe), not a regular file; looked for "
    )


def test_a_file_outside_the_roots_is_refused_before_it_is_read(project: Path) -> None:
    secret = project.parent / "secret.do"
    secret.write_text("display 1\n")
    with pytest.raises(OutsideRoots, match=r"do-file .*secret\.do\)? is outside the allowed roots"):
        checked(project, "../secret.do")
    (project / "main.do").write_text("display 1\n")
    with pytest.raises(OutsideRoots, match=r"working directory .* is outside the allowed roots"):
        checked(project, "main.do", working_dir=project.parent)


def test_a_path_stata_would_expand_is_a_problem(tmp_path: Path) -> None:
    folder = tmp_path / "cost$s"
    folder.mkdir()
    (folder / "main.do").write_text("display 1\n")
    report = checked(folder)
    assert kinds(report) == [("unsafe-path", "main.do", None)]
    assert "(` or $)" in report.problems[0].message


def test_non_utf8_is_read_as_cp1252_with_a_note(project: Path) -> None:
    (project / "main.do").write_bytes(b'display "caf\xe9"\r\ndisplay 2\r\n')
    report = checked(project)
    assert report.ok and report.file.encoding == "cp1252"
    assert [c.head for c in report.file.commands] == ['display "café"', "display 2"]
    assert [(n.kind, n.file) for n in report.notes] == [("encoding", "main.do")]
    assert "read as cp1252" in render_check(report)


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"", "empty"),
        (b"  \n\n", "empty"),
        (b"* only a comment\n// and another\n", "nothing-to-run"),
    ],
)
def test_an_empty_file_has_nothing_to_run(project: Path, content: bytes, kind: str) -> None:
    (project / "main.do").write_bytes(content)
    report = checked(project)
    assert kinds(report) == [(kind, "main.do", None)]
    assert "there is nothing to run" in report.problems[0].message


def test_a_binary_file_is_a_clear_error(project: Path) -> None:
    (project / "main.do").write_bytes(b"<stata_dta>\x00\x01\x02")
    with pytest.raises(CheckError, match="holds NUL bytes, so it is not a plain-text do-file"):
        checked(project)


# --- real do-files --------------------------------------------------------------------------------


def test_real_do_files_check_with_the_lexers_count(corpus_dir: Path) -> None:
    pairs = sorted((corpus_dir / "pairs").glob("*.do"))
    assert len(pairs) >= 4
    settings = Settings(roots=Roots((corpus_dir.resolve(),)), policy=Policy())
    for path in pairs:
        report = check_do_file(path, settings=settings, cwd=corpus_dir)
        text, _ = decode_source(path.read_bytes())
        assert [c.line for c in report.file.commands] == [
            c.first_line for c in split_commands(text)
        ], path.name
        assert report.refusals == () and report.file.children == (), path.name
        problems = [(f.kind, f.line) for f in report.problems]
        if path.name.endswith("01_eth_cr_analysis_dataset.do"):
            # A real mistake: the banner at line 969 is never closed, so the final loop and
            # `log close` never ran; the log Stata wrote shows them only as comment continuation.
            assert problems == [("unclosed-comment", 969)]
            assert len(report.file.commands) == 423
            log = path.with_suffix(".log").read_text(errors="replace").splitlines()
            banner = next(i for i, line in enumerate(log) if line.startswith(". /*****"))
            assert "> log close" in log[banner:]
            assert not any(line.startswith(". log close") for line in log[banner:])
        else:
            assert problems == [], path.name
