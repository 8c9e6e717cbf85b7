"""Packages as Stata installs and finds them: `ssc install`, `net install`, `sysdir`, the adopath.

`net install pkg, from(site) [replace]` reads `site/pkg.pkg` (a folder, or http(s) through
urllib: Stata's downloader is its own HTTP client, no program is started), copies its ado-type
files into PLUS/<first letter>/ (`_` for names starting with it), and records the package in
PLUS/stata.trk (S, N, D, U, d…, f…, e lines, as real stata.trk files hold them). `ssc install`
does the same from SSC (http://fmwww.bc.edu/repec/bocode/<letter>/), or from the folder or URL
in FAKE_STATA_SSC (laid out like SSC: `<letter>/<pkg>.pkg`). An unknown command is looked for on
the adopath (PERSONAL, PLUS, `.`, each folder and its letter subfolder) and its ado-file run.
"""

from __future__ import annotations

import os
import re
import socket
import time

from .core import Core, Ctx
from .errors import StataError
from .lines import BLANK, TXT, line
from .macros import strip_quotes
from .syntax import options, resolve, split_options

SSC_SITE = "http://fmwww.bc.edu/repec/bocode/"
SSC_ENV = "FAKE_STATA_SSC"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")
# What net install copies into PLUS; other files are ancillary (net get, or `all`).
_ADO_SUFFIXES = frozenset(
    ".ado .hlp .sthlp .ihlp .dlg .idlg .mo .mlib .class .scheme .style .plugin .py .jar "
    ".stpr .stbcal .mata".split()
)
_EITHER = (
    "{site} either\n"
    "  1)  is not a valid URL, or\n"
    "  2)  could not be contacted, or\n"
    "  3)  is not a Stata download site (has no stata.toc file)."
)


class _Missing(Exception):
    """The site answered, without that file."""


class _Unreachable(Exception):
    def __init__(self, rc: int, message: str) -> None:
        super().__init__(message)
        self.rc = rc
        self.message = message


def _fetch(site: str, name: str) -> bytes:
    """A file of a site: a folder, or an http(s) URL."""
    if not re.match(r"https?://", site):
        path = os.path.join(os.path.expanduser(site), name)
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except OSError:
            raise _Missing(name) from None
    import urllib.error  # here: on import, urllib.request asks the OS for its proxies (a test
    import urllib.request  # that pretends to be macOS has no _scproxy)

    url = site.rstrip("/") + "/" + name
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - http(s) only
            return bytes(response.read())
    except urllib.error.HTTPError as error:
        if error.code == 404:
            raise _Missing(name) from None
        if error.code in (401, 403):
            raise _Unreachable(673 if error.code == 401 else 672, "server refused to send file")
        raise _Unreachable(675, "server reported server error") from None
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, socket.gaierror):
            raise _Unreachable(631, "host not found") from None
        if isinstance(reason, TimeoutError | socket.timeout):
            raise _Unreachable(2, "connection timed out -- see help r(2) to troubleshoot")
        raise _Unreachable(677, "remote connection failed") from None
    except TimeoutError:
        raise _Unreachable(2, "connection timed out -- see help r(2) to troubleshoot") from None


