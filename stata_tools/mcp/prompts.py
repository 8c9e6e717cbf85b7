"""Prompts a client offers as slash commands: the few things users ask of a Stata session most.

Each is a short instruction naming the tools to use, so a model reaches for them instead of
guessing; arguments are plain strings, as a slash command passes them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

PathArg = Annotated[str, Field(description="The do-file's path.")]


def run_and_report(path: PathArg, focus: str = "") -> str:
    """Run a do-file and report what it found."""
    return (
        f"Run the do-file {path} with run_do_file (background=true if it may take longer than a "
        "few minutes; then follow it with wait_run). When it ends, report what it found: the "
        "main estimates with their standard errors and N, exactly as Stata printed them; "
        "warnings and notes; any error with its line and what it means; graphs it made. "
        + (f"Focus on: {focus}. " if focus else "")
        + "Do not rerun it or change files unless asked."
    )


def fix_last_error(run_id: str = "") -> str:
    """Explain the last error and propose the fix."""
    which = f"run {run_id}" if run_id else "the most recent failed run (stata://runs lists them)"
    return (
        f"Look at {which}: its result explains the return code and points at the failing line; "
        "read_log(run_id, grep=...) shows more of the log around it. Explain in plain words why "
        "Stata stopped, show the smallest change to the do-file or code that fixes it, and say "
        "how to check the fix (check_do_file, then a rerun). Ask before editing the user's files."
    )


def check_before_run(path: PathArg) -> str:
    """Check a do-file before a long run."""
    return (
        f"Before a long run of {path}, call check_do_file on it. Report, most serious first: "
        "what the command policy would refuse, do-files it calls that are missing or outside "
        "the allowed folders, syntax problems (unbalanced braces, unclosed comments or "
        "strings), and data files it uses that do not exist. Say whether it is ready to run; "
        "do not run it."
    )


def compare_models(names: str = "") -> str:
    """Compare the stored models side by side."""
    which = f"the stored estimates {names}" if names else "every stored estimate"
    return (
        f"Call compare_estimates for {which} (`estimates store` names; the tool lists them). "
        "Read the table: how coefficients and their significance change across models, N and "
        "fit statistics, and what the differences in specification explain. Quote numbers as "
        "the table shows them; do not re-estimate unless asked."
    )


def describe_dataset(path: str = "") -> str:
    """Describe a dataset: its variables, labels, ranges and missing values."""
    if path:
        source = (
            f"the file {path} without loading it into Stata: read_data_file(path) for its "
            "variables and a first page of rows, codebook_data(path=...) for ranges, unique "
            "values and missing values"
        )
    else:
        source = (
            "the data in Stata's memory: describe_data, then codebook_data for ranges, unique "
            "values and missing values"
        )
    return (
        f"Describe {source}. Summarise what one row is, the identifiers, the key variables and "
        "their labels, variables with many missing values, and anything odd (constant "
        "variables, codes such as -99 that look like missing). search_variables finds a "
        "variable by name or label."
    )


PROMPTS = (run_and_report, fix_last_error, check_before_run, compare_models, describe_dataset)
