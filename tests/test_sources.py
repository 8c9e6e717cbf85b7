"""What install_package may install: Stata package names only, from sources the setting lists."""

from __future__ import annotations

import pytest

from stata_tools.safety.sources import (
    SSC,
    Source,
    SourceError,
    check_name,
    check_source_entry,
    check_url,
    choose_source,
)
from stata_tools.stata.settings import Settings, SettingsError

GITHUB = "https://raw.githubusercontent.com/sergiocorreia/"


@pytest.mark.parametrize("name", ["reghdfe", "estout", "a", "ivreg2", "my_pkg_2", "x" * 32])
def test_package_names_stata_takes_pass(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "x" * 33,
        "2sls",
        "_private",
        "reg hdfe",
        "reghdfe, replace",
        "reghdfe;shell ls",
        'reg"hdfe',
        "reg`x'",
        "$pkg",
        "reghdfe\nshell ls",
        "../reghdfe",
        "réghdfe",
    ],
)
def test_anything_else_is_refused_with_what_a_name_is(name: str) -> None:
    with pytest.raises(SourceError, match="is not a Stata package name: a package name starts"):
        check_name(name)


def test_ssc_is_allowed_by_default_and_a_url_is_not() -> None:
    allowed = Settings.from_env({}).install_sources
    assert allowed == (SSC,)
    assert choose_source("ssc", None, allowed) == Source(SSC)
    with pytest.raises(SourceError) as refused:
        choose_source("net", GITHUB + "reghdfe/master/src", allowed)
    message = str(refused.value)
    assert f"{GITHUB}reghdfe/master/src/ is not beneath a site" in message
    assert "beneath a site STATA_TOOLS_INSTALL_SOURCES allows (it allows ssc)" in message
    assert "add `ssc` or a URL prefix to STATA_TOOLS_INSTALL_SOURCES" in message


def test_a_url_beneath_an_allowed_prefix_passes_and_its_neighbours_do_not() -> None:
    allowed = (SSC, GITHUB)
    assert choose_source("net", GITHUB + "reghdfe/master/src", allowed) == Source(
        "net", GITHUB + "reghdfe/master/src/"
    )
    for url in (
        "https://raw.githubusercontent.com/sergiocorreia-evil/x/",  # a neighbour, not beneath
        "http://raw.githubusercontent.com/sergiocorreia/x/",  # another scheme
        "https://raw.githubusercontent.com:8443/sergiocorreia/x/",  # another port
        "https://raw.githubusercontent.com.evil.example/sergiocorreia/x/",
    ):
        with pytest.raises(SourceError, match="is not beneath a site"):
            choose_source("net", url, allowed)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x/",
        "https://user@example.com/x/",
        "https://example.com/x/?q=1",
        "https://example.com/x/#frag",
        'https://example.com/x") replace',
        "https://example.com/a b/",
        "https://example.com/x/../../etc/",
        "https://example.com/x/%2e%2e/",
        "https://example.com/`x'/",
        "https://example.com/$x/",
        "file:///etc/",
        "/home/u/pkgs/",
    ],
)
def test_urls_other_than_plain_http_are_refused(url: str) -> None:
    with pytest.raises(SourceError, match="is not a URL install_package takes"):
        check_url(url)


def test_source_and_from_url_must_agree() -> None:
    with pytest.raises(SourceError, match="from_url is for source='net'"):
        choose_source("ssc", GITHUB, (SSC, GITHUB))
    with pytest.raises(SourceError, match="source='net' needs from_url"):
        choose_source("net", None, (SSC, GITHUB))
    with pytest.raises(SourceError, match="source must be 'ssc' or 'net', not 'github'"):
        choose_source("github", None, (SSC,))
    with pytest.raises(SourceError, match=r"installing from SSC is not allowed: .* allows https"):
        choose_source("ssc", None, (GITHUB,))


def test_the_setting_takes_ssc_and_url_prefixes_and_refuses_the_rest() -> None:
    settings = Settings.from_env(
        {"STATA_TOOLS_INSTALL_SOURCES": f"ssc, {GITHUB}  http://127.0.0.1:8000/pkgs"}
    )
    assert settings.install_sources == (SSC, GITHUB, "http://127.0.0.1:8000/pkgs/")
    assert Settings.from_env({"STATA_TOOLS_INSTALL_SOURCES": GITHUB}).install_sources == (GITHUB,)
    with pytest.raises(SettingsError, match=r"INSTALL_SOURCES: 'github\.com' is neither `ssc`"):
        Settings.from_env({"STATA_TOOLS_INSTALL_SOURCES": "ssc,github.com"})
    assert check_source_entry("SSC") == SSC
