"""The splash Stata prints at startup (17+ style: ® and — make it non-ASCII)."""

from __future__ import annotations

_EDITIONS = {
    "MP": "MP\u2014Parallel Edition",
    "SE": "SE\u2014Standard Edition",
    "BE": "BE\u2014Basic Edition",
}


def banner(edition: str, version: str = "18.0") -> str:
    return "\n".join(
        [
            "",
            "  ___  ____  ____  ____  ____ \u00ae",
            f" /__    /   ____/   /   ____/      {version}",
            f"___/   /   /___/   /   /___/       {_EDITIONS[edition]}",
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
            "Notes:",
            "      1. Unicode is supported; see help unicode_advice.",
            "      2. More than 2 billion observations are allowed; see help obs_advice.",
            "      3. Maximum number of variables is set to 5,000 but can be increased;",
            "          see help set_maxvar.",
        ]
    )
