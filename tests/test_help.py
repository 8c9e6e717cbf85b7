"""Finding a help topic's file on the ado-path, as Stata's `help` does."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stata_tools.inspection.help import (
    DEFAULT_ADOPATH,
    HelpTopicError,
    adopath_dirs,
    default_sysdirs,
    find_help_file,
    help_topic,
    read_help,
)


def test_topic_names_follow_help() -> None:
    assert help_topic("regress") == "regress"
    assert help_topic("  Regress   Postestimation ") == "regress_postestimation"
    assert help_topic("_robust") == "_robust"


@pytest.mark.parametrize("bad", ["", "   ", "../etc/passwd", "a/b", "1abc", "x" * 65, "reg;rm"])
def test_bad_topics_are_refused_with_the_rule(bad: str) -> None:
    with pytest.raises(HelpTopicError, match="help topic"):
        help_topic(bad)


def test_lookup_order_is_letter_folder_then_folder_then_old_hlp(tmp_path: Path) -> None:
    first, second = tmp_path / "base", tmp_path / "plus"
    (first / "r").mkdir(parents=True)
    (second / "r").mkdir(parents=True)
    (second / "r" / "reghdfe.sthlp").write_text("{smcl}")
    (first / "reghdfe.hlp").write_text("old")
    assert find_help_file("reghdfe", [first, second]) == second / "r" / "reghdfe.sthlp"
    (first / "reghdfe.sthlp").write_text("{smcl}")
    assert find_help_file("reghdfe", [first, second]) == first / "reghdfe.sthlp"
    (first / "r" / "reghdfe.sthlp").write_text("{smcl}")
    assert find_help_file("reghdfe", [first, second]) == first / "r" / "reghdfe.sthlp"
    assert find_help_file("outreg", [first, second]) is None
    (first / "outreg.hlp").write_text("old")
    assert find_help_file("outreg", [first, second, tmp_path / "missing"]) == first / "outreg.hlp"


def test_adopath_codewords_resolve_through_sysdirs(tmp_path: Path) -> None:
    sysdirs = {
        "base": "/opt/stata/ado/base/",
        "site": "/opt/stata/ado/site/",
        "plus": "~/ado/plus/",
        "personal": "",
        "oldplace": "~/ado/",
    }
    dirs = adopath_dirs(DEFAULT_ADOPATH + ';"/my ado";mine', sysdirs, tmp_path)
    home = Path.home()
    assert dirs == [
        Path("/opt/stata/ado/base"),
        Path("/opt/stata/ado/site"),
        tmp_path,
        home / "ado" / "plus",
        home / "ado",
        Path("/my ado"),
        tmp_path / "mine",
    ]


@pytest.mark.parametrize(
    ("platform", "plus", "personal"),
    [
        ("linux", "/home/u/ado/plus", "/home/u/ado/personal"),
        ("darwin", "/home/u/Library/Application Support/Stata/ado/plus",
         "/home/u/Documents/Stata/ado/personal"),
        ("win32", "C:/ado/plus", "C:/ado/personal"),
    ],
)  # fmt: skip
def test_default_sysdirs_per_platform(platform: str, plus: str, personal: str) -> None:
    sysdirs = default_sysdirs(Path("/opt/stata18"), Path("/home/u"), platform)
    assert Path(sysdirs["base"]) == Path("/opt/stata18/ado/base")
    assert Path(sysdirs["plus"]) == Path(plus)
    assert Path(sysdirs["personal"]) == Path(personal)


def test_read_help_renders_a_latin1_file(tmp_path: Path, corpus_dir: Path) -> None:
    source = next((corpus_dir / "sthlp").glob("*__ivreg2.sthlp"))
    target = tmp_path / "ivreg2.sthlp"
    shutil.copy(source, target)
    page = read_help("ivreg2", target, max_chars=3000)
    assert page.markdown.startswith("# ivreg2 — Extended instrumental variables")
    assert "characters not shown]" in page.markdown
    assert page.path == target
