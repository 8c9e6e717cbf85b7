"""Batch logs: the preamble is set aside, the body reaches the parser, the tail gives rc."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from stata_tools.run.logs.batch import BatchLogReader, banner_info, batch_return_code

BANNER_18 = """
  ___  ____  ____  ____  ____ \u00ae
 /__    /   ____/   /   ____/      18.0
___/   /   /___/   /   /___/       MP\u2014Parallel Edition

 Statistics and Data Science       Copyright 1985-2023 StataCorp LLC
                                   StataCorp
                                   800-STATA-PC        https://www.stata
> .com

Stata license: Single-user 2-core  perpetual
Serial number: 000000000000
  Licensed to: Someone

Notes:
      1. Stata is running in batch mode.
      2. Unicode is supported; see help unicode_advice.

Running /home/u/profile.do ...

. do "hello_world.do"{SP}

. disp 21+21
42

.{SP}
end of do-file
""".replace("{SP}", " ")

BANNER_15 = """
  ___  ____  ____  ____  ____ (R)
 /__    /   ____/   /   ____/
___/   /   /___/   /   /___/   15.1   Copyright 1985-2017 StataCorp LLC
  Statistics/Data Analysis            StataCorp
     MP - Parallel Edition            College Station, Texas 77845 USA

Single-user 2-core Stata perpetual license:
       Serial number:  000000000000


Notes:
      1.  Stata is running in batch mode.

. display 1234{SP}
1234
""".replace("{SP}", " ")


def test_preamble_is_set_aside_and_body_passed_on() -> None:
    reader = BatchLogReader()
    lines = BANNER_18.split("\n")
    body = reader.feed(lines[:20]) + reader.feed(lines[20:])
    assert body[0] == '. do "hello_world.do" '
    assert body[1:] == ["", ". disp 21+21", "42", "", ". ", "end of do-file", ""]
    assert "Running /home/u/profile.do ..." in reader.preamble
    assert reader.return_code() == 0
    assert reader.banner().version == "18.0" and reader.banner().edition == "mp"


def test_stata_15_banner() -> None:
    reader = BatchLogReader()
    body = reader.feed(BANNER_15.split("\n"))
    assert body[:2] == [". display 1234 ", "1234"]
    assert banner_info(reader.preamble).version == "15.1"
    assert banner_info(reader.preamble).edition == "mp"
    assert reader.return_code() is None  # no end of do-file: not ended (or killed)


@pytest.mark.parametrize(
    ("tail", "rc"),
    [
        (["r(111);", "", "end of do-file", "r(111);", ""], 111),
        (["--Break--", "r(1);", "", "end of do-file", "--Break--", "r(1);"], 1),
        (["file x.do not found", "r(601);"], 601),
        (["r(9); t=0.00 10:59:06"], 9),
        (["end of do-file", "", ""], 0),
        (["end of do-file", "r; t=0.35 10:59:06"], 0),
        ([". exit, clear"], 0),
        ([". exit, STATA clear"], 0),
        ([". sleep 5000"], None),
        ([], None),
    ],
)
def test_return_code_from_tail(tail: list[str], rc: int | None) -> None:
    assert batch_return_code(tail) == rc


def test_the_fake_batch_log_reads_like_this(fake_stata_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "f.do").write_text("display 2\nsummarize nosuchvar\n", encoding="utf-8")
    subprocess.run([str(fake_stata_dir / "stata-se"), "-b", "do", "f.do"], cwd=tmp_path, check=True)
    reader = BatchLogReader()
    body = reader.feed((tmp_path / "f.log").read_text(encoding="utf-8").splitlines())
    assert body[0] == ". do f.do "
    assert reader.return_code() == 111
    assert reader.banner().edition == "se" and reader.banner().version == "18.0"
    assert not any("Serial number" in line for line in body)
