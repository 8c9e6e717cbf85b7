"""The Stata commands behind describe_data, summarize_data and list_data, from checked input."""

from __future__ import annotations

import re

MAX_VARIABLES = 200
MAX_ROWS = 1_000
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*[*?~]?[A-Za-z0-9_*?]*(-[A-Za-z_][A-Za-z0-9_]*)?$")
_FORBIDDEN_IN_IF = ("\n", "\r", "`", "$", "//", "/*", ";")


class DataRequestError(ValueError):
    """A varlist or condition we will not hand to Stata; the message says what to change."""


def varlist(value: str | None) -> str:
    """A checked varlist ('' for all): names, wildcards (x*, x?), ranges (a-b), _all."""
    if value is None or not value.strip():
        return ""
    names = value.split()
    if len(names) > MAX_VARIABLES:
        raise DataRequestError(f"at most {MAX_VARIABLES} variables at once, got {len(names)}")
    for name in names:
        if name != "_all" and not _VARIABLE.match(name):
            raise DataRequestError(
                f"{name!r} is not a variable name or pattern (letters, digits, _, and * ? ~ "
                "wildcards or a-b ranges); `describe_data` lists the variables"
            )
    return " ".join(names)


def condition(value: str | None) -> str:
    """A checked `if` expression (without the word if); '' when none."""
    if value is None or not value.strip():
        return ""
    text = value.strip().removeprefix("if ").strip()
    for bad in _FORBIDDEN_IN_IF:
        if bad in text:
            raise DataRequestError(
                f"the condition may not contain {bad!r}; write a plain Stata expression such "
                'as `price > 5000 & foreign == 1` or `make == "Honda Civic"`'
            )
    return text


def describe_command() -> str:
    return "describe"


def summarize_command(variables: str | None) -> str:
    return f"summarize {varlist(variables)}".rstrip()


PAGE_FRAME = "__st_page"


def list_command(variables: str | None, if_: str | None, start: int, count: int) -> str:
    """`list` of rows start+1 … start+count; with a condition, counted among the rows meeting it.

    The data are never changed: a condition copies the matching rows into a scratch frame.
    """
    if start < 0:
        raise DataRequestError(f"start counts rows from 0 and cannot be negative, got {start}")
    if not 1 <= count <= MAX_ROWS:
        raise DataRequestError(f"count must be between 1 and {MAX_ROWS}, got {count}")
    names = varlist(variables)
    where = condition(if_)
    first, last = start + 1, start + count
    if not where:
        listing = f"list {names}".rstrip()
        return "\n".join(
            [
                f"if {first} > _N {{",
                f'    display as error "start={start} is past the last observation (_N = " _N ")"',
                "    exit 198",
                "}",
                f"{listing} in {first}/`=min(_N, {last})', abbreviate(16)",
            ]
        )
    return "\n".join(
        [
            f"capture frame drop {PAGE_FRAME}",
            f"frame put {names or '_all'} if {where}, into({PAGE_FRAME})",
            f"frame {PAGE_FRAME}: quietly count",
            f"if {first} > r(N) {{",
            f"    frame drop {PAGE_FRAME}",
            f'    display as error "start={start} is past the last of the " r(N) " rows that meet '
            'the condition"',
            "    exit 198",
            "}",
            f"frame {PAGE_FRAME}: list in {first}/`=min(r(N), {last})', abbreviate(16)",
            f"frame drop {PAGE_FRAME}",
        ]
    )
