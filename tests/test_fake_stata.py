"""The fake Stata in tests/fake_stata behaves like pystata and writes logs like real Stata.

pystata is one per process: scenarios that need a fresh Stata run in a subprocess; the rest share
one in-process instance initialised through StataCorp's real `stata_setup`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

DATE = re.compile(r"[ \d]\d [A-Z][a-z]{2} \d{4}, \d\d:\d\d:\d\d")
PATH_VALUE = re.compile(r"(log:  (?:\{res\})?).*?(\r?)$")


def normalize(text: str) -> str:
    """Blank out what differs between any two logs of the same shape: dates and log paths."""
    text = DATE.sub("<date>", text)
    return PATH_VALUE.sub(r"\1<path>\2", text)


def corpus_lines(path: Path) -> list[str]:
    """A corpus file's lines with their line endings, decoded as latin-1 (never fails)."""
    return path.read_bytes().decode("latin-1").splitlines(keepends=True)


def run_python(code: str, root: Path, **env: str) -> subprocess.CompletedProcess[bytes]:
    """Run code in a fresh interpreter with FAKE_ROOT set: one fresh Stata per scenario."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("FAKE_STATA_")}
    full.update(env, FAKE_ROOT=str(root), PYTHONIOENCODING="utf-8")
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        env=full,
        timeout=60,
        check=False,
    )


# --- the shared in-process Stata ---------------------------------------------------------------


@pytest.fixture(scope="module")
def stata_module(fake_stata_dir: Path) -> ModuleType:
    import stata_setup

    stata_setup.config(str(fake_stata_dir), "mp", splash=False)
    from pystata import stata

    return stata


@pytest.fixture
def stata(
    stata_module: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ModuleType]:
    """The in-process Stata, in tmp_path, with no knobs set and default settings."""
    from pystata import config

    for key in list(os.environ):
        if key.startswith("FAKE_STATA_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(config.stconfig, "streamout", "on")
    monkeypatch.setitem(config.stconfig, "cmdshow", "default")
    monkeypatch.setattr(config, "stoutputf", None)
    yield stata_module
    stata_module.run("capture log close _all", quietly=True)
    stata_module.run("set linesize 80", quietly=True)


def run(stata: ModuleType, code: str, **kwargs: Any) -> tuple[str, str | None]:
    """(what run() printed, the SystemError text or None)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        try:
            stata.run(code, **kwargs)
        except SystemError as err:
            return buf.getvalue(), str(err)
    return buf.getvalue(), None


