"""The command policy: what `check` refuses, where it finds it, and what it never flags."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stata_tools.safety import policy as policy_module
from stata_tools.safety.policy import (
    ALLOW_ENV,
    CATEGORIES,
    UNCHECKED,
    CouldNotCheck,
    Policy,
    PolicyError,
    Source,
    Violation,
    called_files,
    check,
    refusal_message,
)

STRICT = Policy()  # refuses every category

Hit = tuple[str, str, int]  # (category, command, line)


def hits(code: str, policy: Policy = STRICT, **kwargs: object) -> list[Hit]:
    return [(v.category, v.command, v.line) for v in check(code, policy, **kwargs)]


# --- each category --------------------------------------------------------------------------------

CATEGORY_CASES = [
    # shell
    ("shell ls -l", [("shell", "shell", 1)]),
    ("!ls", [("shell", "!", 1)]),
    ("! ls", [("shell", "!", 1)]),
    ("!!ls", [("shell", "!!", 1)]),
    ("   !rm -rf /tmp/x", [("shell", "!", 1)]),
    ("winexec notepad.exe", [("shell", "winexec", 1)]),
    ("xshell xterm", [("shell", "xshell", 1)]),
    ("unix ls", [("shell", "unix", 1)]),
    ("dos dir", [("shell", "dos", 1)]),
    ('shell"ls"', [("shell", "shell", 1)]),
    ("shell", [("shell", "shell", 1)]),
    # erase
    ("erase results.dta", [("erase", "erase", 1)]),
    ('rm "my file.csv"', [("erase", "rm", 1)]),
    ("rmdir olddir", [("erase", "rmdir", 1)]),
    # python
    ("python: print(1)", [("python", "python", 1)]),
    ("python script analysis.py, args(1)", [("python", "python", 1)]),
    ("python set exec /usr/bin/python3", [("python", "python", 1)]),
    ("python query", [("python", "python", 1)]),
    ("python\nimport os\nos.system('ls')\nend", [("python", "python", 1)]),
    ("python:\nprint(1)\nend", [("python", "python", 1)]),
    # java
    ("java: System.out.println(1);", [("java", "java", 1)]),
    ("java\nSystem.exit(0);\nend", [("java", "java", 1)]),
    ("java set heapmax 4g", [("java", "java", 1)]),
    ("javacall com.example.Main run", [("java", "javacall", 1)]),
    # plugin
    ("plugin call myplug, arg", [("plugin", "plugin", 1)]),
    ('program myplug, plugin using("myplug.dll")', [("plugin", "program …, plugin", 1)]),
    ("capture program myplug, plugin", [("plugin", "program …, plugin", 1)]),
    ("pr myplug, plugin", [("plugin", "pr …, plugin", 1)]),
    # install
    ("net install estout, from(http://example.com)", [("install", "net install", 1)]),
    ("net get estout", [("install", "net get", 1)]),
    ("ssc install estout, replace", [("install", "ssc install", 1)]),
    ("ssc uninstall estout", [("install", "ssc uninstall", 1)]),
    ("ssc copy estout.ado", [("install", "ssc copy", 1)]),
    ("ado uninstall estout", [("install", "ado uninstall", 1)]),
    ("adoupdate estout, update", [("install", "adoupdate …, update", 1)]),
    ("update all", [("install", "update all", 1)]),
]


@pytest.mark.parametrize(("code", "expected"), CATEGORY_CASES)
def test_each_category(code: str, expected: list[Hit]) -> None:
    assert hits(code) == expected


def test_every_category_is_covered_by_a_case() -> None:
    assert {category for _, found in CATEGORY_CASES for category, _, _ in found} == set(CATEGORIES)


HARMLESS_NEIGHBOURS = [
    "net from http://example.com",
    "net describe estout",
    "ssc describe estout",
    "ssc hot",
    "ado dir",
    "adoupdate",
    "adoupdate estout",
    "update query",
    "program define myprog, rclass",
    "program drop myprog",
    "capture program drop myplug",
    "mkdir results",
    "cd shell",
    "use shell_data, clear",
    "plugins_used = 1",
]


@pytest.mark.parametrize("code", HARMLESS_NEIGHBOURS)
def test_harmless_neighbours_of_refused_commands(code: str) -> None:
    assert hits(code) == []


# --- abbreviations --------------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["sh", "she", "shel", "shell"])
def test_shell_abbreviations(word: str) -> None:
    assert hits(f"{word} ls") == [("shell", word, 1)]


@pytest.mark.parametrize("word", ["xsh", "xshe", "xshel", "xshell"])
def test_xshell_abbreviations(word: str) -> None:
    assert hits(f"{word} xterm") == [("shell", word, 1)]


@pytest.mark.parametrize("sub", ["ins", "inst", "insta", "instal", "install"])
def test_net_install_abbreviations(sub: str) -> None:
    assert hits(f"net {sub} pkg") == [("install", f"net {sub}", 1)]


@pytest.mark.parametrize("sub", ["inst", "insta", "instal", "install"])
def test_ssc_install_abbreviations(sub: str) -> None:
    assert hits(f"ssc {sub} pkg") == [("install", f"ssc {sub}", 1)]


@pytest.mark.parametrize(
    "code",
    [
        "s ls",  # `s` is not `shell`
        "x ls",
        "xs ls",
        "ss install pkg",
        "net in pkg",  # shorter than Stata's minimum `net ins`
        "ssc ins pkg",  # shorter than `ssc inst`
        "era x",  # `erase` cannot be abbreviated
        "rmd x",
        "py print(1)",  # Stata documents no abbreviation of `python`
        "pyth print(1)",
        "jav x",
        "winexe notepad",
        "SHELL ls",  # Stata commands are case-sensitive
        "Shell ls",
        "shellout using x",  # a different (user-written) command
        "shell_size",
    ],
)
def test_not_an_abbreviation_stata_accepts(code: str) -> None:
    assert hits(code) == []


# --- prefixes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "command"),
    [
        ("capture shell ls", "shell"),
        ("cap shell ls", "shell"),
        ("capt: shell ls", "shell"),
        ("quietly shell ls", "shell"),
        ("qui !ls", "!"),
        ("noisily rm x", "rm"),
        ("noi: erase x", "erase"),
        ("n shell ls", "shell"),
        ("cap noi shell ls", "shell"),
        ("capture noisily: !!ls", "!!"),
        ("qui cap noi python: print(1)", "python"),
        ("by foreign: shell ls", "shell"),
        ("bysort foreign: erase x", "erase"),
        ("bys foreign (mpg): shell ls", "shell"),
        ("by foreign, sort: !ls", "!"),
        ("frame results: rm x", "rm"),
        ("version 17: shell ls", "shell"),
        ("version 17.0: cap python: print(1)", "python"),
        ("svy: bootstrap, reps(2): shell ls", "shell"),
        ("mi xeq: erase x", "erase"),
        ("cap python: print(1)", "python"),
        ("quietly by x (y), sort: ssc install pkg", "ssc install"),
    ],
)
def test_prefixes(code: str, command: str) -> None:
    assert [(c, line) for _, c, line in hits(code)] == [(command, 1)]


def test_long_prefix_chains_do_not_hide_a_command() -> None:
    assert hits("cap " * 1000 + "shell ls") == [("shell", "shell", 1)]
    assert hits("qui: " * 1000 + "local c rm\n`c' x") == [("erase", "rm", 2)]
    assert hits("by x: " * 1000 + "erase x") == [("erase", "erase", 1)]
    assert hits('mata: stata("' + "cap " * 1000 + 'shell ls")') == [("shell", "shell", 1)]


def test_one_line_if_and_else() -> None:
    assert hits('if c(os) == "Unix" shell ls') == [("shell", "shell", 1)]
    assert hits("if 1 cap erase x") == [("erase", "erase", 1)]
    assert hits("if x == 1 net install pkg") == [("install", "net install", 1)]
    assert hits("else shell ls") == [("shell", "shell", 1)]
    assert hits("else if 1 rm x") == [("erase", "rm", 1)]
    assert hits('if "`x\'" == "shell" {\n  display 1\n}') == []
    assert hits('if "`x\'" == "shell" display "shell"') == []


# --- blocks keep their statements' own lines ------------------------------------------------------


def test_loop_bodies() -> None:
    code = """\
