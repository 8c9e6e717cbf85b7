"""SMCL help files → Markdown, held against real community help files from the corpus."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stata_tools.inspection.smcl_help import smcl_to_markdown
from stata_tools.run.dofile import decode_source

# A directive left whole in the text; an unclosed one (a typo in the file) stays as written.
LEFTOVER = re.compile(
    r"\{(?:p_end|pstd|phang|synopt|synoptline|cmd|opt|it|bf|help|p2col|marker)\b[^{}]*\}"
)


def help_files(corpus: Path) -> list[Path]:
    files = sorted((corpus / "sthlp").glob("*.sthlp"))
    assert len(files) >= 10, "the corpus should hold real help files"
    return files


def render(corpus: Path, stem: str) -> str:
    path = next((corpus / "sthlp").glob(f"*__{stem}.sthlp"))
    return smcl_to_markdown(decode_source(path.read_bytes())[0])


def test_every_corpus_help_file_renders_without_smcl_left(corpus_dir: Path) -> None:
    for path in help_files(corpus_dir):
        markdown = smcl_to_markdown(decode_source(path.read_bytes())[0])
        assert markdown.startswith("# "), path.name
        assert "## Syntax" in markdown or "## Contents" in markdown, path.name
        assert LEFTOVER.search(markdown) is None, (path.name, LEFTOVER.search(markdown))
        assert markdown.count("```") % 2 == 0, f"{path.name}: a code fence is left open"
        assert "{smcl}" not in markdown and "{*" not in markdown, path.name


def test_title_syntax_and_options_of_winsor2(corpus_dir: Path) -> None:
    markdown = render(corpus_dir, "winsor2")
    assert markdown.splitlines()[0] == "# winsor2 — Winsorizing or Trimming variables"
    syntax = markdown[markdown.index("## Syntax") : markdown.index("## Description")]
    assert "`winsor2` *varlist* [*if*] [*in*]" in syntax
    assert "`cuts(# #)`" in syntax
    assert "`cuts(# #)` specifies the percentiles" in markdown


def test_examples_become_stata_code_blocks(corpus_dir: Path) -> None:
    markdown = render(corpus_dir, "winsor2")
    examples = markdown[markdown.index("## Examples") :]
    start = examples.index("```stata\n") + len("```stata\n")
    block = examples[start : examples.index("\n```", start)]
    assert ". winsor2 wage hours, replace by(industry)" in block
    assert "```" not in block
    assert ". sysuse nlsw88, clear" in block


def test_synopt_tables_become_option_lists(corpus_dir: Path) -> None:
    markdown = render(corpus_dir, "reghdfe")
    assert "- `absorb(absvars)` — categorical variables representing the fixed effects" in markdown
    assert "- `vce(vcetype)` — *vcetype* may be `unadjusted` (default)" in markdown


def test_markdown_special_characters_in_text_are_escaped(corpus_dir: Path) -> None:
    markdown = render(corpus_dir, "winsor2")
    assert 'suffix "\\_w" or "\\_tr"' in markdown


def test_a_redirect_file_points_at_the_other_topic() -> None:
    assert smcl_to_markdown(".h regress\n") == "See help `regress`.\n"


def test_inline_directives() -> None:
    smcl = (
        "{smcl}\n{title:Title}\n\n{phang}{cmd:foo} {hline 2} Do {it:things} {bf:fast}{p_end}\n"
        "\n{title:Syntax}\n\n{p 8 16 2}{cmd:foo} {varlist} [{cmd:,} {opt r:eplace}]{p_end}\n"
    )
    markdown = smcl_to_markdown(smcl)
    assert markdown.startswith("# foo — Do *things* **fast**")
    assert "## Syntax" in markdown
    assert "`foo` *varlist* [`,` `replace`]" in markdown


@pytest.mark.parametrize("limit", [200, 2000, 10_000])
def test_truncation_notes_what_is_missing_and_closes_fences(corpus_dir: Path, limit: int) -> None:
    whole = render(corpus_dir, "ivreg2")
    source = next((corpus_dir / "sthlp").glob("*__ivreg2.sthlp")).read_bytes()
    cut = smcl_to_markdown(decode_source(source)[0], max_chars=limit)
    assert len(cut) <= limit + 10
    found = re.search(r"\[… truncated: ([\d,]+) of ([\d,]+) characters not shown\]", cut)
    assert found is not None
    assert int(found.group(2).replace(",", "")) == len(whole)
    assert cut.count("```") % 2 == 0


def test_hostile_input_does_not_raise() -> None:
    for text in [
        "{" * 5000,
        "}" * 100,
        "{cmd:" * 300 + "x",
        "{p 1 2 3}\n" * 50,
        "\x00\ufeff{smcl}",
    ]:
        assert isinstance(smcl_to_markdown(text), str)
