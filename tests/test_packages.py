"""install_package: what Stata's install printed, read back; the install in a Stata of its own
that writes PLUS only; the session it was for sees the new command and keeps its data."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from package_site import make_package, serve

from stata_tools import RunRequest, Session, Settings
from stata_tools.safety.roots import Roots
from stata_tools.safety.sources import SSC, Source
from stata_tools.stata.packages import (
    InstallRequest,
    InstallRequestError,
    install_code,
    install_package,
    parse_install_output,
    tracked_files,
)

PLUS = "/home/u/ado/plus/"


# ---------------------------------------------------------------- pure: the code and the output


def test_the_install_code_sets_plus_then_installs_that_name_only() -> None:
    assert install_code("reghdfe", Source(SSC), PLUS, replace=False) == (
        'sysdir set PLUS "/home/u/ado/plus/"\nssc install reghdfe'
    )
    net = Source("net", "https://raw.githubusercontent.com/sergiocorreia/reghdfe/master/src/")
    assert install_code("reghdfe", net, PLUS, replace=True).splitlines()[1] == (
        'net install reghdfe, from("https://raw.githubusercontent.com/sergiocorreia/reghdfe/'
        'master/src/") replace'
    )


def test_installed_output_gives_the_folder() -> None:
    text = (
        ". ssc install reghdfe\n"
        "checking reghdfe consistency and verifying not already installed...\n"
        "installing into /home/u/ado/plu\n> s/...\n"  # a long line, wrapped by Stata
        "installation complete.\n"
    )
    outcome = parse_install_output(text, 0)
    assert (outcome.status, outcome.folder, outcome.replaced) == ("installed", PLUS, ())


def test_replaced_files_are_listed() -> None:
    text = (
        "checking estout consistency and verifying not already installed...\n"
        "the following files will be replaced:\n"
        "    /home/u/ado/plus/_/_eststo.ado\n"
        "    /home/u/ado/plus/e/estout.ado\n\n"
        "installing into /home/u/ado/plus/...\n"
        "installation complete.\n"
    )
    outcome = parse_install_output(text, 0)
    assert outcome.status == "installed"
    assert outcome.replaced == ("/home/u/ado/plus/_/_eststo.ado", "/home/u/ado/plus/e/estout.ado")


def test_up_to_date_different_not_found_and_network_failures() -> None:
    same = (
        "checking outreg2 consistency and verifying not already installed...\n"
        "all files already exist and are up to date.\n"
    )  # as the corpus's logs show `ssc install outreg2, replace`
    assert parse_install_output(same, 0).status == "up_to_date"
    different = parse_install_output(
        "checking x consistency and verifying not already installed...\n\n"
        "the following files already exist and are different:\n"
        "    /home/u/ado/plus/x/x.ado\n\n"
        "no files installed or copied\n(no action taken)\nr(602);\n",
        602,
    )
    assert (different.status, different.different) == ("exists_different", (PLUS + "x/x.ado",))
    missing = (
        'ssc install: "nonexist" not found at SSC, type search nonexist\n'
        "(To find all packages at SSC that start with n, type ssc describe n)\nr(601);\n"
    )
    assert parse_install_output(missing, 601).status == "not_found"
    net_missing = "file http://h/x.pkg not found\ncould not load x.pkg from http://h/\nr(601);"
    assert parse_install_output(net_missing, 601).status == "not_found"
    assert parse_install_output("host not found\nr(631);\n", 631).status == "failed"
    assert parse_install_output("r(603);", 603).status == "failed"


def test_tracked_files_are_the_newest_entry_of_the_package() -> None:
    trk = (
        "* 00000003\n*! version 1.0.0\n"
        "S http://fmwww.bc.edu/repec/bocode/a\nN apkg.pkg\nD 1 Jan 2026\nU 0\nd 'APKG'\n"
        "f a/apkg.ado\ne\n"
        "S http://fmwww.bc.edu/repec/bocode/m\nN mypkg.pkg\nD 1 Jan 2026\nU 1\nd 'MYPKG'\n"
        "f m/mypkg.ado\ne\n"
        "S http://fmwww.bc.edu/repec/bocode/m\nN mypkg.pkg\nD 2 Jan 2026\nU 2\nd 'MYPKG'\n"
        "f m/mypkg.ado\nf m/mypkg.sthlp\nf _/_mypkg.ado\ne\n"
    )
    assert tracked_files(trk, "mypkg") == ("m/mypkg.ado", "m/mypkg.sthlp", "_/_mypkg.ado")
    assert tracked_files(trk, "apkg") == ("a/apkg.ado",)
    assert tracked_files(trk, "none") == ()


# ---------------------------------------------------------------- through the fake Stata


@dataclasses.dataclass
class Place:
    home: Path
    plus: Path
    ssc: Path
    root: Path
    session: Session


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Place]:
    """A session whose Stata has HOME (so PLUS) in tmp_path and SSC in a folder of ours."""
    home, root = tmp_path / "home", tmp_path / "root"
    home.mkdir()
    root.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("FAKE_STATA_SSC", str(tmp_path / "ssc"))
    settings = dataclasses.replace(
        Settings.from_env({}),
        stata_path=os.environ["STATA_PATH"],
        run_dir=tmp_path / "runs",
        roots=Roots((root,)),
    )
    session = Session(settings)
    yield Place(home, home / "ado" / "plus", tmp_path / "ssc", root, session)
    session.close()


async def test_an_ssc_install_is_reported_and_the_session_uses_it_with_its_data_kept(
    place: Place,
) -> None:
    make_package(place.ssc, "mypkg", "hi")
    before = await place.session.execute(RunRequest(code="sysuse auto\nmypkg"))
    assert before.rc == 199  # not installed yet
    report = await install_package(place.session, InstallRequest("mypkg"))
    assert report.ok and report.outcome.status == "installed"
    assert report.plus == f"{place.plus}/"
    assert report.outcome.folder == f"{place.plus}/"
    assert report.files == tuple(
        str(place.plus / f) for f in ("m/mypkg.ado", "m/mypkg.sthlp", "_/_mypkg_util.ado")
    )
    assert all(Path(f).is_file() for f in report.files)
    text = report.render()
    assert text.splitlines()[0] == f"mypkg installed from SSC into {place.plus}/"
    assert f"  {place.plus}/m/mypkg.ado" in text.splitlines()
    assert report.to_meta()["status"] == "installed" and report.to_meta()["rc"] == 0
    after = await place.session.execute(RunRequest(code="mypkg\ndisplay _N"))
    assert after.rc == 0
    assert "hi from mypkg" in after.output.text and "\n74\n" in after.output.text
    again = await install_package(place.session, InstallRequest("mypkg"))
    assert again.outcome.status == "up_to_date"
    assert "already installed" in again.render() and "nothing was changed" in again.render()


async def test_a_changed_package_needs_replace_and_an_unknown_one_is_not_found(
    place: Place,
) -> None:
    make_package(place.ssc, "mypkg", "old")
    await install_package(place.session, InstallRequest("mypkg"))
    make_package(place.ssc, "mypkg", "new")
    refused = await install_package(place.session, InstallRequest("mypkg"))
    assert not refused.ok and refused.outcome.status == "exists_different"
    assert refused.outcome.different == (f"{place.plus}/m/mypkg.ado",)
    assert "replace=true" in refused.render()
    assert "old from mypkg" in (place.plus / "m" / "mypkg.ado").read_text()
    replaced = await install_package(place.session, InstallRequest("mypkg", replace=True))
    assert replaced.outcome.status == "installed"
    assert replaced.outcome.replaced == (f"{place.plus}/m/mypkg.ado",)
    assert "new from mypkg" in (place.plus / "m" / "mypkg.ado").read_text()
    unknown = await install_package(place.session, InstallRequest("nonexist"))
    assert unknown.outcome.status == "not_found" and unknown.result.rc == 601
    assert unknown.render().startswith("nonexist was not found at SSC (r(601))")


async def test_a_net_install_from_an_allowed_site_and_a_sysdir_set_plus(place: Place) -> None:
    make_package(place.root / "site", "webpkg", "web", letter_folder=False)
    elsewhere = place.root / "myplus"
    await place.session.execute(RunRequest(code=f'sysdir set PLUS "{elsewhere}"'))
    with serve(place.root / "site") as url:
        session = place.session
        session.settings = dataclasses.replace(session.settings, install_sources=(SSC, url))
        report = await install_package(session, InstallRequest("webpkg", "net", url))
    assert report.outcome.status == "installed", report.render()
    assert report.plus == f"{elsewhere}/"  # the session's own PLUS, as it set it
    assert report.files[0] == str(elsewhere / "w" / "webpkg.ado")
    assert not place.plus.exists()
    used = await place.session.execute(RunRequest(code="webpkg"))
    assert "web from webpkg" in used.output.text


async def test_bad_requests_are_refused_before_any_stata_starts(place: Place) -> None:
    for request, words in (
        (InstallRequest("reghdfe; shell rm -rf ~"), "is not a Stata package name"),
        (InstallRequest("reghdfe", "net", "https://evil.example/"), "is not beneath a site"),
        (InstallRequest("reghdfe", "net"), "needs from_url"),
    ):
        with pytest.raises(InstallRequestError, match=words):
            await install_package(place.session, request)
    assert not place.session.status().started


async def test_two_installs_at_once_take_turns_and_both_are_tracked(place: Place) -> None:
    make_package(place.ssc, "apkg", "a")
    make_package(place.ssc, "bpkg", "b")
    first, second = await asyncio.gather(
        install_package(place.session, InstallRequest("apkg")),
        install_package(place.session, InstallRequest("bpkg")),
    )
    assert (first.outcome.status, second.outcome.status) == ("installed", "installed")
    trk = (place.plus / "stata.trk").read_text()
    assert tracked_files(trk, "apkg")[0] == "a/apkg.ado"
    assert tracked_files(trk, "bpkg")[0] == "b/bpkg.ado"


def test_a_real_log_s_ssc_install_of_installed_packages_reads_as_up_to_date(
    corpus_dir: Path,
) -> None:
    """Real Stata 18's SMCL log of `ssc install outreg2, replace` / `estout, replace`."""
    from stata_tools.run.logs.parse import smcl_to_text

    log = corpus_dir / "smcl" / "ecn310__course-project-parent__Master_Log.smcl"
    lines = [smcl_to_text(raw) for raw in log.read_text(encoding="latin-1").splitlines()]
    start = lines.index(". ssc install outreg2, replace")
    block = "\n".join(lines[start : start + 3])
    assert block.splitlines()[1] == (
        "checking outreg2 consistency and verifying not already installed..."
    )
    assert parse_install_output(block, 0).status == "up_to_date"