class PackageCommands(Core):
    # --- sysdir -------------------------------------------------------------------------------

    def plus_dir(self) -> str:
        """PLUS as c(sysdir_plus) shows it (Unix keeps the tilde), with its separator."""
        return self.session.sysdir_plus or "~/ado/plus/"

    def personal_dir(self) -> str:
        return self.session.sysdir_personal or "~/ado/personal/"

    def _h_sysdir(self, args: str, ctx: Ctx) -> None:
        words = args.split(None, 2)
        if not words or words[0] == "list":
            base = self.session.sysdir_base + os.sep
            stata = os.path.dirname(os.path.dirname(self.session.sysdir_base)) + os.sep
            rows = (
                ("STATA", stata),
                ("BASE", base),
                ("SITE", os.path.join(os.path.dirname(self.session.sysdir_base), "site", "")),
                ("PLUS", self.plus_dir()),
                ("PERSONAL", self.personal_dir()),
                ("OLDPLACE", "~/ado/"),
            )
            for name, folder in rows:
                self.console.show(line(TXT, f"{name:>8}:  {folder}"))
            return
        if words[0] != "set" or len(words) < 3:
            raise StataError(198, "invalid syntax")
        which, folder = words[1].upper(), strip_quotes(words[2].strip())
        if which not in ("PLUS", "PERSONAL") or not folder:
            raise StataError(198, "invalid syntax")
        folder = folder if folder.endswith(("/", os.sep)) else folder + os.sep
        if which == "PLUS":
            self.session.sysdir_plus = folder
        else:
            self.session.sysdir_personal = folder

    # --- ssc install, net install -------------------------------------------------------------

    def _h_ssc(self, args: str, ctx: Ctx) -> None:
        sub, _, rest = args.strip().partition(" ")
        if resolve(sub, (("install", 4),)) != "install":
            raise StataError(198, f"ssc {sub}: subcommand not known to the fake Stata")
        target, opts = split_options(rest)
        name = target.strip()
        if not _NAME.fullmatch(name):
            raise StataError(198, "invalid syntax")
        letter = name[0].lower()
        site = (os.environ.get(SSC_ENV) or SSC_SITE).rstrip("/") + "/" + letter + "/"
        try:
            pkg = _fetch(site, name + ".pkg")
        except _Missing:
            raise StataError(
                601,
                f'ssc install: "{name}" not found at SSC, type search {name}\n'
                f"(To find all packages at SSC that start with {letter}, type ssc describe "
                f"{letter})",
            ) from None
        except _Unreachable as error:
            raise StataError(error.rc, error.message) from None
        self._install(name, site, pkg, "replace" in options(opts))

    def _h_net(self, args: str, ctx: Ctx) -> None:
        sub, _, rest = args.strip().partition(" ")
        if resolve(sub, (("install", 3),)) != "install":
            raise StataError(198, f"net {sub}: subcommand not known to the fake Stata")
        target, opts = split_options(rest)
        name = target.strip()
        given = options(opts)
        site = strip_quotes(_from_option(opts))
        if not _NAME.fullmatch(name):
            raise StataError(198, "invalid syntax")
        if not site:
            site = "http://www.stata.com/"  # net's current site when nothing was set
        shown = site if site.endswith("/") else site + "/"
        try:
            pkg = _fetch(site, name + ".pkg")
        except _Missing:
            raise StataError(
                601, f"file {shown}{name}.pkg not found\ncould not load {name}.pkg from {shown}"
            ) from None
        except _Unreachable as error:
            raise StataError(error.rc, error.message + "\n" + _EITHER.format(site=shown)) from None
        self._install(name, site, pkg, "replace" in given)

    def _install(self, name: str, site: str, pkg: bytes, replace: bool) -> None:
        self.console.show(
            line(TXT, f"checking {name} consistency and verifying not already installed...")
        )
        described, listed = _parse_pkg(pkg.decode("utf-8", errors="replace"))
        if not listed:
            raise StataError(641, "package file invalid")  # a package that installs nothing
        plus = os.path.expanduser(self.plus_dir())
        files: list[tuple[str, bytes]] = []  # (path relative to PLUS, content)
        for entry in listed:
            base = os.path.basename(entry.replace("\\", "/"))
            letter = base[0].lower() if base[0].isalpha() else "_"
            try:
                content = _fetch(site, entry)
            except _Missing:
                raise StataError(601, f"file {site.rstrip('/')}/{entry} not found") from None
            except _Unreachable as error:
                raise StataError(error.rc, error.message) from None
            files.append((f"{letter}/{base}", content))
        same, different = [], []
        for relative, content in files:
            target = os.path.join(plus, relative)
            if os.path.isfile(target):
                with open(target, "rb") as fh:
                    (same if fh.read() == content else different).append(target)
        if len(same) == len(files):
            self.console.show(line(TXT, "all files already exist and are up to date."))
            return
        if different and not replace:
            self.console.show(BLANK)
            self.console.show(line(TXT, "the following files already exist and are different:"))
            for target in different:
                self.console.show(line(TXT, f"    {target}"))
            self.console.show(BLANK)
            raise StataError(602, "no files installed or copied\n(no action taken)")
        if different:
            self.console.show(line(TXT, "the following files will be replaced:"))
            for target in different:
                self.console.show(line(TXT, f"    {target}"))
            self.console.show(BLANK)
        self.console.show(line(TXT, f"installing into {plus}..."))
        for relative, content in files:
            target = os.path.join(plus, relative)
            try:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "wb") as fh:
                    fh.write(content)
            except OSError:
                raise StataError(603, f"file {target} could not be opened") from None
        _track(plus, site, name, described, [relative for relative, _ in files])
        self.console.show(line(TXT, "installation complete."))

    # --- the adopath --------------------------------------------------------------------------

    def find_ado(self, word: str) -> str | None:
        """Where Stata would find `word`.ado: PERSONAL, PLUS and `.`, each with its letter."""
        letter = word[0].lower() if word[0].isalpha() else "_"
        for folder in (self.personal_dir(), self.plus_dir(), "."):
            root = os.path.expanduser(folder)
            for candidate in (
                os.path.join(root, f"{word}.ado"),
                os.path.join(root, letter, f"{word}.ado"),
            ):
                if os.path.isfile(candidate):
                    return candidate
        return None


def _from_option(opts: str) -> str:
    """from(...) as written, quotes and all (a URL holds ':' and '/', which options() keeps)."""
    found = re.search(r"\bfrom\(\s*(.*?)\s*\)(?=\s|$)", opts)
    return found.group(1) if found else ""


def _parse_pkg(text: str) -> tuple[list[str], list[str]]:
    """A .pkg file's description lines and the files `net install` copies (f and F lines)."""
    described, listed = [], []
    for raw in text.splitlines():
        kind, _, rest = raw.partition(" ")
        if kind == "d":
            described.append(rest)
        elif kind == "F" or (kind == "f" and os.path.splitext(rest.strip())[1] in _ADO_SUFFIXES):
            listed.append(rest.strip())
    return described, listed


def _track(plus: str, site: str, name: str, described: list[str], files: list[str]) -> None:
    """Record the package in PLUS/stata.trk, replacing an earlier entry of it."""
    path = os.path.join(plus, "stata.trk")
    entries: list[list[str]] = []
    if os.path.isfile(path):
        with open(path, encoding="utf-8", errors="replace") as fh:
            current: list[str] = []
            for raw in fh.read().splitlines():
                if raw.startswith("*"):
                    continue
                current.append(raw)
                if raw == "e":
                    entries.append(current)
                    current = []
    entries = [e for e in entries if f"N {name}.pkg" not in e]
    source = site.rstrip("/")
    entry = [f"S {source}", f"N {name}.pkg", f"D {time.strftime('%d %b %Y').lstrip('0')}"]
    entry += [f"U {len(entries)}", *(f"d {d}" for d in described), *(f"f {f}" for f in files)]
    entries.append([*entry, "e"])
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"* {len(entries):08d}\n*! version 1.0.0\n")
        for e in entries:
            fh.write("\n".join(e) + "\n")