sysuse auto, clear
forvalues i = 1/3 {
    display `i'
    shell echo `i'
}
foreach v in price mpg {
    summarize `v'
    capture erase `v'.dta
}
local i = 0
while `i' < 3 {
    local ++i
    !ls
}
"""
    assert hits(code) == [("shell", "shell", 4), ("erase", "erase", 8), ("shell", "!", 13)]


def test_if_else_and_quietly_bodies() -> None:
    code = """\
if c(os) == "Windows" {
    winexec notepad
}
else if c(os) == "MacOSX" {
    display "mac"
}
else {
    xshell xterm
}
quietly {
    rm scratch.dta
}
"""
    assert hits(code) == [("shell", "winexec", 2), ("shell", "xshell", 8), ("erase", "rm", 11)]


def test_program_bodies_and_nesting() -> None:
    code = """\
capture program drop cleanup
program define cleanup
    syntax anything
    foreach f of local anything {
        if 1 {
            capture erase `f'
        }
    }
    python: print("done")
end
cleanup a.dta b.dta
"""
    assert hits(code) == [("erase", "erase", 6), ("python", "python", 9)]


def test_delimit_semicolon() -> None:
    code = """\
#delimit ;
sysuse auto,
    clear;
display "one"; shell
    ls -l;
cap noi !rm x;
#delimit cr
erase y
"""
    assert hits(code) == [("shell", "shell", 4), ("shell", "!", 6), ("erase", "erase", 8)]


def test_line_continuation_and_comments_inside_a_command() -> None:
    assert hits("display 1 ///\n  + 2\nshell ///\n  ls") == [("shell", "shell", 3)]
    # a statement starts where the lexer (and Stata's echo) starts it: with the comment before it
    assert hits("/* a comment\n   spanning lines */ shell ls") == [("shell", "shell", 1)]


def test_crlf_and_cr_line_endings() -> None:
    assert hits("display 1\r\ndisplay 2\r\nshell ls\r\n") == [("shell", "shell", 3)]
    assert hits("display 1\rshell ls\r") == [("shell", "shell", 2)]


def test_python_and_java_bodies_are_not_read_as_stata() -> None:
    allow_python = Policy(frozenset({"python"}))
    code = 'python:\nshell = "rm -rf /"\n# /* not a Stata comment\nend\nshell ls\n'
    assert hits(code, allow_python) == [("shell", "shell", 5)]
    allow_java = Policy(frozenset({"java"}))
    assert hits("java\nrm(x);\nend\nrm y\n", allow_java) == [("erase", "rm", 4)]


def test_input_data_is_not_code() -> None:
    code = "input str10 name\nshell\nerase\n!ls\nend\nlist\nshell ls\n"
    assert hits(code) == [("shell", "shell", 7)]


def test_mata() -> None:
    assert hits('mata: stata("shell ls")') == [("shell", "shell", 1)]
    assert hits('mata: _stata("cap " + "erase x")') == [("erase", "erase", 1)]
    assert hits('mata:\nx = 1\nunlink("x.dta")\n_rmdir("d")\nend') == [
        ("erase", "unlink()", 3),
        ("erase", "rmdir()", 4),
    ]
    assert hits('mata\nstata("python: print(1)")\nend\ndisplay 1') == [("python", "python", 2)]
    assert hits('mata: printf("unlink(x) and stata(shell)\\n")') == []
    assert hits("mata\nshell = 1\nrm = J(1, 1, 0)\nend") == []
    assert hits('mata: st_local("c", "shell")') == []


def test_malformed_code_cannot_hide_a_command() -> None:
    assert hits("foreach x in a b {\n    shell ls\n") == [("shell", "shell", 2)]  # never closed
    assert hits("}\nshell ls") == [("shell", "shell", 2)]  # closes nothing
    assert hits("program foo\nrm x\n") == [("erase", "rm", 2)]  # no `end`
    assert hits('display "unclosed\nshell ls') == [("shell", "shell", 2)]


def test_an_unclosed_block_comment_hides_what_stata_never_runs() -> None:
    assert hits("display 1\n/* rest of file\nshell ls\n") == []


# --- never a false positive -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        'display "shell"',
        'di "!"',
        'di "!ls"',
        "local x = 1 != 2",
        "gen y = x != 0",
        "assert !missing(x)",
        "keep if !inlist(x, 1, 2)",
        "// shell ls",
        "* shell ls",
        "*shell ls",
        "/* shell ls */",
        "display 1 // shell ls",
        "display 1 /* erase x */",
        "summarize shell_size",
        "shell_size = 1",
        "gen erase_flag = 1",
        "replace python_version = 3",
        "rename rm_count count",
        'label variable x "erase me: shell"',
        "note: shell and rm are fine here",
        "notes x: rm this later",
        'local msg "run shell later"',
        "local x: display rm",
        "global cmd python",
        'file write fh "shell ls" _n',
        "estimates title: erase later",
        "char _dta[note1] see: shell",
        "merge 1:1 rm using other",
        "format t %tcHH:MM",
        "regress y x if rm > 1",
        'display `"shell"\'',
        "matrix colnames b = eq1:rm eq2:shell",
        'putexcel A1:B2 = "shell"',
        "tabulate shell",
        "twoway scatter y x, title(shell: rm)",
        "sysuse auto\nregress price mpg",
    ],
)
def test_no_false_positives(code: str) -> None:
    assert hits(code) == []


# --- macros ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("local c shell\n`c' ls", [("shell", "shell", 2)]),
        ('local c "shell"\n`c\' ls', [("shell", "shell", 2)]),
        ("local c `\"shell\"'\n`c' ls", [("shell", "shell", 2)]),
        ("loc c rm\ncap `c' x", [("erase", "rm", 2)]),
        ("global g shell\n$g ls", [("shell", "shell", 2)]),
        ("global g shell\n${g} ls", [("shell", "shell", 2)]),
        ("gl g erase\nqui $g x", [("erase", "erase", 2)]),
        ('local c = "sh" + "ell"\n`c\' ls', [("shell", "shell", 2)]),
        ('local c : display "er" "ase"\n`c\' x', [("erase", "erase", 2)]),
        ("local c sh\nlocal d `c'ell\n`d' ls", [("shell", "shell", 3)]),
        ("local c !ls\n`c'", [("shell", "!", 2)]),
        ("local c python:\n`c' print(1)", [("python", "python", 2)]),
        ("local c shell ls\n`c'", [("shell", "shell", 2)]),
        ("local n c\nlocal `n' shell\n`c' ls", [("shell", "shell", 3)]),
        ("`undefined'shell ls", [("shell", "shell", 1)]),  # undefined macros are empty
        ("$undefined shell ls", [("shell", "shell", 1)]),
        ("foreach c in display shell {\n    `c' ls\n}", [("shell", "shell", 2)]),
        (
            "local L rm erase\nforeach c of local L {\n    `c' x\n}",
            [("erase", "rm", 3), ("erase", "erase", 3)],
        ),
        ("tokenize \"shell ls\"\n`1' `2'", [("shell", "shell", 2)]),
        ("local cmds shell ls\ngettoken c rest : cmds\n`c' `rest'", [("shell", "shell", 3)]),
        ("local a \\`b'\nlocal b shell\n`a' ls", [("shell", "shell", 3)]),  # delayed expansion
        # a definition later in a loop runs before the use on the next pass
        ("forvalues i = 1/2 {\n    `c' ls\n    local c shell\n}", [("shell", "shell", 2)]),
        # ... and a global defined after a program is visible when the program runs
        ("program foo\n    $g ls\nend\nglobal g shell\nfoo", [("shell", "shell", 2)]),
    ],
)
def test_macro_tricks(code: str, expected: list[Hit]) -> None:
    assert hits(code) == expected


def test_macro_limits_do_not_open_a_bypass() -> None:
    assert hits("`e'" * 500 + "shell ls") == [("shell", "shell", 1)]  # many empty macros
    many = " ".join(f"v{i}" for i in range(40))
    # 41 values: the refusable one is kept first; the ones past the cap fail closed, which
    # shows once the refused category is allowed
    loop = f"foreach c in {many} shell {{\n    `c' ls\n}}"
    assert hits(loop) == [("shell", "shell", 2)]
    assert hits(loop, Policy(frozenset({"shell"}))) == [(UNCHECKED, "`c'", 2)]
    two = "foreach p in cap qui {\nforeach c in display shell {\n    `p' `c' ls\n}\n}"
    assert hits(two) == [("shell", "shell", 3)]
    nested = "local a shell\nlocal b a\nlocal c b\nlocal d c\n" + "````d'''' ls"
    assert hits(nested) == [("shell", "shell", 5)]
    padded = "local c shell\n`c' ls " + "x" * 50_000
    assert hits(padded) == [("shell", "shell", 2)]


def test_macro_hits_say_so() -> None:
    (found,) = check("local c shell\n`c' ls", STRICT)
    assert found.via_macro and found.command == "shell" and found.source == "`c' ls"
    assert "`shell` (from a macro) on line 2" in found.message()
    (plain,) = check("shell ls", STRICT)
    assert not plain.via_macro


@pytest.mark.parametrize(
    "code",
    [
        "`c' ls",  # never defined: empty, so the command is `ls`
        'local c display\n`c\' "shell"',
        "local c shell\nlocal c display\n`c' ls",  # later definitions overwrite
        "args cmd\n`cmd' ls",
        "syntax anything\n`anything'",
        "foreach c of varlist shell rm {\n    summarize `c'\n}",
        'local c shell\ndisplay "`c\'"',
        "local shell 1\ndisplay `shell'",
    ],
)
def test_unresolved_or_harmless_macros_are_not_refused(code: str) -> None:
    assert hits(code, fresh_locals=True) == []  # as a do-file, which starts with no locals


@pytest.mark.parametrize(
    "code", ["`c' ls", "args cmd\n`cmd' ls", "syntax anything\n`anything'", "$g ls", "qui `c'"]
)
def test_a_macro_never_defined_is_refused_where_an_earlier_run_may_have_set_it(code: str) -> None:
    # code runs in the session's scope, where an earlier run may have left locals and globals
    (found,) = check(code, STRICT)
    assert found.category == UNCHECKED and "never defines" in found.reason
    if "$" in code:  # globals outlive every do-file
        assert check(code, STRICT, fresh_locals=True) == [found]


# --- do-files calling do-files --------------------------------------------------------------------


def loader(files: dict[str, str]):
    calls: list[str] = []

    def load(path: str) -> str | None:
        calls.append(path)
        return files.get(path)

    load.calls = calls  # type: ignore[attr-defined]
    return load


def test_nested_do_files_name_their_file_and_line() -> None:
    files = {
        "clean.do": "use raw, clear\nerase raw.dta\n",
        "sub/model.do": "regress y x\ninclude helpers\n",
        "helpers.do": "display 1\n\n!ls\n",
    }
    found = check("do clean.do\nrun sub/model.do\n", STRICT, name="main.do", load=loader(files))
    assert [(v.file, v.line, v.command) for v in found] == [
        ("clean.do", 2, "erase"),
        ("helpers.do", 3, "!"),
    ]
    assert "line 2 of clean.do" in found[0].message()


def test_do_paths_are_passed_as_written_with_do_added() -> None:
    load = loader({"analysis.do": "shell ls", "my file.do": "rm x"})
    found = check('do analysis\nqui do "my file.do", nostop\ncap run data.csv', STRICT, load=load)
    assert [(v.file, v.command) for v in found] == [("analysis.do", "shell"), ("my file.do", "rm")]
    assert load.calls == ["analysis.do", "my file.do", "data.csv"]


def test_do_arguments_and_caller_globals_reach_the_called_file() -> None:
    files = {"a.do": "`1' x\n", "b.do": "$cmd y\n"}
    code = "do a.do shell\nglobal cmd erase\ndo b.do\n"
    found = check(code, STRICT, load=loader(files))
    assert [(v.file, v.command, v.via_macro) for v in found] == [
        ("a.do", "shell", True),
        ("b.do", "erase", True),
    ]


def test_include_shares_the_callers_locals() -> None:
    found = check("local c rm\ninclude inc.do", STRICT, load=loader({"inc.do": "`c' x"}))
    assert [(v.file, v.command) for v in found] == [("inc.do", "rm")]


def test_cycles_end_and_each_file_is_read_once() -> None:
    files = {"a.do": "do b.do\nshell a\n", "b.do": "do a.do\ndo b.do\nrm b\n"}
    load = loader(files)
    found = check("do a.do\ndo a.do\n", STRICT, name="main.do", load=load)
    assert [(v.file, v.line) for v in found] == [("b.do", 3), ("a.do", 2)]
    assert load.calls == ["a.do", "b.do"]


def test_a_file_calling_itself() -> None:
    found = check("do main.do\nshell ls", STRICT, name="main.do", load=loader({}))
    assert [(v.file, v.line) for v in found] == [("main.do", 2)]


def test_depth_limit() -> None:
    files = {f"f{i}.do": f"do f{i + 1}.do\nrm f{i}\n" for i in range(40)}
    found = check("do f0.do", STRICT, load=loader(files))
    # 16 levels: the checked code and 15 files below it; each file's call comes before its `rm`;
    # the call that would go deeper is refused as unchecked, naming the limit
    assert [(v.file, v.category) for v in found] == [("f14.do", UNCHECKED)] + [
        (f"f{i}.do", "erase") for i in range(14, -1, -1)
    ]
    assert found[0].command == "do f15.do" and "more than 16 deep" in found[0].reason
    assert "could not be checked: do-files calling do-files more than 16 deep" in found[0].message()


def test_unresolvable_and_missing_files_are_skipped_failing_loads_refused() -> None:
    def broken(path: str) -> str | None:
        raise OSError(path)

    def too_big(path: str) -> str | None:
        raise CouldNotCheck(f"{path}: larger than 16 MB")

    assert hits("do `f'\ndo $g\nshell ls", load=loader({})) == [("shell", "shell", 3)]
    assert hits("do missing.do\nshell ls", load=loader({})) == [("shell", "shell", 2)]
    # a loader that fails cannot show what Stata would run: refused, not skipped
    assert hits("do x.do\nshell ls", load=broken) == [
        (UNCHECKED, "do x.do", 1),
        ("shell", "shell", 2),
    ]
    (found,) = check("do x.do", STRICT, load=too_big)
    assert found.reason == "x.do: larger than 16 MB" and found.setting == "all"
    assert hits("do x.do\nshell ls") == [("shell", "shell", 2)]  # no loader at all
    raw = {"b.do": b"\xef\xbb\xbfrm x\n"}  # bytes with a BOM: decoded like the lexer does
    assert hits("do b.do", load=raw.get) == [("erase", "rm", 1)]  # type: ignore[arg-type]


# --- the policy setting ---------------------------------------------------------------------------


def test_default_policy_refuses_everything() -> None:
    policy = Policy.from_env({})
    assert policy.allowed == frozenset()
    assert policy.refused == frozenset(CATEGORIES)
    assert set(CATEGORIES) == {"shell", "erase", "python", "java", "plugin", "install"}


def test_from_env_reads_names() -> None:
    policy = Policy.from_env({ALLOW_ENV: " Shell, python ,,"})
    assert policy.allowed == {"shell", "python"}
    assert policy.refused == {"erase", "java", "plugin", "install"}
    assert hits("shell ls\npython: 1\nrm x", policy) == [("erase", "rm", 3)]


def test_all_turns_the_policy_off() -> None:
    policy = Policy.from_env({ALLOW_ENV: "all"})
    assert policy.refused == frozenset()
    assert check("shell ls\nrm x\npython: 1", policy) == []
    assert policy.describe().startswith("off")


def test_unknown_names_fail_loudly_listing_the_valid_ones() -> None:
    with pytest.raises(PolicyError) as raised:
        Policy.from_env({ALLOW_ENV: "shell,shel"})
    message = str(raised.value)
    assert "shel;" in message and ALLOW_ENV in message
    assert all(name in message for name in [*CATEGORIES, "all"])
    assert isinstance(raised.value, ValueError)
    with pytest.raises(PolicyError):
        Policy(frozenset({"network"}))


def test_from_env_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOW_ENV, "erase")
    assert Policy.from_env().allowed == {"erase"}
    monkeypatch.delenv(ALLOW_ENV)
    assert Policy.from_env().allowed == frozenset()


def test_describe() -> None:
    assert Policy().describe() == (
        "refusing shell, erase, python, java, plugin, install "
        f"(set {ALLOW_ENV} to allow some, or all)"
    )
    assert Policy(frozenset({"python", "shell"})).describe() == (
        f"refusing erase, java, plugin, install; allowing shell, python ({ALLOW_ENV}=shell,python)"
    )


# --- messages -------------------------------------------------------------------------------------


def test_violation_message() -> None:
    (found,) = check("display 1\n\ncap shell ls -l", STRICT, name="analysis.do")
    assert found == Violation("shell", "shell", 3, "analysis.do", "cap shell ls -l")
    assert found.message() == (
        "`shell` on line 3 of analysis.do runs an operating-system command; refused by the "
        "command policy. To allow it, set STATA_TOOLS_ALLOW=shell (see "
        "https://github.com/stata-tools/stata-tools/blob/main/docs/security.md)."
    )
    (snippet,) = check("rm x", STRICT)
    assert snippet.file is None
    assert snippet.message().startswith("`rm` on line 1 deletes files or directories;")


def test_long_statements_are_shortened() -> None:
    (found,) = check("shell " + "x" * 200, STRICT)
    assert len(found.source) == 80 and found.source.endswith("…")


def test_refusal_message_lists_the_first_few_and_counts_the_rest() -> None:
    code = "\n".join(["shell a", "rm b", "!c", "python: d", "java: e", "erase f", "!!g"])
    found = check(code, STRICT, name="x.do")
    message = refusal_message(found)
    lines = message.splitlines()
    assert lines[0] == "Nothing was run: the command policy refused 7 commands."
    assert lines[1] == "- `shell` on line 1 of x.do runs an operating-system command: shell a"
    assert lines[6] == "- … and 2 more."
    assert (
        lines[7] == "To allow them, set STATA_TOOLS_ALLOW=shell,erase,python,java (see "
        "https://github.com/stata-tools/stata-tools/blob/main/docs/security.md)."
    )
    assert refusal_message(found[:1]).startswith(
        "Nothing was run: the command policy refused a command."
    )
    assert refusal_message([]) == ""


# --- robustness -----------------------------------------------------------------------------------

STATA_BITS = st.sampled_from(
    [
        "shell ls",
        "!ls",
        "{",
        "}",
        "///",
        "//",
        "/*",
        "*/",
        '"',
        '`"',
        "\"'",
        "`",
        "'",
        "$",
        "${",
        "#delimit ;",
        "#delimit cr",
        ";",
        "\n",
        "\r\n",
        "\r",
        " ",
        "local c shell",
        "`c'",
        "$g",
        "python",
        "end",
        "mata:",
        "mata",
        "input x",
        "program p",
        "do x.do",
        "cap ",
        "by x:",
        "if 1 ",
        "else ",
        "foreach x in a {",
        'stata("',
        "\x00",
        "\ue000",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(STATA_BITS, st.text(max_size=20)), max_size=40))
def test_check_never_raises_on_stata_like_text(parts: list[str]) -> None:
    text = "".join(parts)
    files = {"x.do": text}
    # the strict core, so an internal error cannot hide behind check's line-by-line fallback
    found = policy_module._check_or_raise(text, STRICT, name="main.do", load=files.get)
    assert found == check(text, STRICT, name="main.do", load=files.get)
    assert all(isinstance(v, Violation) for v in found)
    assert all(v.category in CATEGORIES or (v.category == UNCHECKED and v.reason) for v in found)
    assert all(v.line >= 1 for v in found)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_check_never_raises_on_random_bytes(data: bytes) -> None:
    text = data.decode("latin-1")
    assert policy_module._check_or_raise(text, STRICT) == check(text, STRICT)


def test_if_reading_fails_check_falls_back_to_physical_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(text: str) -> list[object]:
        raise RuntimeError("a bug in the reader")

    monkeypatch.setattr(policy_module, "_statements", broken)
    code = "display 1 // shell\n* rm x\n/* erase y */\ncap !ls\nlocal c rm\n`c' x\n"
    assert hits(code) == [("shell", "!", 4), ("erase", "rm", 6)]
    files = {"a.do": "python: 1"}
    assert hits("do a.do", load=files.get) == [("python", "python", 1)]


# --- the do-files a text calls --------------------------------------------------------------------


def test_called_files_lists_each_call_with_its_line_as_check_reads_it() -> None:
    code = (
        "do a\n"
        'cap noi do "b c.do"\n'
        "local f x y\n"
        "foreach v of local f {\n"
        "    qui run `v'\n"
        "}\n"
        "if 1 include inc.do\n"
        'mata: stata("do m.do")\n'
        "* do commented.do\n"
        'global root "/proj"\n'
        'do "$root/z", nostop\n'
    )
    found = [(c.line, c.command, c.path, c.captured, c.via_macro) for c in called_files(code)]
    assert found == [
        (1, "do", "a", False, False),
        (2, "do", "b c.do", True, False),
        (5, "run", "x", False, True),
        (5, "run", "y", False, True),
        (7, "include", "inc.do", False, False),
        (8, "do", "m.do", False, False),
        (11, "do", "/proj/z", False, True),
    ]
    assert called_files("do a\n")[0].names == ("a.do", "a")
    assert called_files("do sub.d/a.do\n")[0].names == ("sub.d/a.do",)
    assert called_files("display 1\n") == []


# --- fail closed: inputs that once got through, and their harmless look-alikes --------------------

BYPASSES = [
    # colon-less prefixes ([P] break, [P] varabbrev), alone and mixed with the others
    ("nobreak shell rm -rf ~", [("shell", "shell", 1)]),
    ("novarabbrev !ls", [("shell", "!", 1)]),
    ("break erase x", [("erase", "erase", 1)]),
    ("varabbrev rm x", [("erase", "rm", 1)]),
    ("nobreak: cap noi shell ls", [("shell", "shell", 1)]),
    ("qui novarabbrev nobreak python: print(1)", [("python", "python", 1)]),
    ("version 17: nobreak shell ls", [("shell", "shell", 1)]),
    ("bootstrap r(mean), reps(2) nodots: nobreak shell ls", [("shell", "shell", 1)]),
    ("collect: varabbrev !ls", [("shell", "!", 1)]),
    ('version 8: bootstrap "shell ls" r(N), reps(2)', [("shell", "shell", 1)]),
    ('simulate "nobreak rm x", reps(2)', [("erase", "rm", 1)]),
    ("nobreak {\n    shell ls\n}", [("shell", "shell", 2)]),
    ("local p nobreak\n`p' shell ls", [("shell", "shell", 2)]),
    ("nobreak local c shell\n`c' ls", [("shell", "shell", 2)]),
    # ado update (Stata 18's adoupdate), abbreviated options
    ("ado update, update", [("install", "ado update …, update", 1)]),
    ("ado update estout, update all", [("install", "ado update …, update", 1)]),
    ("ado upd, up", [("install", "ado upd …, update", 1)]),
    ("adoupdate, up", [("install", "adoupdate …, update", 1)]),
    ("ado uninst estout", [("install", "ado uninst", 1)]),
    # Mata: extra parentheses, calls over several lines, commands it cannot prove
    ('mata: stata(("shell ls"))', [("shell", "shell", 1)]),
    ('mata: _stata((("sh" + "ell ls")), 1)', [("shell", "shell", 1)]),
    ('mata\nstata(\n    "shell ls"\n)\nend', [("shell", "shell", 2)]),
    ('mata\nstata("sh" +\n    "ell ls")\nend', [("shell", "shell", 2)]),
    ('mata: stata(\n"shell ls")', [(UNCHECKED, "stata()", 1)]),
    ('mata\nstata\n("shell ls")\nend', [(UNCHECKED, "stata()", 2)]),
    ('mata\nx = "sh" + "ell"\nstata(x)\nend', [(UNCHECKED, "stata()", 3)]),
    ('mata\nf = &stata()\n(*f)("shell ls")\nend', [(UNCHECKED, "stata()", 2)]),
    ('mata: _stata("$" + "g ls")', [(UNCHECKED, "_stata()", 1)]),
    ('mata\nunlink(\n    "x.dta")\nend', [("erase", "unlink()", 2)]),
    ('mata\n_unlink\n("x.dta")\nend', [("erase", "unlink()", 2)]),
    ('mata: st_local("c", "shell")\n`c\' ls', [("shell", "shell", 2)]),
    ('mata\nst_global("g", "er" + "ase")\nend\n$g x', [("erase", "erase", 4)]),
    # `input` reads data only as a plain top-level command; elsewhere its lines are code
    ("capture input x\noops\nshell ls\nend", [("shell", "shell", 3)]),
    ("foreach i in 1 {\n    input x\n    shell ls\n    end\n}", [("shell", "shell", 3)]),
    ("if 1 {\ninput x\n!ls\nend\n}", [("shell", "!", 3)]),
    ('display "input"\nshell ls', [("shell", "shell", 2)]),
    ("list, input\nshell ls", [("shell", "shell", 2)]),
    ("input x\n1 /* a comment that never closes\nend\nshell ls", [("shell", "shell", 4)]),
    # a program runs what it is given: its own arguments at the command position
    ("program run_it\n    `0'\nend\nrun_it shell ls", [(UNCHECKED, "`0'", 2)]),
    ("program run_it\n    args cmd\n    `cmd' ls\nend", [(UNCHECKED, "`cmd'", 3)]),
    ("program run_it\n    syntax anything\n    `anything'\nend", [(UNCHECKED, "`anything'", 3)]),
    ("program run_it\n    gettoken c 0 : 0\n    `c' `0'\nend", [(UNCHECKED, "`c'", 3)]),
    ("program run_it\n    syntax , Cmd(string)\n    `cmd'\nend", [(UNCHECKED, "`cmd'", 3)]),
    ("program run_it\n    do `1'\nend", [(UNCHECKED, "do ?", 2)]),
    # limits reached: refused, naming the limit
    ("if 1 " * 12 + "shell ls", [("shell", "shell", 1)]),
    ("if 1 " * 12 + "cap shell ls", [("shell", "shell", 1)]),
    ("if cap & qui & noi & cap & qui & noi & cap & qui & noi x", [(UNCHECKED, "if", 1)]),
    (
        'mata: stata("' + 'mata: stata(`"' * 9 + "shell ls" + "\"')" * 9 + '")',
        [(UNCHECKED, "stata()", 1)],
    ),
    ("local a \\`a'\n`a' ls", [(UNCHECKED, "`a'", 2)]),
    # a command word computed when it runs: known only then, so refused
    ("local c : env SHELL\n`c' ls", [(UNCHECKED, "`c'", 2)]),
    ('local c = lower("SHELL")\n`c\' ls', [(UNCHECKED, "`c'", 2)]),
    ("`=char(33)' ls", [(UNCHECKED, "`=char(33)'", 1)]),
    ("`:di char(33)' ls", [(UNCHECKED, "`:di", 1)]),
    ("`e(cmd)' x", [(UNCHECKED, "`e(cmd)'", 1)]),
    ("qui `r(cmd)' x", [(UNCHECKED, "qui", 1)]),
    ('if 1 `=lower("SHELL")\' ls', [(UNCHECKED, "if", 1)]),
    ("if 1 `u'", [(UNCHECKED, "if", 1)]),  # `u' may hold a whole command from an earlier run
    ("`u'hell ls", [(UNCHECKED, "`u'hell", 1)]),  # in a session `u' may be "s"
]


@pytest.mark.parametrize(("code", "expected"), BYPASSES)
def test_bypass_inputs_are_refused(code: str, expected: list[Hit]) -> None:
    assert hits(code) == expected


LOOK_ALIKES = [
    'display "shell"',
    'display "nobreak shell"',
    "gen shell_id = 1",
    "summarize shell_id break_id",
    "rename varabbrev_flag x",
    "nobreak {\n    display 1\n}",
    "novarabbrev summarize price",
    "set varabbrev off",
    "ado update",
    "ado update estout",
    "ado dir",
    "adoupdate estout, dir(PLUS)",
    "input str10 name\nshell\nerase\n!ls\nend\nlist",
    "input x y\n1 2\nend",
    'mata: stata("display 1")',
    'mata: st_local("c", "display")\n`c\' 1',
    'mata\nx = "shell"\nprintf("%s\\n", x)\nend',
    "mata\nstata_version = 17\nend",
    'mata\nstata(\n    "summarize price"\n)\nend',
    "program show\n    args x\n    display `x'\nend",
    "program reg2\n    syntax varlist\n    regress `varlist'\nend",
    "program p\n    if `1' == 1 replace x = 2\nend",
    "program p\n    tokenize `0'\n    summarize `1'\nend",
    "program p\n    syntax varlist [, Quietly noCONStant]\n"
    "    `quietly' regress `varlist', `constant'\nend",
    "program p\n    syntax [, Detail]\n    `detail' summarize\nend",
    "tempfile f\nsave `f'\nuse `f', clear",
    "forvalues i = 1/3 {\n    display `i'\n}",
    "dyndoc report.md, replace",  # no loader: nothing to read, as for `do`
]


@pytest.mark.parametrize("code", LOOK_ALIKES)
def test_look_alikes_stay_allowed(code: str) -> None:
    assert hits(code) == []


def test_unchecked_refusals_name_the_reason_and_the_setting() -> None:
    (found,) = check('mata\nx = "sh" + "ell"\nstata(x)\nend', STRICT, name="a.do")
    assert (found.category, found.line, found.file, found.setting) == (UNCHECKED, 3, "a.do", "all")
    assert found.message().startswith(
        "`stata()` on line 3 of a.do could not be checked: Mata's stata() runs a command computed "
        "when it runs, not written out; the command policy refuses what it cannot check."
    )
    message = refusal_message([found, *check("rm x", STRICT)])
    assert "- `stata()` on line 3 of a.do could not be checked: Mata's stata()" in message
    assert f"To allow them, set {ALLOW_ENV}=erase" in message
    assert f"turn the policy off with {ALLOW_ENV}=all" in message
    # limits say which one was reached
    (deep,) = check("if cap & qui & noi & cap & qui & noi & cap & qui & noi x", STRICT)
    assert deep.reason == "more than 8 words in one `if` that could start a command"
    (rounds,) = check("local a \\`a'\n`a' ls", STRICT)
    assert "rounds of expansion" in rounds.reason


def test_a_policy_that_allows_a_category_still_refuses_what_it_cannot_check() -> None:
    allow_shell = Policy(frozenset({"shell"}))
    assert hits('mata: stata("shell ls")', allow_shell) == []
    assert hits("mata\nstata(x)\nend", allow_shell) == [(UNCHECKED, "stata()", 2)]
    assert check("mata\nstata(x)\nend", Policy.from_env({ALLOW_ENV: "all"})) == []


def test_macro_combinations_past_the_cap_fail_closed_only_where_a_command_starts() -> None:
    values = " ".join(f"v{i}" for i in range(30))
    loops = f"foreach a in {values} {{\nforeach b in {values} {{\n"
    assert hits(loops + "    regress `a' `b'\n}\n}") == []  # 900 combinations, all arguments
    assert hits(loops + "    `a'`b' x\n}\n}") == [(UNCHECKED, "`a'`b'", 3)]


# --- called do-files: every call with its own arguments, each file by its real path ---------------


def test_every_call_is_checked_with_its_own_arguments() -> None:
    helper = {"helper.do": "`1' ls\n"}
    assert check("do helper.do display\ndo helper.do shell", STRICT, load=loader(helper)) == [
        Violation("shell", "shell", 1, "helper.do", "`1' ls", via_macro=True)
    ]
    named = {"h.do": "args first cmd\n`cmd' x\n"}
    assert hits("do h.do a erase", load=loader(named)) == [("erase", "erase", 2)]
    assert hits("do h.do a b", load=loader(named)) == []
    for body in ("`*'", "`0'", "syntax anything\n`anything'", "tokenize `0'\n`1' `2'"):
        found = hits("do h.do shell ls", load=loader({"h.do": body}))
        assert [c for c, _, _ in found] == ["shell"], body
    many = " ".join(f"a{i}" for i in range(20))  # no cap on arguments: `21' is as known as `1'
    assert hits(f"do h.do {many} shell", load=loader({"h.do": "`21' ls"})) == [
        ("shell", "shell", 1)
    ]
    loop = "foreach c in display shell {\n    do h.do `c'\n}"
    assert hits(loop, load=loader({"h.do": "`1' ls"})) == [("shell", "shell", 1)]


def test_same_named_files_in_different_folders_are_different_files() -> None:
    files = {
        "a/helper.do": Source("display 1\n", "/p/a/helper.do"),
        "b/helper.do": Source("shell ls\n", "/p/b/helper.do"),
    }
    found = check("do a/helper.do\ndo b/helper.do", STRICT, load=loader(files))
    assert [(v.file, v.line, v.command) for v in found] == [("b/helper.do", 1, "shell")]
    # one file reached under two names is one file: checked once for the same inputs
    same = {"x.do": Source("rm x\n", "/p/x.do"), "./x.do": Source("rm x\n", "/p/x.do")}
    load = loader(same)
    assert [v.file for v in check("do x.do\ndo ./x.do", STRICT, load=load)] == ["x.do"]
    assert load.calls == ["x.do", "./x.do"]


def test_a_file_run_with_nostop_has_no_input_data() -> None:
    files = {"d.do": "input x\nshell ls\nend\n"}
    assert hits("do d.do", load=loader(files)) == []
    assert hits("do d.do, nostop", load=loader(files)) == [("shell", "shell", 2)]


def test_recursion_and_the_number_of_checks_are_bounded_and_fail_closed() -> None:
    recursive = {"r.do": "do r.do `=`1'+1'\nshell\n"}  # a computed argument: one more check
    assert hits("do r.do 1", load=loader(recursive)) == [("shell", "shell", 2)]
    files = {f"f{i}.do": "".join(f"do g{j}.do {i}\n" for j in range(25)) for i in range(20)}
    files |= {f"g{j}.do": "display `1'\n" for j in range(25)}
    found = check("".join(f"do f{i}.do\n" for i in range(20)), STRICT, load=loader(files))
    assert found and {(v.category, v.reason) for v in found} == {
        (UNCHECKED, "more than 400 checks of called do-files in one check")
    }
    # each f file is 26 checks (itself and 25 calls): the 401st is f15.do's call of g9.do
    assert (found[0].file, found[0].command) == ("f15.do", "do g9.do")


# --- files that run Stata code: dyndoc, dyntext, markstat, texdoc ---------------------------------


def test_dynamic_documents_are_followed_like_do_files() -> None:
    report = (
        "# Results\nshell in prose is text\n<<dd_do>>\nsysuse auto\nshell ls\n<</dd_do>>\n"
        "The mean is <<dd_display: %4.2f r(mean)>>.\n"
    )
    load = loader({"report.md": report, "t.txt": "<<dd_do:quietly>>\n!ls\n<</dd_do>>\n"})
    found = check("dyndoc report.md, replace\ndyntext t.txt, saving(o.txt)", STRICT, load=load)
    assert [(v.file, v.line, v.command) for v in found] == [
        ("report.md", 5, "shell"),
        ("t.txt", 2, "!"),
    ]
    paper = (
        "Text about shell scripts\n\n    sysuse auto\n    erase x\n\n```s\nshell ls\n```\n"
        '```{m}\nunlink("x")\n```\nInline `s 1+1` is an expression.\n'
    )
    load = loader({"paper.stmd": paper})
    found = check("markstat using paper, pdf", STRICT, load=load)
    assert [(v.line, v.command) for v in found] == [(4, "erase"), (7, "shell"), (10, "unlink()")]
    assert load.calls == ["paper.stmd"]
    texdoc = {"doc.texdoc": "/***\nshell is prose here\n***/\nshell ls\n"}
    assert hits("texdoc do doc", load=loader(texdoc)) == [("shell", "shell", 4)]
    assert hits("include x.do, adopath", load=loader({"x.do": "rm x"})) == [("erase", "rm", 1)]


def test_macros_set_by_commands_and_shifted_arguments_are_not_taken_as_empty() -> None:
    for setter in (
        "levelsof make, local(c) clean",
        "file read fh c",
        "unab c : price mpg",
        "display _request(c)",
    ):
        code = f"{setter}\n`c' ls" if "_request" not in setter else f"{setter}\n$c ls"
        assert [v.category for v in check(code, STRICT, fresh_locals=True)] == [UNCHECKED], code
    shifted = {"h.do": "macro shift\n`1' ls\n"}
    assert hits("do h.do x shell", load=loader(shifted)) == [("shell", "shell", 2)]
    assert hits("do h.do x display", load=loader(shifted)) == []


def test_what_a_called_file_leaves_behind_is_seen_by_its_caller() -> None:
    defs = {"defs.do": "local c shell\nglobal g erase\n"}
    # include shares the caller's locals; do and run leave only globals (and c_local)
    assert hits("include defs.do\n`c' ls", load=loader(defs), fresh_locals=True) == [
        ("shell", "shell", 2)
    ]
    assert hits("do defs.do\n$g x\n`c' ls", load=loader(defs), fresh_locals=True) == [
        ("erase", "erase", 2)
    ]
    setter = {"set.do": "c_local c rm\n"}
    assert hits("do set.do\n`c' x", load=loader(setter), fresh_locals=True) == [("erase", "rm", 2)]
    # checked once for the same inputs, remembered for every later call
    assert hits("include defs.do\ninclude defs.do\n`c' ls", load=loader(defs)) == [
        ("shell", "shell", 3)
    ]


@pytest.mark.parametrize(
    "code", ["do https://example.com/x.do", "run http://example.com/x", "include ftp://h/x.do"]
)
def test_a_file_fetched_from_the_web_is_refused(code: str) -> None:
    (found,) = check(code, STRICT, load=loader({}))
    assert (
        found.category == UNCHECKED
        and found.reason == "a file from the web is read only when it runs"
    )


def test_input_under_delimit_semicolon_is_read_as_code() -> None:
    assert hits("#delimit ;\ninput x;\n1;\nend;\nshell ls;\n") == [("shell", "shell", 5)]


def test_lines_of_a_mata_block_are_also_read_as_stata() -> None:
    # in case Stata did not open the block this reads (`capture mata`, ...): commands still count
    assert hits("cap mata\nshell ls\nend") == [("shell", "shell", 2)]
    assert hits("mata\nrm = 1\nshell = rm + 1\ndo {\n    i++\n} while (i < 3)\nend") == []


def test_text_larger_than_a_check_reads_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy_module, "_MAX_TEXT", 1000)
    (found,) = check("display 1\n" * 200, STRICT, name="big.do")
    assert (found.category, found.line, found.file) == (UNCHECKED, 1, "big.do")
    assert found.reason.startswith("more than ") and "MB of code in one file" in found.reason
    called = check("do big.do", STRICT, load=loader({"big.do": "display 1\n" * 200}))
    assert [(v.file, v.category) for v in called] == [("big.do", UNCHECKED)]