def log_text(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")


def log_body(path: Path) -> list[str]:
    """A text log's lines after the header's `opened on:` line, up to the footer's `name:`."""
    lines = log_text(path)
    start = next(i for i, x in enumerate(lines) if x.startswith(" opened on:")) + 1
    names = [i for i, x in enumerate(lines) if x.startswith("      name:")]
    end = names[-1] if len(names) > 1 else len(lines)
    return lines[start:end]


@pytest.fixture
def short_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working directory short enough that a log's `log:` header line does not wrap."""
    path = Path(tempfile.mkdtemp(prefix="fs-"))
    monkeypatch.chdir(path)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def set_break_after(seconds: float) -> tuple[threading.Thread, list[float]]:
    """Call StataSO_SetBreak from another thread after a delay; the list gets the call time."""
    from pystata import config

    when: list[float] = []

    def fire() -> None:
        time.sleep(seconds)
        when.append(time.monotonic())
        config.stlib.StataSO_SetBreak()

    thread = threading.Thread(target=fire)
    thread.start()
    return thread, when


# --- initialisation (fresh processes) ----------------------------------------------------------


def test_init_through_real_stata_setup(fake_stata_dir: Path) -> None:
    proc = run_python(
        """
        import os, sys, stata_setup
        root = os.environ["FAKE_ROOT"]
        try:
            import sfi
        except ImportError:
            print("sfi: not importable before init")
        sys.path.append(os.path.join(root, "utilities"))
        try:
            import pystata.stata
        except SystemError as e:
            print("stata before init:", e)
        stata_setup.config(root, "mp")
        import sfi, pystata
        from pystata import config, stata
        print("after init:", pystata.__version__, config.stedition, config.stversion,
              config.is_stata_initialized(), config.sfiinitialized,
              os.path.basename(config.stlibpath), os.environ["SYSDIR_STATA"] == root)
        """,
        fake_stata_dir,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode("utf-8").splitlines()
    assert out[0] == "sfi: not importable before init"
    assert out[1].startswith("stata before init: Stata environment has not been initialized yet")
    assert out[1].endswith("config.init()")
    banner = out[2:-1]
    assert banner[1] == "  ___  ____  ____  ____  ____ \u00ae"
    assert banner[2].endswith("18.0")
    assert banner[3].endswith("MP\u2014Parallel Edition")
    assert "Notes:" in banner
    library = _library(fake_stata_dir, "mp").name
    assert out[-1] == f"after init: 0.1.1 MP 18.0 True True {library} True"
    assert "\u00ae".encode() in proc.stdout  # the banner alone makes stdout non-ASCII


def _library(root: Path, edition: str) -> Path:
    """The placeholder that this OS's pystata looks for (pystata.md §1.2)."""
    if sys.platform == "win32":
        return root / f"{edition}-64.dll"
    if sys.platform == "darwin":
        return (
            root
            / f"Stata{edition.upper()}.app"
            / "Contents"
            / "MacOS"
            / f"libstata-{edition}.dylib"
        )
    return root / ("libstata.so" if edition == "be" else f"libstata-{edition}.so")


@pytest.mark.parametrize(
    ("platform", "library"),
    [
        ("win32", "mp-64.dll"),
        ("darwin", "StataMP.app/Contents/MacOS/libstata-mp.dylib"),
        ("linux", "libstata-mp.so"),
    ],
)
def test_init_loads_the_library_each_os_names(
    fake_stata_dir: Path, platform: str, library: str
) -> None:
    """The fake installation works on every OS the CI runs (only pystata's lookup differs)."""
    proc = run_python(
        f"""
        import os, sys
        sys.platform = {platform!r}
        import stata_setup
        stata_setup.config(os.environ["FAKE_ROOT"], "mp", splash=False)
        from pystata import config
        print(os.path.relpath(config.stlibpath, os.environ["FAKE_ROOT"]))
        """,
        fake_stata_dir,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert Path(proc.stdout.decode().strip()) == Path(library)


def test_splash_false_prints_nothing(fake_stata_dir: Path) -> None:
    proc = run_python(
        """
        import os, stata_setup
        stata_setup.config(os.environ["FAKE_ROOT"], "se", splash=False)
        from pystata import config
        assert config.stedition == "SE"
        """,
        fake_stata_dir,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == b""


def test_init_failures(fake_stata_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "Stata 18"
    shutil.copytree(fake_stata_dir, root, ignore=shutil.ignore_patterns("__pycache__"))
    _library(root, "se").unlink()
    _library(root, "be").write_text("not a library\n")
    proc = run_python(
        """
        import os, json, stata_setup
        root = os.environ["FAKE_ROOT"]
        out = {}
        for edition in ("xx", "se", "be"):
            try:
                stata_setup.config(root, edition, splash=False)
            except Exception as e:
                out[edition] = [type(e).__name__, list(e.args)]
        from pystata import config
        out["initialized"] = config.is_stata_initialized()
        stata_setup.config(root, "mp", splash=False)
        out["mp"] = config.is_stata_initialized()
        print(json.dumps(out))
        """,
        root,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    result = json.loads(proc.stdout)
    assert result["xx"] == ["ValueError", ["Stata edition must be one of be, se, or mp"]]
    message = "The system cannot find the shared library within the specified path: %s"
    assert result["se"] == ["FileNotFoundError", [message, str(root)]]
    assert result["be"] == ["SystemError", ["failed to load Stata's shared library"]]
    assert result["initialized"] is False
    assert result["mp"] is True


def test_raw_fd1_writes_output_to_file_descriptor_1(fake_stata_dir: Path) -> None:
    code = """
        import os, sys, stata_setup
        stata_setup.config(os.environ["FAKE_ROOT"], "mp", splash=False)
        from pystata import stata, config
        config.set_output_file(os.devnull, replace=True)
        stata.run('display "fd1-" + "marker"')
        """
    plain = run_python(code, fake_stata_dir)
    raw = run_python(code, fake_stata_dir, FAKE_STATA_RAW_FD1="1")
    assert plain.returncode == raw.returncode == 0, raw.stderr.decode()
    assert plain.stdout == b""  # run() printed to the output file, nothing reached fd 1
    assert raw.stdout == b"fd1-marker\n"


def test_record_file_starts_with_init(fake_stata_dir: Path, tmp_path: Path) -> None:
    record = tmp_path / "events.jsonl"
    proc = run_python(
        """
        import os, stata_setup
        stata_setup.config(os.environ["FAKE_ROOT"], "be", splash=False)
        from pystata import stata
        stata.run("display 1")
        """,
        fake_stata_dir,
        FAKE_STATA_RECORD=str(record),
    )
    assert proc.returncode == 0, proc.stderr.decode()
    events = [json.loads(line) for line in record.read_text().splitlines()]
    assert [e["event"] for e in events] == ["init", "run_start", "run_end"]
    assert events[0]["edition"] == "BE"
    assert events[1]["cmd"] == "display 1"
    assert events[2]["rc"] == 0
    assert {e["pid"] for e in events} == {events[0]["pid"]}
    assert events[0]["monotonic"] <= events[1]["monotonic"] <= events[2]["monotonic"]


# --- run(): the stdout shapes and the error contract --------------------------------------------

SHAPES = [  # reference/pystata.md §3.1, captured from real Stata by nbstata
    ('disp "test 1"', {"echo": False}, "test 1\n"),
    ("disp 1", {"echo": True}, ". disp 1\n1\n"),
    ("disp 1\ndisp 2", {"echo": True}, "\n. disp 1\n1\n\n. disp 2\n2\n\n. \n"),
    (
        'disp "test 1"\ndisp "test 2"\n',
        {"echo": False},
        '\n. disp "test 1"\ntest 1\n\n. disp "test 2"\ntest 2\n\n. \n',
    ),
    ("quietly {\n    disp 2\n}", {"echo": False}, "\n. quietly {\n\n. \n"),
]


@pytest.mark.parametrize("streaming", [True, False])
@pytest.mark.parametrize(("code", "kwargs", "expected"), SHAPES)
def test_stdout_shapes(
    stata: ModuleType, code: str, kwargs: dict[str, bool], expected: str, streaming: bool
) -> None:
    from pystata import config

    config.set_streaming_output(streaming)
    assert run(stata, code, **kwargs) == (expected, None)


def test_run_returns_none_and_lone_comment_prints_empty_line(stata: ModuleType) -> None:
    with contextlib.redirect_stdout(io.StringIO()) as buf:
        assert stata.run("display 1") is None
        assert stata.run("// just a comment") is None
        assert stata.run("") is None
    assert buf.getvalue() == "1\n\n"


def test_multi_line_error_carries_duplicated_rc(stata: ModuleType) -> None:
    from pystata import config

    full = "\n. disp 1\n1\n\n. disp error\nerror not found\nr(111);\nr(111);\n"
    config.set_streaming_output(False)
    assert run(stata, "disp 1\ndisp error") == ("", full)
    config.set_streaming_output(True)
    printed, error = run(stata, "disp 1\nsleep 60\ndisp error")
    streamed = full.replace("\n. disp error", "\n. sleep 60\n\n. disp error")
    assert error is not None and printed + error == streamed
    assert printed.startswith("\n. disp 1\n1\n")  # printed while running, not at the end
    assert error.endswith("error not found\nr(111);\nr(111);\n")


def test_single_line_error_and_quietly(stata: ModuleType) -> None:
    assert run(stata, "disp error") == ("", "error not found\nr(111);\n")
    assert run(stata, "command_x 1") == ("", "command command_x is unrecognized\nr(199);\n")
    # quietly hides the message but not the return code, as in Stata
    assert run(stata, "disp error", quietly=True) == ("", "r(111);\n")
    assert run(stata, 'display "a"\ndisplay "b"', quietly=True) == ("", None)


def test_echo_default_follows_set_command_show(stata: ModuleType) -> None:
    from pystata import config

    config.set_command_show(True)
    assert run(stata, "display 3") == (". display 3\n3\n", None)
    config.set_command_show(False)
    assert run(stata, "display 3") == ("3\n", None)
    with pytest.raises(TypeError, match="echo must be a boolean value"):
        stata.run("display 3", echo="yes")
    with pytest.raises(TypeError, match="inline must be a boolean value"):
        stata.run("display 3", inline=1)


def test_streaming_prints_from_thread_named_stata(stata: ModuleType) -> None:
    from pystata import config

    writes: list[tuple[str, str]] = []

    class Spy(io.StringIO):
        def write(self, s: str) -> int:
            if s:
                writes.append((threading.current_thread().name, s))
            return len(s)

    code = 'display "a"\nsleep 120\ndisplay "b"\nsleep 120\ndisplay "c"'
    with contextlib.redirect_stdout(Spy()):
        stata.run(code)
    assert {name for name, _ in writes} == {"Stata"}
    assert len(writes) >= 3
    assert "".join(s for _, s in writes).count("\n. display") == 3

    writes.clear()
    config.set_streaming_output(False)
    with contextlib.redirect_stdout(Spy()):
        stata.run(code)
    assert [name for name, _ in writes] == ["MainThread"]


def test_python_output_during_run_lands_in_stata_output(stata: ModuleType) -> None:
    outer = sys.stdout

    def intrude() -> None:
        time.sleep(0.05)
        print("intruder")

    thread = threading.Thread(target=intrude)
    thread.start()
    printed, error = run(stata, "sleep 200")
    thread.join()
    assert error is None
    assert printed == "intruder\n"
    assert sys.stdout is outer


def test_output_file_replaces_stdout(stata: ModuleType, tmp_path: Path) -> None:
    from pystata import config

    target = tmp_path / "out.txt"
    target.write_text("old\n")
    with pytest.raises(OSError, match="already exists"):
        config.set_output_file(str(target))
    config.set_output_file(str(target), replace=True)
    assert run(stata, 'display "to the file"') == ("", None)
    config.close_output_file()
    assert target.read_text() == "to the file\n"


def test_config_validation_and_status(stata: ModuleType) -> None:
    from pystata import config

    with pytest.raises(ValueError, match="invalid graph format"):
        config.set_graph_format("gif")
    with pytest.raises(ValueError, match="perm must be a boolean value"):
        config.set_graph_format("png", perm="yes")
    with pytest.raises(ValueError, match="one of width and height must be specified"):
        config.set_graph_size()
    with pytest.raises(TypeError, match="show must be a boolean value"):
        config.set_graph_show("on")
    with contextlib.redirect_stdout(io.StringIO()) as buf:
        config.status()
    lines = buf.getvalue().splitlines()
    assert lines[0] == "    System information"
    assert lines[2] == "      Stata version          Stata 18.0 (MP)"
    assert lines[4:6] == ["      Stata initialized      True", "      sfi initialized        True"]
    assert lines[-1] == "      streaming output       on"
    assert config.get_encode_str("é") == b"\xc3\xa9"


# --- break and overlap ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "forvalues i = 1/100000000 {\n    quietly local x = `i' * 2\n}",
        "forvalues i = 1/1000 {\n    sleep 100\n}",
        "sleep 10000",
    ],
)
def test_break_from_another_thread(stata: ModuleType, code: str) -> None:
    run(stata, 'global kept "still here"')
    thread, when = set_break_after(0.1)
    _, error = run(stata, code)
    stopped = time.monotonic()
    thread.join()
    assert stopped - when[0] < 0.2
    assert error is not None
    assert "--Break--\n" in error and "r(1);\n" in error
    assert run(stata, 'display "$kept"') == ("still here\n", None)


def test_break_in_log_and_break_kept_while_idle(stata: ModuleType, tmp_path: Path) -> None:
    from pystata import config

    thread, _ = set_break_after(0.1)
    _, error = run(stata, "log using b.log, text replace\nsleep 5000\nlog close")
    thread.join()
    assert error == "--Break--\nr(1);\n--Break--\nr(1);\n"
    run(stata, "log close")
    body = log_body(tmp_path / "b.log")
    assert body == ["", ". sleep 5000", "--Break--", "r(1);", "--Break--", "r(1);"]
    # A break set while Stata is idle is kept: the next run stops at once, the one after runs.
    config.stlib.StataSO_SetBreak()
    assert run(stata, "display 1") == ("", "--Break--\nr(1);\n")
    assert run(stata, "display 1") == ("1\n", None)


def test_overlapping_calls_are_refused_and_recorded(
    stata: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sfi

    record = tmp_path / "events.jsonl"
    monkeypatch.setenv("FAKE_STATA_RECORD", str(record))
    done = threading.Event()

    def long_run() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            stata.run("sleep 300")
        done.set()

    worker = threading.Thread(target=long_run, name="worker")
    worker.start()
    time.sleep(0.1)
    with pytest.raises(RuntimeError, match=r"fake Stata: overlapping call run\(\)"):
        stata.run("display 1")
    with pytest.raises(RuntimeError, match=r"overlapping call sfi\.Macro\.getGlobal"):
        sfi.Macro.getGlobal("x")
    assert not done.is_set()  # the worker's run is unaffected
    worker.join()
    assert run(stata, "display 2") == ("2\n", None)
    events = [json.loads(line) for line in record.read_text().splitlines()]
    overlaps = [
        (e["call"], e["active"], e["active_thread"]) for e in events if e["event"] == "overlap"
    ]
    assert overlaps == [("run()", "run()", "worker"), ("sfi.Macro.getGlobal", "run()", "worker")]


def test_record_break_events(
    stata: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pystata import config

    record = tmp_path / "events.jsonl"
    monkeypatch.setenv("FAKE_STATA_RECORD", str(record))
    monkeypatch.setenv("FAKE_STATA_BREAK_DELAY_MS", "150")

    def double_break() -> None:
        time.sleep(0.05)
        config.stlib.StataSO_SetBreak()
        config.stlib.StataSO_SetBreak()

    thread = threading.Thread(target=double_break)
    started = time.monotonic()
    thread.start()
    _, error = run(stata, "sleep 3000")
    elapsed = time.monotonic() - started
    thread.join()
    assert error is not None and "--Break--" in error
    assert 0.2 <= elapsed < 0.6  # the break waited for FAKE_STATA_BREAK_DELAY_MS
    events = [json.loads(line) for line in record.read_text().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds == ["run_start", "set_break", "set_break", "break_honoured", "run_end"]
    assert [(e["during"], e["count"]) for e in events if e["event"] == "set_break"] == [
        ("run", 1),
        ("run", 2),
    ]
    assert events[0]["cmd"] == "sleep 3000"
    assert events[-1]["rc"] == 1 and events[-1]["breaks"] == 2
    assert 0.2 <= events[-1]["seconds"] < 0.6


def test_empty_break_message_and_lost_tail(
    stata: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pystata import config

    monkeypatch.setenv("FAKE_STATA_EMPTY_BREAK_MESSAGE", "1")
    thread, _ = set_break_after(0.05)
    assert run(stata, "sleep 3000") == ("", "")
    thread.join()
    assert config.get_output() == "--Break--\nr(1);\n"

    monkeypatch.setenv("FAKE_STATA_LOSE_TAIL", "1")
    assert run(stata, 'display "tail"') == ("", None)
    assert config.get_output() == "tail\n"
    printed, _ = run(stata, 'display "a"\nsleep 100\ndisplay "b"')
    assert printed == '\n. display "a"\na\n\n. sleep 100\n'
    assert config.get_output() == '\n. display "b"\nb\n\n. \n'


# --- the interpreter -----------------------------------------------------------------------------


def test_macros_scalars_and_display(stata: ModuleType) -> None:
    code = textwrap.dedent(
        """\
        capture display "resets _rc"
        local a = 1/3
        local i 2
        local x`i' "nested"
        global g = 2^10
        scalar s = 2.5
        display "`a'|`x`i''|$g|${g}|" s*2 "|" `=_rc' "|" %5.2f 3.14159
        display 1e20, 1234567890, -1/3, ., 1/0, "a",,"b"
        """
    )
    printed, error = run(stata, code)
    assert error is None
    lines = printed.split("\n")
    assert lines[-7] == ".3333333333333333|nested|1024|1024|5|0| 3.14"
    assert lines[-4] == "1.000e+20 1.235e+09 -.33333333 . . ab"


def test_capture_noisily_quietly(stata: ModuleType, tmp_path: Path) -> None:
    code = textwrap.dedent(
        """\
        log using c.log, text replace
        capture error 111
        display _rc
        capture noisily error 198
        quietly {
            display "hidden"
            noisily display "shown"
        }
        log close
        """
    )
    assert run(stata, code)[1] is None
    body = log_body(tmp_path / "c.log")
    assert body == [
        "",
        ". capture error 111",
        "",
        ". display _rc",
        "111",
        "",
        ". capture noisily error 198",
        "invalid syntax",
        "",
        ". quietly {",
        "shown",
        "",
        ". log close",
    ]


def test_programs_and_stored_results(stata: ModuleType) -> None:
    import sfi

    code = textwrap.dedent(
        """\
        capture program drop stats
        program define stats, rclass
            args who
            return scalar N = 74
            return scalar mean = 1/3
            return local who "`who'"
        end
        stats world
        capture program drop est
        program est, eclass
            ereturn local cmd "est"
            ereturn scalar ll = -12.5
        end
        est
        capture program drop sres
        program sres, sclass
            sreturn local vars "a b"
        end
        sres
        """
    )
    assert run(stata, code)[1] is None
    assert stata.get_return() == {"r(N)": 74.0, "r(mean)": 1 / 3, "r(who)": "world"}
    assert stata.get_ereturn() == {"e(ll)": -12.5, "e(cmd)": "est"}
    assert stata.get_sreturn() == {"s(vars)": "a b"}
    assert sfi.Scalar.getValue("r(N)") == 74.0
    assert sfi.Macro.getGlobal("e(cmd)") == "est"
    printed, _ = run(stata, "return list", echo=True)
    assert printed.split("\n") == [
        ". return list",
        "",
        "scalars:",
        "               r(mean) =  .3333333333333333",
        "                  r(N) =  74",
        "",
        "macros:",
        '                r(who) : "world"',
        "",
    ]


def test_sfi_reads_and_writes_session_state(stata: ModuleType) -> None:
    import sfi

    sfi.Macro.setGlobal("from_sfi", "yes")
    sfi.Scalar.setValue("half", 0.5)
    run(stata, 'local loc1 "L1"')
    assert run(stata, 'display "$from_sfi " half*4') == ("yes 2\n", None)
    assert sfi.Macro.getLocal("loc1") == "L1"
    assert sfi.Macro.getGlobal("nope") == ""
    assert sfi.Scalar.getValue("c(stata_version)") == 18.0
    assert sfi.SFIToolkit.getWorkingDir() == os.getcwd()
    assert sfi.SFIToolkit.macroExpand("$from_sfi`loc1'") == "yesL1"
    assert sfi.Data.getObsTotal() == 0
    assert issubclass(sfi.BreakError, Exception)


def test_cd_and_relative_do_files(stata: ModuleType, tmp_path: Path) -> None:
    sub = tmp_path / "sub dir"
    sub.mkdir()
    (sub / "child.do").write_text('display "child ran"\n')
    printed, error = run(stata, 'cd "sub dir"\npwd\ndo child')
    assert error is None
    assert os.getcwd() == str(sub)
    assert f"\n. pwd\n{sub}\n" in printed
    assert "child ran" in printed


def test_single_line_limits(stata: ModuleType) -> None:
    assert run(stata, "#delimit ;") == ("", "# is not a valid command name\nr(199);\n")
    code_follows = "program error:  code follows on the same line as open brace\nr(198);\n"
    assert run(stata, "forvalues i = 1/3 { display `i' }") == ("", code_follows)


def test_missing_do_file(stata: ModuleType) -> None:
    printed, error = run(stata, 'display "x"\ndo nowhere')
    assert (
        error == '\n. display "x"\nx\n\n. do nowhere\nfile nowhere.do not found\nr(601);\nr(601);\n'
    )
    assert printed == ""


# --- logs: the corpus shapes ---------------------------------------------------------------------


def test_text_log_header_matches_mcmclinear(
    stata: ModuleType, corpus_dir: Path, short_dir: Path
) -> None:
    from pystata._fake.logs import stamp

    real = corpus_lines(corpus_dir / "logs/labordynamicsinstitute__ssc-mirror__mcmclinear.log")
    opened = real[4].rstrip("\n")
    assert DATE.search(opened) is not None
    run(stata, "log using h.log, text replace\n\nversion 12.0\n\nlog close")
    ours = corpus_lines(short_dir / "h.log")
    assert [normalize(x) for x in ours[:10]] == [normalize(x) for x in real[:10]]
    assert ours[2] == f"       log:  {short_dir / 'h.log'}\n"
    # The space-padded day of the corpus (` 5 Jan 2012`) comes from the same formatter.
    when = time.strptime("2012-01-05 10:11:25", "%Y-%m-%d %H:%M:%S")
    assert opened == " opened on:  " + stamp(when)


def test_text_log_footer_matches_artbin_examples(
    stata: ModuleType, corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = corpus_lines(corpus_dir / "logs/labordynamicsinstitute__ssc-mirror__artbin_examples.log")
    monkeypatch.setenv("FAKE_STATA_CRLF", "1")
    assert run(stata, "set linesize 116\nlog using f.log, text replace\n\nlog close")[1] is None
    ours = corpus_lines(tmp_path / "f.log")
    assert [normalize(x) for x in ours[-7:]] == [normalize(x) for x in real[-7:]]
    assert ours[0] == real[0] == "-" * 115 + "\r\n"
    assert all(x.endswith("\r\n") for x in ours)


def test_error_tail_of_a_failing_do_file(stata: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "child.do").write_text('display "start"\ndisplay source\ndisplay "never"\n')
    (tmp_path / "parent.do").write_text("do child\n")
    _, error = run(stata, "log using e.log, text replace\ndo parent\n")
    assert error is not None and error.endswith("r(111);\nr(111);\n")
    run(stata, "log close")
    body = log_body(tmp_path / "e.log")
    assert body == [
        "",
        ". do parent",
        "",
        ". do child",
        "",
        '. display "start"',
        "start",
        "",
        ". display source",
        "source not found",
        "r(111);",
        "",
        "end of do-file",
        "r(111);",
        "",
        "end of do-file",
        "r(111);",
        "r(111);",
    ]


def test_errors_inside_blocks(stata: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "loop.do").write_text("forvalues i = 1/2 {\n    display nothing\n}\n")
    (tmp_path / "ifblock.do").write_text(
        'if 1 {\n    display "  FAIL: x not found"\n    error 111\n    global skipped 1\n}\n'
    )
    run(stata, "log using b.log, text replace\ncapture noisily do loop\ncapture noisily do ifblock")
    run(stata, "log close")
    body = log_text(tmp_path / "b.log")
    loop = body.index(". capture noisily do loop")
    assert body[loop + 2 : loop + 12] == [
        ". forvalues i = 1/2 {",
        "  2.     display nothing",
        "  3. }",
        "nothing not found",
        "r(111);",
        "r(111);",
        "",
        "end of do-file",
        "",
        ". capture noisily do ifblock",
    ]
    block = body.index(". if 1 {")
    assert body[block : block + 10] == [
        ". if 1 {",
        '.     display "  FAIL: x not found"',
        "  FAIL: x not found",
        ".     error 111",
        "variable not found",
        "r(111);",
        ".     global skipped 1",
        ". }",
        "r(111);",
        "",
    ]
    assert body[block + 10] == "end of do-file"


def test_loop_numbering_nested_do_and_exit(
    stata: ModuleType, corpus_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "child.do").write_text('display "in child"\nexit\ndisplay "never"\n')
    (tmp_path / "main.do").write_text(
        "* a comment\n"
        "// another\n"
        "foreach f in reg mixed {\n"
        "  display `\"`f'\"'\n"
        "  }\n"
        "do child\n"
        'display "back"\n'
    )
    run(stata, "log using n.log, text replace\ndo main\nlog close")
    body = log_body(tmp_path / "n.log")
    assert body == [
        "",
        ". do main",
        "",
        ". * a comment",
        ". // another",
        ". foreach f in reg mixed {",
        "  2.   display `\"`f'\"'",
        "  3.   }",
        "reg",
        "mixed",
        "",
        ". do child",
        "",
        '. display "in child"',
        "in child",
        "",
        ". exit",
        "",
        "end of do-file",
        "",
        '. display "back"',
        "back",
        "",
        ". ",
        "end of do-file",
        "",
        ". log close",
    ]
    # The same numbering as the corpus's loop echo (`  2.   do `f'.mata`).
    real = corpus_lines(corpus_dir / "logs/labordynamicsinstitute__ssc-mirror__mcmclinear.log")
    assert real[15] == "  2.   do `f'.mata\n"
    assert re.fullmatch(r" {2}\d\. .*", body[6]) and re.fullmatch(r" {2}\d\. .*", real[15][:-1])


def test_nested_do_end_matches_master_log(
    stata: ModuleType, corpus_dir: Path, tmp_path: Path
) -> None:
    real = corpus_lines(corpus_dir / "smcl/ecn310__course-project-parent__Master_Log.smcl")
    end = next(i for i, x in enumerate(real) if "end of do-file" in x)
    assert [x.rstrip("\r\n") for x in real[end - 1 : end + 3]] == [
        ". ",
        "{txt}end of do-file",
        "",
        "{com}. clear",
    ]
    (tmp_path / "child.do").write_text('display "x"\n')
    run(stata, "log using m.smcl, replace\ndo child\nclear\nlog close")
    ours = [x.rstrip("\n") for x in corpus_lines(tmp_path / "m.smcl")]
    ours_end = ours.index("{txt}end of do-file")
    assert ours[ours_end - 1 : ours_end + 3] == [
        "{com}. ",
        "{txt}end of do-file",
        "",
        "{com}. clear",
    ]


def test_wrapping_at_linesize(stata: ModuleType, tmp_path: Path) -> None:
    long = "abcdefghij" * 9
    code = f'set linesize 60\nlog using w.log, text replace\ndisplay "{long}"\nlog close'
    printed, error = run(stata, code)
    assert error is None
    body = log_text(tmp_path / "w.log")
    echo = body.index('. display "' + long[:48])
    assert body[echo : echo + 5] == [
        '. display "' + long[:48],
        "> " + long[48:] + '"',
        long[:59],
        "> " + long[59:],
        "",
    ]
    assert max(len(x) for x in body) == 59
    assert body[0] == "-" * 59
    assert long[:59] + "\n> " + long[59:] + "\n" in printed  # the screen wraps the same way


def test_continuation_lines_and_comments(stata: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "c.do").write_text(
        'display "x" ///\n    "y"   /// more\n    "z"\n'
        "/* block\n   comment */ display 1\n"
        "#delimit ;\ndisplay 2\n  + 3;\n#delimit cr\n"
    )
    run(stata, "log using c.log, text replace\ndo c\nlog close")
    body = log_text(tmp_path / "c.log")
    start = body.index('. display "x" ///')
    assert body[start : start + 22] == [
        '. display "x" ///',
        '>     "y"   /// more',
        '>     "z"',
        "xyz",
        "",
        ". /* block",
        ">    comment */ display 1",
        "1",
        "",
        ". #delimit ;",
        "delimiter now ;",
        "",
        ". display 2",
        ">   + 3;",
        "5",
        "",
        ". #delimit cr",
        "delimiter now cr",
        "",
        ". ",
        "end of do-file",
        "",
    ]


def test_smcl_log_matches_corpus_tags(
    stata: ModuleType, corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    master = corpus_lines(corpus_dir / "smcl/ecn310__course-project-parent__Master_Log.smcl")
    session = corpus_lines(
        corpus_dir / "smcl/ecn310__course-project-parent__Running_reporducibility_log.smcl"
    )
    monkeypatch.setenv("FAKE_STATA_CRLF", "1")
    code = (
        "log using s.smcl, replace\nforvalues i = 1/2 {\n  display `i'\n}\n"
        "capture noisily display perm_res_p25_kr24\nlog close"
    )
    assert run(stata, code)[1] is None
    ours = corpus_lines(tmp_path / "s.smcl")
    assert [normalize(x) for x in ours[:6]] == [normalize(x) for x in master[:6]]
    assert [normalize(x) for x in ours[-8:]] == [normalize(x) for x in master[-8:]]
    assert ours[-1] == master[-1] == "{txt}{sf}{ul off}"
    assert "{com}. forvalues i = 1/2 {c -(}\r\n" in ours
    assert "{txt}  2{com}.   display `i'\r\n" in ours
    assert "{txt}  3{com}. {c )-}\r\n" in ours
    assert "{err}perm_res_p25_kr24 not found\r\n" in ours
    assert "{err}perm_res_p25_kr24 not found\r\n" in session
    _, error = run(stata, "log using t.smcl, replace\ndisplay nothing")
    assert error is not None and error.endswith("r(111);\nr(111);\n")
    run(stata, "log close")
    smcl = (tmp_path / "t.smcl").read_text()
    link = "{txt}{search r(111), local:r(111);}\n"
    assert "{err}nothing not found\n" + link + "{search r(111), local:r(111);}\n" in smcl
    assert link.replace("\n", "\r\n") in session


def test_several_logs_named_nomsg_off_and_604(stata: ModuleType, tmp_path: Path) -> None:
    code = textwrap.dedent(
        """\
        log using all.log, text replace name(everything)
        log using quiet.log, text replace nomsg
        quietly display "nobody sees this"
        log off everything
        display "only unnamed"
        log on everything
        capture noisily log using other.log, text replace
        log close
        display "only named"
        log close everything
        """
    )
    assert run(stata, code)[1] is None
    named = log_text(tmp_path / "all.log")
    unnamed = log_text(tmp_path / "quiet.log")
    assert named[1] == "      name:  everything"
    assert "nobody sees this" not in named + unnamed
    assert "only unnamed" in unnamed and "only unnamed" not in named
    assert "only named" in named and "only named" not in unnamed
    assert unnamed[:2] == ["", '. quietly display "nobody sees this"']  # nomsg: no header
    assert unnamed[-3:] == ["", ". log close", ""]  # … and no footer
    footer = named[named.index(". log close everything") + 1 :]
    assert footer[0] == "      name:  everything"
    assert footer[-4] == "  log type:  text"
    assert DATE.fullmatch(footer[-3].removeprefix(" closed on:  "))
    assert footer[-2:] == ["-" * 79, ""]
    assert "log file already open" in named and "r(604);" not in named  # captured


def test_log_written_line_by_line_while_running(
    stata: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_STATA_LINE_DELAY_MS", "25")
    log = tmp_path / "live.log"
    sizes: list[int] = []
    finished = threading.Event()

    def work() -> None:
        run(stata, "log using live.log, text replace\nforvalues i = 1/6 {\n display `i'\n}")
        finished.set()

    thread = threading.Thread(target=work)
    thread.start()
    while not finished.is_set():
        if log.exists():
            sizes.append(log.stat().st_size)
        time.sleep(0.01)
    thread.join()
    run(stata, "log close")
    growth = sorted(set(sizes))
    assert len(growth) >= 5  # the file grew in many steps during the run, not once at the end
    assert growth == sorted(growth) and growth[-1] < log.stat().st_size


def test_chunked_writes_split_lines_and_characters(tmp_path: Path, stata: ModuleType) -> None:
    from pystata._fake.knobs import Knobs
    from pystata._fake.lines import RES, line
    from pystata._fake.logs import LogFile

    writes: list[bytes] = []

    class Recorder(io.BytesIO):
        def write(self, b: Any) -> int:
            writes.append(bytes(b))
            return super().write(b)

    fh = Recorder()
    log = LogFile("x.log", None, "text", fh, nomsg=True)
    text = "héllo — ®" * 4
    log.write_line(line(RES, text), 80, Knobs(chunked=True))
    assert b"".join(writes) == (text + "\n").encode("utf-8")
    assert max(len(w) for w in writes) <= 7 and len(writes) > 5
    assert any(not _decodes(w) for w in writes)  # some chunk ends inside a UTF-8 character


def _decodes(b: bytes) -> bool:
    try:
        b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_chunked_and_plain_logs_end_identical(
    stata: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "job.do").write_text('display "héllo — ®"\nforvalues i = 1/3 {\n display `i\'\n}\n')
    run(stata, "log using plain.log, text replace\ndo job\nlog close")
    monkeypatch.setenv("FAKE_STATA_CHUNKED", "1")
    run(stata, "log using plain.log, text replace\ndo job\nlog close")
    chunked = (tmp_path / "plain.log").read_bytes()
    monkeypatch.delenv("FAKE_STATA_CHUNKED")
    run(stata, "log using plain.log, text replace\ndo job\nlog close")
    plain = (tmp_path / "plain.log").read_bytes()
    assert normalize(chunked.decode()) == normalize(plain.decode())
    assert "héllo — ®".encode() in chunked


# --- data, stored results, estimation, graphs --------------------------------------------------

# Stata 17/18 output for the auto data, as published in real logs (see tests/fake_stata/README.md).
DESCRIBE_AUTO = """
Contains data from {path}
 Observations:            74                  1978 automobile data
    Variables:            12                  13 Apr 2022 17:45
                                              (_dta has notes)
-------------------------------------------------------------------------------
Variable      Storage   Display    Value
    name         type    format    label      Variable label
-------------------------------------------------------------------------------
make            str18   %-18s                 Make and model
price           int     %8.0gc                Price
mpg             int     %8.0g                 Mileage (mpg)
rep78           int     %8.0g                 Repair record 1978
headroom        float   %6.1f                 Headroom (in.)
trunk           int     %8.0g                 Trunk space (cu. ft.)
weight          int     %8.0gc                Weight (lbs.)
length          int     %8.0g                 Length (in.)
turn            int     %8.0g                 Turn circle (ft.)
displacement    int     %8.0g                 Displacement (cu. in.)
gear_ratio      float   %6.2f                 Gear ratio
foreign         byte    %8.0g      origin     Car origin
-------------------------------------------------------------------------------
Sorted by: foreign
"""
SUMMARIZE_AUTO = """
    Variable |        Obs        Mean    Std. dev.       Min        Max
-------------+---------------------------------------------------------
        make |          0
       price |         74    6165.257    2949.496       3291      15906
         mpg |         74     21.2973    5.785503         12         41
       rep78 |         69    3.405797    .9899323          1          5
    headroom |         74    2.993243    .8459948        1.5          5
-------------+---------------------------------------------------------
       trunk |         74    13.75676    4.277404          5         23
      weight |         74    3019.459    777.1936       1760       4840
      length |         74    187.9324    22.26634        142        233
        turn |         74    39.64865    4.399354         31         51
displacement |         74    197.2973    91.83722         79        425
-------------+---------------------------------------------------------
  gear_ratio |         74    3.014865    .4562871       2.19       3.89
     foreign |         74    .2972973    .4601885          0          1
"""
REGRESS_AUTO = """
      Source |       SS           df       MS      Number of obs   =        74
-------------+----------------------------------   F(2, 71)        =     14.74
       Model |   186321280         2  93160639.9   Prob > F        =    0.0000
    Residual |   448744116        71  6320339.67   R-squared       =    0.2934
-------------+----------------------------------   Adj R-squared   =    0.2735
       Total |   635065396        73  8699525.97   Root MSE        =      2514

------------------------------------------------------------------------------
       price | Coefficient  Std. err.      t    P>|t|     [95% conf. interval]
-------------+----------------------------------------------------------------
         mpg |  -49.51222   86.15604    -0.57   0.567    -221.3025     122.278
      weight |   1.746559   .6413538     2.72   0.008      .467736    3.025382
       _cons |   1946.069    3597.05     0.54   0.590    -5226.245    9118.382
------------------------------------------------------------------------------
"""


def test_sysuse_describe_and_summarize_match_stata(stata: ModuleType, fake_stata_dir: Path) -> None:
    run(stata, "clear all")
    assert run(stata, "sysuse auto") == ("(1978 automobile data)\n", None)
    auto = fake_stata_dir.resolve() / "ado" / "base" / "a" / "auto.dta"
    out, error = run(stata, "describe")
    # A long installation path wraps after `> ` at 80 columns, as Stata wraps any long line.
    assert (out.replace("\n> ", ""), error) == (DESCRIBE_AUTO.format(path=auto), None)
    assert stata.get_return()["r(width)"] == 43.0
    assert run(stata, "summarize") == (SUMMARIZE_AUTO, None)
    # The umbrella log (Stata 10) has the same by-group numbers, in the old "Std. Dev." layout.
    out, _ = run(stata, "summarize mpg weight length if foreign")
    assert out.splitlines()[3:] == [
        "         mpg |         22    24.77273    6.611187         14         41",
        "      weight |         22    2315.909    433.0035       1760       3420",
        "      length |         22    168.5455    13.68255        142        193",
    ]


def test_summarize_stored_results_and_return_list(stata: ModuleType, corpus_dir: Path) -> None:
    run(stata, "sysuse auto, clear")
    run(stata, "summarize price")
    r = stata.get_return()
    assert r["r(N)"] == 74.0 and r["r(sum_w)"] == 74.0 and r["r(sum)"] == 456229.0
    assert r["r(min)"] == 3291.0 and r["r(max)"] == 15906.0
    assert abs(r["r(mean)"] - 6165.256756756757) < 1e-9
    assert abs(r["r(sd)"] - 2949.495884768919) < 1e-9
    assert abs(r["r(Var)"] - r["r(sd)"] ** 2) < 1e-6
    out, _ = run(stata, "return list")
    assert out.splitlines()[:4] == [
        "",
        "scalars:",
        "                  r(N) =  74",
        "              r(sum_w) =  74",
    ]
    # Same layout as the real `return list` in the corpus: a 22-wide right-aligned key.
    real = (corpus_dir / "logs/tpcopeland__Stata-Tools__console_getting_started.log").read_text()
    assert "          r(N_persons) =  3" in real
    assert "                r(sum) =  456229" in out


def test_regress_table_and_e_results(stata: ModuleType) -> None:
    run(stata, "sysuse auto, clear")
    assert run(stata, "regress price mpg weight") == (REGRESS_AUTO, None)
    e = stata.get_ereturn()
    assert e["e(cmd)"] == "regress" and e["e(depvar)"] == "price"
    assert e["e(N)"] == 74.0 and e["e(df_r)"] == 71.0 and e["e(df_m)"] == 2.0
    assert round(e["e(r2)"], 4) == 0.2934 and round(e["e(rmse)"], 3) == 2514.029
    b = [list(row) for row in e["e(b)"]]
    assert [round(v, 4) for v in b[0]] == [-49.5122, 1.7466, 1946.0687]
    import sfi

    assert sfi.Matrix.getColNames("e(b)") == ["mpg", "weight", "_cons"]
    assert sfi.Matrix.getRowNames("e(b)") == ["y1"]
    assert sfi.Matrix.getRowNames("e(V)") == ["mpg", "weight", "_cons"]
    v = sfi.Matrix.get("e(V)")
    assert round(v[0][0] ** 0.5, 5) == 86.15604 and v[0][1] == v[1][0]
    assert sfi.Scalar.getValue("e(N)") == 74.0
    assert sfi.Macro.getGlobal("e(cmdline)") == "regress price mpg weight"
    assert "e(V)" in sfi.SFIToolkit.listReturn("e()", "matrix")
    out, _ = run(stata, "ereturn list")
    assert "                  e(b) :  1 x 3" in out.splitlines()
    assert '                e(cmd) : "regress"' in out.splitlines()
    out, _ = run(stata, "matrix list e(b)")
    assert out.splitlines()[1:] == [
        "e(b)[1,3]",
        "           mpg      weight       _cons",
        "y1  -49.512221   1.7465592   1946.0687",
    ]


def test_list_has_statas_table_shape(stata: ModuleType, corpus_dir: Path) -> None:
    run(stata, "sysuse auto, clear")
    out, _ = run(stata, "list make price foreign in 4/9")
    assert out.splitlines() == [
        "",
        "     +-----------------------------------+",
        "     | make             price    foreign |",
        "     |-----------------------------------|",
        "  4. | Buick Century    4,816   Domestic |",
        "  5. | Buick Electra    7,827   Domestic |",
        "  6. | Buick LeSabre    5,788   Domestic |",
        "  7. | Buick Opel       4,453   Domestic |",
        "  8. | Buick Regal      5,189   Domestic |",
        "     |-----------------------------------|",
        "  9. | Buick Riviera   10,372   Domestic |",
        "     +-----------------------------------+",
    ]
    real = corpus_lines(corpus_dir / "logs/labordynamicsinstitute__ssc-mirror__umbrella_auto.log")
    assert "  1. | Plym. Champ             4        2.5          8           14.5 |\r\n" in real
    out, _ = run(stata, "list make mpg if mpg > 35, noobs")
    assert out.splitlines() == [
        "",
        "  +-----------------+",
        "  | make        mpg |",
        "  |-----------------|",
        "  | VW Diesel    41 |",
        "  +-----------------+",
    ]


def test_generate_replace_drop_keep_labels_and_errors(stata: ModuleType) -> None:
    assert run(stata, "clear") == ("", None)
    assert run(stata, "set obs 4") == ("Number of observations (_N) was 0, now 4.\n", None)
    assert run(stata, "generate x = _n * 1.5 if _n < 4") == ("(1 missing value generated)\n", None)
    assert run(stata, "replace x = 0 if x == .") == ("(1 real change made)\n", None)
    run(stata, 'generate str5 s = "a" + string(_n)')
    run(stata, 'label define yn 0 "No" 1 "Yes"\ngenerate byte y = mod(_n, 2)\nlabel values y yn')
    run(stata, 'label variable y "Odd row"')
    import sfi

    assert sfi.Data.getObsTotal() == 4 and sfi.Data.getVarCount() == 3
    assert sfi.Data.get("x s") == [[1.5, "a1"], [3.0, "a2"], [4.5, "a3"], [0.0, "a4"]]
    assert sfi.Data.get("y", valuelabel=True) == [["Yes"], ["No"], ["Yes"], ["No"]]
    assert sfi.Data.getVarLabel("y") == "Odd row" and sfi.Data.getVarType("s") == "str5"
    assert sfi.ValueLabel.getValueLabels("yn") == {0: "No", 1: "Yes"}
    assert run(stata, "count if y") == ("  2\n", None)
    assert run(stata, "drop if x > 4") == ("(1 observation deleted)\n", None)
    run(stata, "keep x y")
    assert sfi.Data.getVarCount() == 2 and sfi.Data.getObsTotal() == 3
    assert run(stata, "generate x = 1")[1] == "variable x already defined\nr(110);\n"
    assert run(stata, "summarize nosuch")[1] == "variable nosuch not found\nr(111);\n"
    assert run(stata, "sysuse auto")[1] == (
        "no; dataset in memory has changed since last saved\nr(4);\n"
    )
    run(stata, "clear")
    assert run(stata, "regress y x")[1] == "no variables defined\nr(111);\n"


def test_sfi_data_over_auto(stata: ModuleType) -> None:
    run(stata, "sysuse auto, clear")
    import sfi

    assert sfi.Data.getVarName(0) == "make" and sfi.Data.getVarIndex("foreign") == 11
    assert sfi.Data.getVarFormat("price") == "%8.0gc" and sfi.Data.isVarTypeStr(0)
    assert sfi.Data.get("make price rep78", obs=[0, 2]) == [
        ["AMC Concord", 4099.0, 3.0],
        ["AMC Spirit", 3799.0, 8.98846567431158e307],
    ]
    assert sfi.Data.get("rep78", obs=2, missingval=None) == [[None]]
    assert sfi.Data.get("gear_ratio", obs=0)[0][0] == pytest.approx(3.58, abs=1e-6)
    assert sfi.Data.get("gear_ratio", obs=0)[0][0] != 3.58  # stored as a Stata float
    assert len(sfi.Data.get("make", selectvar="foreign")) == 22
    assert sfi.ValueLabel.getVarValueLabel("foreign") == "origin"
    assert sfi.ValueLabel.getLabel("origin", 1) == "Foreign"
    assert sfi.ValueLabel.getNames() == ["origin"]
    with pytest.raises(ValueError):
        sfi.Data.getVarName(12)


def test_graphs_in_memory_and_exported_files(stata: ModuleType, tmp_path: Path) -> None:
    import struct
    import zlib

    run(stata, "clear all")
    run(stata, "sysuse auto")
    assert run(stata, "scatter mpg weight") == ("", None)
    assert run(stata, "histogram mpg") == ("(bin=8, start=12, width=3.625)\n", None)
    run(stata, "twoway (scatter price mpg) (line price mpg), name(g2) title(Prices)")
    assert run(stata, "line price mpg, name(g2)")[1] == "graph g2 already exists\nr(110);\n"
    run(stata, "graph dir")
    assert stata.get_return()["r(list)"] == "Graph g2"
    assert run(stata, "graph export out.png, width(300)") == (
        "file out.png written in PNG format\n",
        None,
    )
    png = (tmp_path / "out.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    assert struct.unpack(">II", png[16:24]) == (300, 218)
    assert zlib.crc32(png[12:29]) == struct.unpack(">I", png[29:33])[0]
    assert run(stata, "graph export out.png")[1] == "file out.png already exists\nr(602);\n"
    run(stata, "graph export out.svg, name(g2)")
    svg = (tmp_path / "out.svg").read_text()
    assert svg.startswith("<?xml") and svg.count("<circle") == 74 and "<polyline" in svg
    run(stata, "graph export out.pdf, name(g2)")
    pdf = (tmp_path / "out.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    xref = int(pdf.rsplit(b"startxref\n", 1)[1].split()[0])
    assert pdf[xref : xref + 4] == b"xref"
    assert run(stata, "graph export x.png, name(nosuch)")[1] == "graph nosuch not found\nr(111);\n"
    run(stata, "_gr_list on\nscatter mpg price, name(g3)\n_gr_list list")
    assert stata.get_return()["r(_grlist)"] == "g3"
    run(stata, "_gr_list off\ngraph rename g3 g4\ngraph drop g2")
    run(stata, "graph dir")
    assert stata.get_return()["r(list)"] == "Graph g4"
    run(stata, "graph drop _all")
    assert run(stata, "graph export y.png")[1] == "no graphs in memory\nr(693);\n"


# --- data frames -------------------------------------------------------------------------------


def test_frame_put_if_then_prefix_lists_only_matching_rows(stata: ModuleType) -> None:
    run(stata, "clear all")
    run(stata, "sysuse auto, clear")
    assert run(stata, "frame put make price foreign if foreign == 1, into(pg)") == ("", None)
    out, err = run(stata, "frame pg: list in 1/3, abbreviate(16)")
    assert err is None
    assert out.splitlines() == [
        "",
        "     +-----------------------------+",
        "     | make        price   foreign |",
        "     |-----------------------------|",
        "  1. | Audi 5000   9,690   Foreign |",
        "  2. | Audi Fox    6,295   Foreign |",
        "  3. | BMW 320i    9,735   Foreign |",
        "     +-----------------------------+",
    ]
    foreign = run(stata, "count if foreign == 1")[0]
    assert run(stata, "frame pg: count") == (foreign, None) == ("  22\n", None)
    assert run(stata, "frame pg: display c(frame) _N") == ("pg22\n", None)
    assert run(stata, "frames dir") == (
        "  default  74 x 12; 1978 automobile data\n  pg       22 x 3; 1978 automobile data\n",
        None,
    )
    assert stata.get_return()["r(frames)"] == "default pg"
    assert run(stata, "frame drop pg") == ("", None)
    assert run(stata, "frame pg: count")[1] == "frame pg not found\nr(111);\n"
    import sfi

    assert sfi.Data.getObsTotal() == 74 and sfi.Data.getVarCount() == 12
    assert run(stata, "display c(changed) _N c(frame)") == ("074default\n", None)
    out, _ = run(stata, "describe")
    assert out.splitlines()[-1] == "Sorted by: foreign"


def test_frame_put_copies_types_formats_and_labels(stata: ModuleType) -> None:
    run(stata, "clear all")
    run(stata, "sysuse auto, clear")
    run(stata, "frame put price-rep78 gear_ratio foreign in 52/54, into(cp)")
    run(stata, "frame change cp")
    import sfi

    try:
        assert run(stata, "pwf") == ("(current frame is cp)\n", None)
        assert sfi.Data.getObsTotal() == 3
        assert [sfi.Data.getVarName(i) for i in range(sfi.Data.getVarCount())] == [
            "price",
            "mpg",
            "rep78",
            "gear_ratio",
            "foreign",
        ]
        assert sfi.Data.getVarType("price") == "int" and sfi.Data.getVarFormat("price") == "%8.0gc"
        assert sfi.Data.getVarType("gear_ratio") == "float"
        assert sfi.Data.getVarLabel("rep78") == "Repair record 1978"
        assert sfi.ValueLabel.getVarValueLabel("foreign") == "origin"
        assert sfi.ValueLabel.getValueLabels("origin") == {0: "Domestic", 1: "Foreign"}
        assert sfi.Data.get("price foreign", valuelabel=True) == [
            [4172.0, "Domestic"],
            [9690.0, "Foreign"],
            [6295.0, "Foreign"],
        ]
    finally:
        run(stata, "frame change default")
    assert sfi.Data.get("price", obs=52) == [[9690.0]]
    assert run(stata, "display c(changed)") == ("0\n", None)


def test_frame_errors_and_empty_put(stata: ModuleType) -> None:
    run(stata, "clear all")
    run(stata, "sysuse auto, clear")
    assert run(stata, "frame put make if price > 100000, into(none)") == ("", None)
    assert run(stata, "frame none: count") == ("  0\n", None)
    assert run(stata, "frame none: list") == ("", None)
    assert run(stata, "frame put make, into(none)")[1] == "frame none already defined\nr(110);\n"
    assert run(stata, "frame put make, into(default)")[1] == (
        "frame default already defined\nr(110);\n"
    )
    assert run(stata, "frame put nosuch, into(n2)")[1] == "variable nosuch not found\nr(111);\n"
    assert run(stata, "frame put make")[1] == "option into() required\nr(198);\n"
    assert run(stata, "frame nosuch: list in 1/3")[1] == "frame nosuch not found\nr(111);\n"
    assert run(stata, "frame drop nosuch")[1] == "frame nosuch not found\nr(111);\n"
    assert run(stata, "frame drop default")[1] == "cannot drop current frame\nr(110);\n"
    assert run(stata, "capture frame drop none\ndisplay _rc", quietly=True) == ("", None)
    assert run(stata, "display _rc") == ("0\n", None)
    assert run(stata, "frame none: count")[1] == "frame none not found\nr(111);\n"
    assert run(stata, "display c(frame) _N c(changed)") == ("default740\n", None)


def test_frame_prefix_expands_macros_in_the_calling_frame(stata: ModuleType) -> None:
    """Stata expands the whole line before `frame` runs; a `frame x {` block expands inside x."""
    run(stata, "clear all")
    run(stata, "sysuse auto, clear")
    run(stata, "frame put make mpg if mpg > 34, into(hi)")
    assert run(stata, "frame hi: display `=_N' _N") == ("743\n", None)
    assert run(stata, "frame hi: list in 1/`=min(_N, 5)'")[1] == (
        "Obs. nos. out of range\nr(198);\n"
    )
    out, err = run(stata, "frame hi {\nlist make in 1/`=min(_N, 5)', noobs\n}")
    assert err is None
    assert [x for x in out.splitlines() if x.startswith("  | ")] == [
        "  | make       |",
        "  | Datsun 210 |",
        "  | Subaru     |",
        "  | VW Diesel  |",
    ]
    run(stata, "frame change hi")
    assert run(stata, "clear all") == ("", None)
    assert run(stata, "frames dir") == ("  default  0 x 0\n", None)
    assert run(stata, "frame hi: count")[1] == "frame hi not found\nr(111);\n"


# --- replication dots: _dots, simulate, bootstrap ------------------------------------------------

SLOW = (
    "capture program drop slow\nprogram define slow, rclass\n sleep {ms}\n"
    " return scalar m = 1\nend\n"
)
UNIFORM = (
    "capture program drop draw\nprogram define draw, rclass\n return scalar m = runiform()\nend\n"
)


def test_dots_follow_statas_dots_ado(stata: ModuleType, short_dir: Path) -> None:
    """_dots.ado 1.1.1: header, ruler with its trailing blank, marks by rc, `%5.0f` counts."""
    code = (
        "log using d.log, text replace\n_dots 0, title(Placebo Test) reps(120)\n"
        "forvalues i = 1/120 {\n local rc = cond(`i' == 7, 1, cond(`i' == 60, 2, 0))\n"
        " _dots `i' `rc'\n}\n_dots 120\nlog close"
    )
    _, err = run(stata, code)
    assert err is None
    body = log_body(short_dir / "d.log")
    start = body.index("Placebo Test (120)")
    assert body[start + 1] == "----+--- 1 ---+--- 2 ---+--- 3 ---+--- 4 ---+--- 5 "
    dots = [x for x in body if re.fullmatch(r"[.xe]+( +\d+)?", x)]
    assert dots == [
        "......x" + "." * 43 + "    50",
        "." * 9 + "e" + "." * 40 + "   100",
        "." * 20,
    ]


@pytest.mark.parametrize("shape", ["inline", "ruled"])
def test_simulate_and_bootstrap_print_statas_dots(
    stata: ModuleType, short_dir: Path, monkeypatch: pytest.MonkeyPatch, shape: str
) -> None:
    if shape == "ruled":
        monkeypatch.setenv("FAKE_STATA_DOTS", "ruled")
    code = (
        f"log using s.log, text replace\n{UNIFORM}simulate m=r(m), reps(120) seed(5): draw\n"
        "count\nsysuse auto, clear\nbootstrap r(mean), reps(60) seed(1): summarize mpg\n"
        "log close"
    )
    _, err = run(stata, code)
    assert err is None
    body = log_body(short_dir / "s.log")
    assert "      Command: draw" in body and "            m: r(m)" in body
    assert "  120" in body  # `count` after simulate: its results replaced the data
    if shape == "inline":
        head = "Simulations (120): .........10.........20.........30.........40.........50....."
        assert head in body
        k = body.index(head)
        assert body[k + 1].startswith("> ....60.........70") and body[k + 1].endswith("120 d")
        assert body[k + 2] == "> one"  # wrapped at the line size, `done` cut as Stata cuts it
        assert "> ...50.........60 done" in body
    else:
        k = body.index("Simulations (120)")
        assert body[k + 1 : k + 5] == [
            "----+--- 1 ---+--- 2 ---+--- 3 ---+--- 4 ---+--- 5 ",
            "." * 50 + "    50",
            "." * 50 + "   100",
            "." * 20,
        ]
        assert "Bootstrap replications (60)" in body
    assert "(running summarize on estimation sample)" in body
    table = next(x for x in body if x.startswith("       _bs_1 |"))
    assert table.split()[2] == "21.2973"  # the observed mean of mpg
    assert any(x.endswith("Replications  =         60") for x in body)


def test_dots_reach_the_log_before_their_line_ends(stata: ModuleType, short_dir: Path) -> None:
    """Real Stata's log grows by a mark at a time; a follower sees a partial last line."""
    slow = SLOW.format(ms=15)
    tails: list[bytes] = []
    finished = threading.Event()

    def work() -> None:
        run(stata, f"log using p.log, text replace\n{slow}simulate m=r(m), reps(40): slow")
        finished.set()

    thread = threading.Thread(target=work)
    thread.start()
    log = short_dir / "p.log"
    while not finished.is_set():
        if log.exists():
            tails.append(log.read_bytes().rsplit(b"\n", 1)[-1])
        time.sleep(0.005)
    thread.join()
    run(stata, "log close")
    partial = {t for t in tails if t.startswith(b"Simulations (40): ")}
    assert len(partial) >= 10  # the same unfinished line seen growing mark by mark
    assert b"Simulations (40): .........10.........20....." in partial


def test_a_break_during_replications_is_glued_to_the_dots(
    stata: ModuleType, short_dir: Path
) -> None:
    slow = SLOW.format(ms=20)
    run(stata, f"log using b.log, text replace\n{slow}")
    thread, _ = set_break_after(0.3)
    _, err = run(stata, "simulate m=r(m), reps(500) nodots: slow\n")
    thread.join()
    assert err is not None and "r(1);" in err  # nodots: a break still stops it
    thread, _ = set_break_after(0.3)
    _, err = run(stata, "simulate m=r(m), reps(500): slow")
    thread.join()
    run(stata, "log close")
    assert err is not None and "r(1);" in err
    body = log_body(short_dir / "b.log")
    glued = [x for x in body if x.startswith("Simulations (500): ")]
    assert len(glued) == 1 and glued[0].endswith("--Break--")


def test_jackknife_leaves_one_out_and_reports_the_standard_error_of_a_mean(
    stata: ModuleType, short_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_STATA_DOTS", "ruled")
    _, err = run(
        stata,
        "log using j.log, text replace\nsysuse auto, clear\n"
        "jackknife r(mean): summarize mpg\nlog close",
    )
    assert err is None
    body = log_body(short_dir / "j.log")
    k = body.index("Jackknife replications (74)")
    assert body[k + 2 : k + 4] == ["." * 50 + "    50", "." * 24]
    row = next(x for x in body if x.startswith("       _jk_1 |"))
    # the jackknife standard error of a mean is sd/sqrt(n) = 5.785503/sqrt(74); t(73) interval
    assert row.split("|")[1].split() == [
        "21.2973",
        ".6725511",
        "31.67",
        "0.000",
        "19.9569",
        "22.63769",
    ]


# --- shapes from the real do/log pairs (../shared/stata-corpus/pairs) ------------------------


def test_loop_bodies_echo_as_real_stata_does_after_blank_lines(
    stata: ModuleType, tmp_path: Path
) -> None:
    # 20_eth_an_model_checks: tabs expanded; after a blank body line the next lines are echoed
    # `. ` with no number up to the next command, and numbering resumes after it
    (tmp_path / "loop.do").write_text(
        'foreach i in a {\n\tdi "`i\'"\n\t\n\tdisplay 1\n\tdisplay 2\n\n'
        "/* a comment */\n\ndisplay 3\n}\n"
    )
    run(stata, "log using b.log, text replace\ndo loop")
    run(stata, "log close")
    body = log_text(tmp_path / "b.log")
    at = body.index(". foreach i in a {")
    assert body[at : at + 10] == [
        ". foreach i in a {",
        '  2.         di "`i\'"',
        "  3.         ",
        ".         display 1",
        "  4.         display 2",
        "  5. ",
        ". /* a comment */",
        ". ",
        ". display 3",
        "  6. }",
    ]


@pytest.fixture
def recorded(tmp_path: Path) -> tuple[Path, Path]:
    """A do-file that opens its own log, and what real Stata logged (01b_eth_cr_stset_sgss)."""
    do_file = tmp_path / "own.do"
    do_file.write_text(
        "* Open a log file\ncap log close\nlog using ./logs/own, replace t\n\n"
        'global outcomes "tested positivetest"\n\n* Close log file\nlog close\n\nclear\n'
    )
    recording = tmp_path / "own.log"
    recording.write_text(
        "-" * 79 + "\n      name:  <unnamed>\n       log:  /workspace/logs/own.log\n"
        "  log type:  text\n opened on:  10 Jan 2021, 10:57:21\n\n. \n"
        '. global outcomes "tested positivetest"\n\n. \n. * Close log file\n. log close\n'
        "      name:  <unnamed>\n       log:  /workspace/logs/own.log\n  log type:  text\n"
        " closed on:  10 Jan 2021, 10:57:21\n" + "-" * 79 + "\n"
    )
    return do_file, recording


def test_replay_writes_the_recording_between_the_echoes_real_stata_adds(
    stata: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded: tuple[Path, Path]
) -> None:
    do_file, recording = recorded
    monkeypatch.setenv("FAKE_STATA_REPLAY", str(recording))
    run(stata, "log using b.log, text replace")
    _, err = run(stata, f'do "{do_file}"')
    run(stata, "log close")
    assert err is None
    body = log_body(tmp_path / "b.log")
    recorded_lines = recording.read_text().split("\n")[:-2]  # not the closing rule
    start = body.index(". log using ./logs/own, replace t")
    assert body[start - 3 : start + 1] == [
        ". * Open a log file",
        ". cap log close",
        "",
        ". log using ./logs/own, replace t",
    ]
    assert body[start + 1 : start + 1 + len(recorded_lines)] == recorded_lines
    assert body[start + 1 + len(recorded_lines) :][:5] == ["", ". ", ". clear", "", ". "]
    assert "end of do-file" in body
    assert not (tmp_path / "logs").exists()  # nothing ran: the do-file's own log is not opened


def test_replay_raises_the_recorded_error(
    stata: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded: tuple[Path, Path]
) -> None:
    do_file, recording = recorded
    lines = recording.read_text().split("\n")
    failing = tmp_path / "failing.log"
    failing.write_text("\n".join([*lines[:8], "variable q not found", "r(111);"]) + "\n")
    monkeypatch.setenv("FAKE_STATA_REPLAY", str(failing))
    run(stata, "log using b.log, text replace")
    _, err = run(stata, f'do "{do_file}"')
    run(stata, "log close")
    assert err is not None and err.rstrip().endswith("r(111);")
    body = log_text(tmp_path / "b.log")
    at = body.index("variable q not found")
    assert body[at : at + 5] == ["variable q not found", "r(111);", "", "end of do-file", "r(111);"]


def test_replay_of_an_smcl_recording_writes_the_text_stata_shows(
    stata: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded: tuple[Path, Path]
) -> None:
    do_file, _ = recorded
    recording = tmp_path / "own.smcl"  # the shapes of cs_egranger.smcl
    recording.write_text(
        "{smcl}\n{com}{sf}{ul off}{txt}{.-}\n      name:  {res}<unnamed>\n"
        "       {txt}log:  {res}/workspace/logs/own.smcl\n  {txt}log type:  {res}smcl\n"
        " {txt}opened on:  {res}10 Jan 2021, 10:57:21\n{txt}\n{com}. \n"
        '. global outcomes "tested positivetest"\n{txt}\n{com}. display {c -(}1{c )-}\n'
        "{res}{bf:{err}x}{txt}{col 10}y{hline 3}\n{com}. log close\n"
        "      {txt}name:  {res}<unnamed>\n"
        "       {txt}log:  {res}/workspace/logs/own.smcl\n  {txt}log type:  {res}smcl\n"
        " {txt}closed on:  {res}10 Jan 2021, 10:57:21\n{txt}{.-}\n{smcl}\n{txt}{sf}{ul off}\n"
    )
    monkeypatch.setenv("FAKE_STATA_REPLAY", str(recording))
    run(stata, "log using b.log, text replace")
    _, err = run(stata, f'do "{do_file}"')
    run(stata, "log close")
    assert err is None
    body = log_body(tmp_path / "b.log")
    start = body.index(". log using ./logs/own, replace t")
    assert body[start + 1 : start + 13] == [
        "-" * 79,
        "      name:  <unnamed>",
        "       log:  /workspace/logs/own.smcl",
        "  log type:  smcl",
        " opened on:  10 Jan 2021, 10:57:21",
        "",
        ". ",
        '. global outcomes "tested positivetest"',
        "",
        ". display {1}",
        "x        y---",
        ". log close",
    ]
    assert "{" not in "".join(body[start + 13 :])


# --- packages: ssc install, net install, sysdir, the adopath -------------------------------------


def unwrapped(text: str) -> str:
    """Stata's output with its `> ` continuation lines joined back (long paths wrap)."""
    return text.replace("\n> ", "")


@pytest.fixture
def plus(stata: ModuleType, tmp_path: Path) -> Iterator[Path]:
    """PLUS set to a folder of the test's own (`sysdir set PLUS`), put back afterwards."""
    folder = tmp_path / "plus"
    stata.run(f'sysdir set PLUS "{folder}"', quietly=True)
    yield folder
    stata.run('sysdir set PLUS "~/ado/plus/"', quietly=True)


def test_sysdir_set_plus_shows_in_c_sysdir_plus(stata: ModuleType, plus: Path) -> None:
    out, err = run(stata, "display c(sysdir_plus)")
    assert err is None and out == f"{plus}/\n"
    listing, _ = run(stata, "sysdir")
    assert f"    PLUS:  {plus}/" in listing.splitlines()


def test_ssc_install_copies_into_plus_letter_folders_and_tracks_the_package(
    stata: ModuleType, plus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from package_site import make_package

    make_package(tmp_path / "ssc", "mypkg", "hi")
    monkeypatch.setenv("FAKE_STATA_SSC", str(tmp_path / "ssc"))
    out, err = run(stata, "ssc install mypkg")
    assert err is None
    assert unwrapped(out).splitlines() == [
        "checking mypkg consistency and verifying not already installed...",
        f"installing into {plus}/...",
        "installation complete.",
    ]
    assert sorted(str(p.relative_to(plus)) for p in plus.rglob("*") if p.is_file()) == [
        "_/_mypkg_util.ado",
        "m/mypkg.ado",
        "m/mypkg.sthlp",
        "stata.trk",
    ]  # the .dta is ancillary: net get, not net install
    trk = (plus / "stata.trk").read_text().splitlines()
    assert trk[:2] == ["* 00000001", "*! version 1.0.0"]
    assert trk[3:5] == ["N mypkg.pkg", trk[4]] and trk[4].startswith("D ")
    assert trk[-4:] == ["f m/mypkg.ado", "f m/mypkg.sthlp", "f _/_mypkg_util.ado", "e"]
    said, err = run(stata, "mypkg")  # found on the adopath at its first use
    assert err is None and said == "hi from mypkg\n"
    again, err = run(stata, "ssc install mypkg")
    assert err is None and again.splitlines()[1] == "all files already exist and are up to date."


def test_a_changed_package_is_refused_without_replace_and_replaced_with_it(
    stata: ModuleType, plus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from package_site import make_package

    make_package(tmp_path / "ssc", "mypkg", "old")
    monkeypatch.setenv("FAKE_STATA_SSC", str(tmp_path / "ssc"))
    run(stata, "ssc install mypkg")
    make_package(tmp_path / "ssc", "mypkg", "new")
    _, err = run(stata, "ssc install mypkg")  # the output comes with the error
    assert err is not None and err.rstrip().endswith("r(602);")
    assert unwrapped(err).splitlines()[1:8] == [
        "",
        "the following files already exist and are different:",
        f"    {plus}/m/mypkg.ado",
        "",
        "no files installed or copied",
        "(no action taken)",
        "r(602);",
    ]
    out, err = run(stata, "ssc install mypkg, replace")
    assert err is None
    assert unwrapped(out).splitlines()[1:3] == [
        "the following files will be replaced:",
        f"    {plus}/m/mypkg.ado",
    ]
    assert (plus / "m" / "mypkg.ado").read_text().count("new from mypkg") == 1
    assert (plus / "stata.trk").read_text().count("N mypkg.pkg") == 1  # the old entry replaced


def test_ssc_install_of_an_unknown_package_is_r601_with_stata_s_words(
    stata: ModuleType, plus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ssc").mkdir()
    monkeypatch.setenv("FAKE_STATA_SSC", str(tmp_path / "ssc"))
    _, err = run(stata, "ssc install nonexist")
    assert err == (
        'ssc install: "nonexist" not found at SSC, type search nonexist\n'
        "(To find all packages at SSC that start with n, type ssc describe n)\nr(601);\n"
    )
    assert not plus.exists()


def test_net_install_over_http_and_its_failures(
    stata: ModuleType, plus: Path, tmp_path: Path
) -> None:
    from package_site import make_package, serve

    make_package(tmp_path / "site", "webpkg", "web", letter_folder=False)
    with serve(tmp_path / "site") as url:
        out, err = run(stata, f'net install webpkg, from("{url}")')
        assert err is None and out.splitlines()[-1] == "installation complete."
        assert (plus / "w" / "webpkg.ado").is_file()
        _, missing = run(stata, f"net install nothere, from({url})")
        assert missing == (
            f"file {url}nothere.pkg not found\ncould not load nothere.pkg from {url}\nr(601);\n"
        )
    _, refused = run(stata, f"net install webpkg, from({url})")  # the server is gone
    assert refused is not None and refused.startswith("remote connection failed\n")
    assert f"{url} either\n" in refused and refused.endswith("r(677);\n")


def test_reinstalling_prints_what_real_stata_18_logged(
    stata: ModuleType, plus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, corpus_dir: Path
) -> None:
    """The corpus's Stata 18 log of `ssc install outreg2, replace` with outreg2 installed."""
    from package_site import make_package

    from stata_tools.run.logs.parse import smcl_to_text

    log = corpus_dir / "smcl" / "ecn310__course-project-parent__Master_Log.smcl"
    real = [smcl_to_text(raw) for raw in log.read_text(encoding="latin-1").splitlines()]
    start = real.index(". ssc install outreg2, replace")
    make_package(tmp_path / "ssc", "outreg2")
    monkeypatch.setenv("FAKE_STATA_SSC", str(tmp_path / "ssc"))
    run(stata, "ssc install outreg2")
    out, err = run(stata, "ssc install outreg2, replace")
    assert err is None and out.splitlines() == real[start + 1 : start + 3]


# --- factor variables, stored estimates, holds, sort order -------------------------------------


def test_regress_factor_variables_named_as_stata_names_them(stata: ModuleType) -> None:
    import sfi

    run(stata, "sysuse auto, clear")
    out, err = run(stata, "regress price mpg i.foreign")
    assert err is None
    assert sfi.Matrix.getColNames("e(b)") == ["mpg", "0b.foreign", "1.foreign", "_cons"]
    b = sfi.Matrix.get("e(b)")[0]
    assert [round(v, 4) for v in b] == [-294.1955, 0.0, 1767.2922, 11905.4153]
    v = sfi.Matrix.get("e(V)")
    assert v[1] == [0.0, 0.0, 0.0, 0.0] and round(v[2][2] ** 0.5, 3) == 700.158
    assert sfi.Scalar.getValue("e(rank)") == 3.0 and sfi.Scalar.getValue("e(df_m)") == 2.0
    lines = out.splitlines()
    at = lines.index("     foreign |")
    assert lines[at - 1] == "             |"
    assert lines[at + 1].startswith("    Foreign  |   1767.292    700.158     2.52   0.014")
    assert not any("Domestic" in line for line in lines)  # base levels are not shown


def test_regress_interaction_with_and_without_the_main_effect(stata: ModuleType) -> None:
    import sfi

    run(stata, "sysuse auto, clear")
    run(stata, "quietly regress price i.foreign##c.mpg ib3.rep78")
    assert sfi.Matrix.getColNames("e(b)") == [
        "0b.foreign",
        "1.foreign",
        "mpg",
        "0b.foreign#co.mpg",
        "1.foreign#c.mpg",
        "1.rep78",
        "2.rep78",
        "3b.rep78",
        "4.rep78",
        "5.rep78",
        "_cons",
    ]
    assert sfi.Scalar.getValue("e(N)") == 69.0  # rep78 is missing in 5 cars
    out, _ = run(stata, "regress price i.foreign#c.mpg")
    assert sfi.Matrix.getColNames("e(b)") == ["0.foreign#c.mpg", "1.foreign#c.mpg", "_cons"]
    lines = out.splitlines()
    at = lines.index("     foreign#|")  # a long term's name wraps after its `#`, as in Stata
    assert lines[at + 1] == "       c.mpg |"
    assert lines[at + 2].startswith("   Domestic  |") and lines[at + 3].startswith("    Foreign  |")
    assert run(stata, "regress price i.make")[1].startswith("make:  string variable not allowed")


def test_estimates_store_dir_restore_and_the_stripe_functions(stata: ModuleType) -> None:
    import sfi

    run(stata, "clear all")
    assert run(stata, "estimates store m0")[1] == "last estimates not found\nr(301);\n"
    run(stata, "sysuse auto")
    run(stata, "quietly regress price mpg")
    run(stata, "estimates store m1")
    assert sfi.Macro.getGlobal("e(_estimates_name)") == "m1"
    run(stata, "quietly regress price mpg i.foreign")
    run(stata, "estimates store m2")
    out, _ = run(stata, "estimates dir")
    assert sfi.Macro.getGlobal("r(names)") == "m1 m2"
    assert "          m2 | regress       price          4  Linear regression" in out
    run(stata, "estimates restore m1")
    assert sfi.Matrix.getColNames("e(b)") == ["mpg", "_cons"]
    run(stata, "global st : colfullnames e(b)")
    assert sfi.Macro.getGlobal("st") == "mpg _cons"
    run(stata, "global st : coleq e(b)")
    assert sfi.Macro.getGlobal("st") == "_ _"
    err = run(stata, "estimates restore nosuch")[1]
    assert err == "estimation result nosuch not found\nr(111);\n"
    names = [sfi.Data.getVarName(i) for i in range(sfi.Data.getVarCount())]
    assert names[-2:] == ["_est_m1", "_est_m2"]  # each stored model's e(sample), in the data
    assert sfi.Data.get("_est_m1", [0, 73]) == [[1.0], [1.0]]
    run(stata, "estimates drop m1")
    assert sfi.Data.getVarCount() == 13
    run(stata, "quietly estimates dir")
    assert sfi.Macro.getGlobal("r(names)") == "m2"
    run(stata, "clear all")
    run(stata, "quietly estimates dir")
    assert sfi.Macro.getGlobal("r(names)") == ""


def test_estimates_hold_keeps_active_results_or_none(stata: ModuleType) -> None:
    import sfi

    run(stata, "clear all")
    assert run(stata, "_estimates hold h")[1] == "last estimates not found\nr(301);\n"
    assert run(stata, "_estimates hold h, nullok")[1] is None
    run(stata, "sysuse auto")
    run(stata, "quietly regress price mpg")
    run(stata, "_estimates unhold h")  # held nothing: nothing active again
    assert sfi.Macro.getGlobal("e(cmd)") == ""
    run(stata, "quietly regress price weight")
    run(stata, "_estimates hold h")
    assert sfi.Macro.getGlobal("e(cmd)") == ""
    run(stata, "_estimates unhold h")
    assert sfi.Matrix.getColNames("e(b)") == ["weight", "_cons"]
    assert run(stata, "_estimates unhold h")[1] == "estimation results h not found\nr(111);\n"


def test_return_hold_and_restore(stata: ModuleType) -> None:
    import sfi

    run(stata, "sysuse auto, clear")
    run(stata, "quietly summarize price")
    run(stata, "_return hold keep")
    assert sfi.Scalar.getValue("r(N)") is None
    run(stata, "quietly count if foreign")
    run(stata, "_return restore keep")
    assert sfi.Scalar.getValue("r(N)") == 74.0 and sfi.Scalar.getValue("r(mean)") > 6000


def test_sort_and_the_sortedby_macro_function(stata: ModuleType) -> None:
    import sfi

    run(stata, "sysuse auto, clear")
    assert run(stata, 'display "`: sortedby\'"')[0] == "foreign\n"
    assert sfi.Scalar.getValue("c(changed)") == 0.0
    run(stata, "sort price mpg")
    run(stata, "global sb : sortedby")
    assert sfi.Macro.getGlobal("sb") == "price mpg" and sfi.Scalar.getValue("c(changed)") == 1.0
    assert sfi.Data.get("price", [0, 73]) == [[3291], [15906]]
    run(stata, "quietly replace mpg = mpg + 1")
    run(stata, "global sb : sortedby")
    assert sfi.Macro.getGlobal("sb") == "price"
    run(stata, "gen lprice = ln(price)")
    run(stata, "drop in 1/2")
    run(stata, "global sb : sortedby")
    assert sfi.Macro.getGlobal("sb") == "price"


# --- what codebook_data relies on: _return, describe's varlist option, contract ----------------


def test_return_hold_and_restore_set_r_aside_and_back(stata: ModuleType) -> None:
    run(stata, "sysuse auto, clear")
    run(stata, "summarize price", quietly=True)
    before = stata.get_return()
    assert before["r(N)"] == 74 and before["r(max)"] == 15906
    assert run(stata, "_return hold keep1") == ("", None)
    assert stata.get_return() == {}
    run(stata, "count if foreign == 1", quietly=True)
    assert stata.get_return() == {"r(N)": 22.0}
    assert run(stata, "_return dir") == ("  keep1\n", None)
    assert run(stata, "_return restore keep1") == ("", None)
    assert stata.get_return() == before
    assert run(stata, "_return restore keep1")[1] == "keep1 not found\nr(111);\n"
    run(stata, "_return hold twice")
    run(stata, "_return restore twice, hold")
    assert stata.get_return() == before
    assert run(stata, "_return dir") == ("  twice\n", None)
    assert run(stata, "_return drop twice") == ("", None)
    assert run(stata, "_return dir") == ("", None)
    assert run(stata, "_return hold")[1] == "invalid syntax\nr(198);\n"


def test_describe_varlist_option_stores_the_names_and_sort_order(stata: ModuleType) -> None:
    run(stata, "sysuse auto, clear")
    assert run(stata, "describe t* rep78-headroom, varlist", quietly=True) == ("", None)
    returned = stata.get_return()
    assert returned["r(varlist)"] == "trunk turn rep78 headroom"
    assert returned["r(sortlist)"] == "foreign"
    assert returned["r(N)"] == 74 and returned["r(k)"] == 12
    run(stata, "describe price", quietly=True)
    assert "r(varlist)" not in stata.get_return()
    assert run(stata, "describe nosuch, varlist")[1] == "variable nosuch not found\nr(111);\n"


def test_contract_leaves_one_row_per_value_with_its_count(stata: ModuleType) -> None:
    run(stata, "sysuse auto, clear")
    run(stata, "frame put rep78, into(cb)")
    assert run(stata, "frame cb: contract rep78") == ("", None)
    assert run(stata, "frame cb: list, noobs")[0].splitlines() == [
        "",
        "  +---------------+",
        "  | rep78   _freq |",
        "  |---------------|",
        "  |     1       2 |",
        "  |     2       8 |",
        "  |     3      30 |",
        "  |     4      18 |",
        "  |     5      11 |",
        "  |---------------|",
        "  |     .       5 |",
        "  +---------------+",
    ]
    import sfi

    run(stata, "frame change cb")
    assert sfi.Data.getVarType("_freq") == "byte"  # compressed, as contract.ado does
    assert sfi.Data.getVarLabel("_freq") == "Frequency"
    run(stata, "frame change default")
    run(stata, "frame drop cb")
    run(stata, "frame put rep78 make, into(cb)")
    run(stata, "capture error 459")
    run(stata, "frame cb: contract rep78, nomiss")
    assert run(stata, "display _rc") == ("0\n", None)  # contract.ado's own capture
    assert run(stata, "frame cb: count") == ("  5\n", None)
    run(stata, "frame drop cb")
    run(stata, "frame put make, into(cb)")
    run(stata, "frame cb: contract make, nomiss freq(n)")
    assert run(stata, "frame cb: count") == ("  74\n", None)
    run(stata, "frame drop cb")
    assert run(stata, "describe", quietly=True) == ("", None)
    assert stata.get_return()["r(N)"] == 74  # the data in memory are untouched
    run(stata, "frame put rep78 if rep78 >= ., into(cb)")
    assert run(stata, "frame cb: contract rep78, nomiss")[1] == "no observations\nr(2000);\n"
    assert run(stata, "frame cb: contract")[1] == "varlist required\nr(100);\n"
    run(stata, "frame cb: generate _freq = 1")
    assert run(stata, "frame cb: contract rep78")[1] == (
        "_freq already defined: use freq() option to specify frequency variable\nr(110);\n"
    )
    run(stata, "frame drop cb")
