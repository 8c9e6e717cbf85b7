"""The splash Stata prints at startup (17+ style: ® and — make it non-ASCII)."""

from __future__ import annotations

EDITIONS = {
    "MP": "MP\u2014Parallel Edition",
    "SE": "SE\u2014Standard Edition",
    "BE": "BE\u2014Basic Edition",
}


def head(edition: str, version: str = "18.0") -> list[str]:
    """Stata 17+'s logo, copyright and licence block, as both the splash and a batch log begin."""
    return [
        "",
        "  ___  ____  ____  ____  ____ \u00ae",
        f" /__    /   ____/   /   ____/      {version}",
        f"___/   /   /___/   /   /___/       {EDITIONS[edition]}",
        "",
        " Statistics and Data Science       Copyright 1985-2023 StataCorp LLC",
        "                                   StataCorp",
        "                                   4905 Lakeway Drive",
        "                                   College Station, Texas 77845 USA",
        "                                   800-STATA-PC        https://www.stata.com",
        "                                   979-696-4600        stata@stata.com",
        "",
        "Stata license: Single-user 2-core  perpetual (fake)",
        "Serial number: 000000000000",
        "  Licensed to: stata-tools test suite",
        "               Fake Stata \u2014 not a Stata installation",
        "",
    ]


NOTES = [
    "Unicode is supported; see help unicode_advice.",
    "More than 2 billion observations are allowed; see help obs_advice.",
    "Maximum number of variables is set to 5,000 but can be increased;\n          see help set_maxvar.",
]


def notes(*first: str) -> list[str]:
    """The numbered `Notes:` after the licence block; batch mode puts its own note first."""
    lines = ["Notes:"]
    for number, note in enumerate([*first, *NOTES], start=1):
        lines += f"      {number}. {note}".split("\n")
    return lines


def banner(edition: str, version: str = "18.0") -> str:
    return "\n".join([*head(edition, version), *notes()])
