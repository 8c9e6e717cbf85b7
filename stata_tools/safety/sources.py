"""What install_package may install: package names Stata would take, from sources a setting lists.

Pure checks, no I/O. A name goes into a Stata command, so it is held to Stata's own rule for
names (a letter first, then letters, digits and underscores, at most 32) and nothing else can
pass: no quotes, spaces, `;`, macros or options. A URL is held to http(s), a host, a port and a
plain path, and must lie beneath one of the prefixes STATA_TOOLS_INSTALL_SOURCES lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

SOURCES_ENV = "STATA_TOOLS_INSTALL_SOURCES"
SSC = "ssc"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
_URL = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~+/-]*)?")


class SourceError(ValueError):
    """A name, source or URL install_package will not use; the message says what would do."""


@dataclass(frozen=True, slots=True)
class Source:
    """Where one install comes from: SSC, or a net site (a URL beneath an allowed prefix)."""

    kind: str  # "ssc" or "net"
    url: str | None = None  # net: the site, ending in "/"


def check_name(name: str) -> str:
    """The package name, when Stata would take it as one."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        shown = repr(name)[:60]
        raise SourceError(
            f"{shown} is not a Stata package name: a package name starts with a letter and holds "
            "only letters, digits and underscores, at most 32 characters (e.g. reghdfe, "
            "estout). Give the name alone: no spaces, quotes, options or other commands."
        )
    return name


def check_url(url: str) -> str:
    """A net site's URL, normalised to end in '/', when it is a plain http(s) address."""
    dots = isinstance(url, str) and any(part in (".", "..") for part in url.split("/")[3:])
    if not isinstance(url, str) or not _URL.fullmatch(url) or dots:
        raise SourceError(
            f"{str(url)[:120]!r} is not a URL install_package takes: give an http:// or "
            "https:// address of the folder that holds the package's .pkg file (letters, digits "
            "and . _ ~ + - / in the path; no spaces, quotes, %-escapes, query strings, user "
            "names, . or ..)."
        )
    return url if url.endswith("/") else url + "/"


def check_source_entry(entry: str) -> str:
    """One entry of STATA_TOOLS_INSTALL_SOURCES: `ssc`, or a URL prefix."""
    if entry.lower() == SSC:
        return SSC
    try:
        return check_url(entry)
    except SourceError:
        raise SourceError(
            f"{entry!r} is neither `ssc` nor an http(s) URL prefix such as "
            "https://raw.githubusercontent.com/sergiocorreia/"
        ) from None


def _beneath(url: str, prefix: str) -> bool:
    got, allowed = urlsplit(url), urlsplit(prefix)
    if (got.scheme, got.hostname, got.port) != (allowed.scheme, allowed.hostname, allowed.port):
        return False
    return (got.path or "/").startswith(allowed.path or "/")


def choose_source(source: str, from_url: str | None, allowed: tuple[str, ...]) -> Source:
    """The source, when the setting allows it; otherwise a SourceError naming what it allows."""
    kind = (source or "").strip().lower()
    listed = ", ".join(allowed) if allowed else "nothing"
    how = (
        f"To allow more, add `ssc` or a URL prefix to {SOURCES_ENV} (comma-separated) where "
        "the server is configured."
    )
    if kind == SSC:
        if from_url is not None:
            raise SourceError(
                "from_url is for source='net'; SSC packages need only their name (or use "
                "source='net' with the site's URL)."
            )
        if SSC not in allowed:
            raise SourceError(
                f"installing from SSC is not allowed: {SOURCES_ENV} allows {listed}. {how}"
            )
        return Source(SSC)
    if kind != "net":
        raise SourceError(f"source must be 'ssc' or 'net', not {source!r}")
    if not from_url:
        raise SourceError(
            "source='net' needs from_url: the http(s) address of the folder holding the "
            "package's .pkg file."
        )
    url = check_url(from_url.strip())
    prefixes = [p for p in allowed if p != SSC]
    if not any(_beneath(url, prefix) for prefix in prefixes):
        raise SourceError(
            f"{url} is not beneath a site {SOURCES_ENV} allows (it allows {listed}). {how}"
        )
    return Source("net", url)
