"""pystata.config of the fake Stata: init, settings, and the module globals projects reach into."""

from __future__ import annotations

import atexit
import os
import platform
import sys
from typing import Any

from pystata._fake import engine as _engine
from pystata._fake.banner import banner as _banner
from pystata._fake.recorder import record as _record

stlib: Any = None
stoutputf: Any = None
stconfig: dict[str, Any] = {
    "grwidth": ["default", "in"],
    "grheight": ["default", "in"],
    "grformat": "svg",
    "grshow": True,
    "streamout": "on",
    "cmdshow": "default",
    "autocomplete": "on",
}
stinitialized = False
sfiinitialized = False
stedition: str | None = None
stversion: str | None = None
stlibpath: str | None = None

_NOT_INITIALIZED = (
    "Stata environment has not been initialized yet. Please initialize it by calling config.init()"
)


def _st_home() -> str:
    """Stata's home: utilities/.. seen from this package, whatever path stata_setup was given."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _library(st_home: str, edition: str) -> str:
    """Where real pystata looks on this OS (pystata.md §1.2)."""
    if sys.platform == "win32":
        return os.path.join(st_home, f"{edition}-64.dll")
    if sys.platform == "darwin":
        bundle = f"Stata{edition.upper()}.app"
        return os.path.join(st_home, bundle, "Contents", "MacOS", f"libstata-{edition}.dylib")
    name = "libstata.so" if edition == "be" else f"libstata-{edition}.so"
    return os.path.join(st_home, name)


def init(edition: str, splash: bool = True) -> None:
    """Load the library for edition ('mp', 'se' or 'be'), make sfi importable, print the splash."""
    global stlib, stinitialized, sfiinitialized, stedition, stversion, stlibpath
    if stinitialized:
        return
    if edition not in ["be", "se", "mp"]:
        raise ValueError("Stata edition must be one of be, se, or mp")
    st_home = _st_home()
    libpath = _library(st_home, edition)
    if not os.path.isfile(libpath):
        raise FileNotFoundError(
            "The system cannot find the shared library within the specified path: %s", st_home
        )
    os.environ["SYSDIR_STATA"] = st_home
    stlib = _engine.load(libpath, edition)
    sfi_dir = os.path.join(st_home, "ado", "base", "py")
    if sfi_dir not in sys.path:
        sys.path.append(sfi_dir)
    stlibpath = libpath
    stedition = edition.upper()
    stversion = "18.0"
    stinitialized = True
    sfiinitialized = True
    atexit.register(shutdown)
    _record("init", edition=stedition, splash=splash, home=st_home)
    if splash:
        print(_banner(stedition, stversion))


def shutdown() -> None:
    if stlib is not None:
        stlib.StataSO_Shutdown()


def is_stata_initialized() -> bool:
    return stinitialized


def check_initialized() -> None:
    if not stinitialized:
        raise SystemError(_NOT_INITIALIZED)


def get_encode_str(s: str) -> bytes:
    return s.encode("utf-8")


def get_output() -> str:
    """Drain Stata's output buffer (what the streaming thread prints)."""
    return stlib.StataSO_GetOutputBuffer().decode("utf-8", "backslashreplace")


def status() -> None:
    if not stinitialized:
        print("Stata environment has not been initialized yet")
        return
    width, height = stconfig["grwidth"], stconfig["grheight"]
    size_w = "default" if width[0] == "default" else f"{width[0]}{width[1]}"
    size_h = "default" if height[0] == "default" else f"{height[0]}{height[1]}"
    cmdshow = stconfig["cmdshow"]
    print(
        "\n".join(
            [
                "    System information",
                f"      Python version         {platform.python_version()}",
                f"      Stata version          Stata {stversion} ({stedition})",
                f"      Stata library path     {stlibpath}",
                f"      Stata initialized      {stinitialized}",
                f"      sfi initialized        {sfiinitialized}",
                "",
                "    Settings",
                f"      graphic display        {stconfig['grshow']}",
                f"      graphic size           width = {size_w}, height = {size_h}",
                f"      graphic format         {stconfig['grformat']}",
                f"      command display        {cmdshow}",
                f"      autocompletion         {stconfig['autocomplete']}",
                f"      streaming output       {stconfig['streamout']}",
            ]
        )
    )


def _check_perm(perm: Any) -> None:
    if not isinstance(perm, bool):
        raise ValueError("perm must be a boolean value")


def _save(key: str, value: Any, perm: bool) -> None:
    if perm:
        import sfi

        sfi.Preference.setSavedPref("pystata", key, str(value))


def set_graph_format(gformat: str, perm: bool = False) -> None:
    _check_perm(perm)
    if gformat not in ("svg", "png", "pdf"):
        raise ValueError("invalid graph format")
    stconfig["grformat"] = gformat
    _save("grformat", gformat, perm)


def _size(value: Any, what: str) -> list[Any]:
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "default":
            return ["default", "in"]
        for unit in ("in", "px", "cm"):
            if text.endswith(unit):
                try:
                    return [float(text[: -len(unit)]), unit]
                except ValueError:
                    break
        try:
            return [float(text), "in"]
        except ValueError:
            raise ValueError(f"invalid graph {what}") from None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return [float(value), "in"]
    raise ValueError(f"invalid graph {what}")


def set_graph_size(width: Any = None, height: Any = None, perm: bool = False) -> None:
    _check_perm(perm)
    if width is None and height is None:
        raise ValueError("one of width and height must be specified")
    if width is not None:
        stconfig["grwidth"] = _size(width, "width")
        _save("grwidth", width, perm)
    if height is not None:
        stconfig["grheight"] = _size(height, "height")
        _save("grheight", height, perm)


def set_graph_show(show: bool, perm: bool = False) -> None:
    if not isinstance(show, bool):
        raise TypeError("show must be a boolean value")
    _check_perm(perm)
    stconfig["grshow"] = show
    _save("grshow", show, perm)


def set_command_show(show: bool, perm: bool = False) -> None:
    if not isinstance(show, bool):
        raise TypeError("show must be a boolean value")
    _check_perm(perm)
    stconfig["cmdshow"] = show
    _save("cmdshow", show, perm)


def set_autocompletion(flag: bool, perm: bool = False) -> None:
    if not isinstance(flag, bool):
        raise TypeError("flag must be a boolean value")
    _check_perm(perm)
    stconfig["autocomplete"] = "on" if flag else "off"
    _save("autocomplete", stconfig["autocomplete"], perm)


def set_streaming_output(flag: bool, perm: bool = False) -> None:
    if not isinstance(flag, bool):
        raise TypeError("flag must be a boolean value")
    _check_perm(perm)
    stconfig["streamout"] = "on" if flag else "off"
    _save("streamout", stconfig["streamout"], perm)


def set_output_file(filename: str, replace: bool = False) -> None:
    """Send what pystata prints to a file (a plain copy of the output, not a Stata log)."""
    global stoutputf
    if os.path.isfile(filename):
        if not replace:
            raise OSError(filename + " already exists")
        os.remove(filename)
    stoutputf = open(filename, "a", newline="\n", encoding="utf-8")  # noqa: SIM115


def close_output_file() -> None:
    """Close the output file. Like pystata 0.1.x, stoutputf is left pointing at it."""
    if stoutputf is not None:
        stoutputf.close()
