"""The engine's Stata commands: paths quoted so that Stata reads exactly them, on every OS."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from stata_tools import RunRequest, Session, Settings
from stata_tools.stata.engine import stata_quote


def test_a_plain_posix_path_is_only_quoted() -> None:
    assert stata_quote("/home/me/my project/run.log", windows=False) == (
        '"/home/me/my project/run.log"'
    )


def test_windows_separators_become_slashes_drive_letters_and_shares_kept() -> None:
    assert stata_quote(r"C:\Users\me\AppData\run.log", windows=True) == (
        '"C:/Users/me/AppData/run.log"'
    )
    assert stata_quote(r"\\server\share\data\x.do", windows=True) == '"//server/share/data/x.do"'
    assert stata_quote(r"D:\\", windows=True) == '"D://"'


def test_macro_characters_are_escaped_so_stata_does_not_expand_them() -> None:
    assert stata_quote("/tmp/a$b/x.do", windows=False) == '"/tmp/a\\$b/x.do"'
    assert stata_quote("/tmp/`x'/y.do", windows=False) == '"/tmp/\\`x\'/y.do"'
    # on Windows a separator before `$` would otherwise be read as Stata's escape and vanish
    assert stata_quote(r"C:\Users\$adm\x.do", windows=True) == '"C:/Users/\\$adm/x.do"'


def test_a_double_quote_takes_compound_quotes() -> None:
    assert stata_quote('/tmp/say "hi".do', windows=False) == '`"/tmp/say "hi".do"\''


async def test_a_run_folder_whose_path_holds_a_dollar_is_followed(tmp_path: Path) -> None:
    """Without the escape Stata would expand `$dir` and write the log somewhere else."""
    run_dir = tmp_path / "runs$dir"
    settings = dataclasses.replace(Settings.from_env(), run_dir=run_dir)
    session = Session(settings)
    try:
        result = await session.execute(RunRequest(code='display "one"\ndisplay "two"'))
    finally:
        session.close()
    assert result.ok, result.output.text
    assert Path(result.log_path).parent.parent == run_dir
    assert (result.commands_done, result.commands_total) == (2, 2)
    assert "two" in Path(result.log_path).read_text().splitlines()
