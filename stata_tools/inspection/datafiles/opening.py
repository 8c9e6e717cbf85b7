"""Open a user's data file only when it is a regular file whose first bytes fit its extension.

A plain message beats a reader's obscure one, and a FIFO, socket or device is refused at once
instead of blocking a read. The first bytes also name the format a misnamed file really has.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from stata_tools.inspection.datafiles.page import DataFileError
from stata_tools.safety.files import NotAFile, open_regular

__all__ = ["FORMATS", "HEAD_BYTES", "Format", "a_or_an", "open_checked", "sniff"]

HEAD_BYTES = 64

# Old .dta formats 102-115 start with their version byte, then the byte order (1 = MSF, 2 = LSF).
_OLD_DTA = frozenset({102, 103, 104, 105, 108, 110, 111, 112, 113, 114, 115})
_SAS_MAGIC = bytes.fromhex("000000000000000000000000c2ea8160b31411cfbd92080009c7318c181f1011")
_OLE2 = bytes.fromhex("d0cf11e0a1b11ae1")


@dataclass(frozen=True, slots=True)
class Format:
    """A file format: how people name it, its extensions, and a test of its first bytes."""

    name: str
    """"Stata .dta", "SPSS .sav", ...: the words a message uses."""
    extensions: tuple[str, ...]
    looks_like: Callable[[bytes], bool] | None
    """None for text formats, which have no signature."""


def _dta(head: bytes) -> bool:
    if head.startswith(b"<stata_dta>"):
        return True
    return len(head) >= 2 and head[0] in _OLD_DTA and head[1] in (1, 2)


FORMATS = (
    Format("Stata .dta", (".dta",), _dta),
    Format("SPSS .sav", (".sav",), lambda h: h.startswith(b"$FL2")),
    Format("SPSS .zsav", (".zsav",), lambda h: h.startswith(b"$FL3")),
    Format("SAS .sas7bdat", (".sas7bdat",), lambda h: h.startswith(_SAS_MAGIC)),
    Format("Parquet", (".parquet", ".parq", ".pq"), lambda h: h.startswith(b"PAR1")),
    Format("Excel .xlsx", (".xlsx", ".xlsm"), lambda h: h.startswith(b"PK\x03\x04")),
    Format("Excel .xls", (".xls",), lambda h: h.startswith(_OLE2)),
    Format("CSV", (".csv", ".txt"), None),
    Format("TSV", (".tsv", ".tab"), None),
)


def sniff(head: bytes) -> Format | None:
    """The binary format these first bytes announce, if any."""
    return next((f for f in FORMATS if f.looks_like is not None and f.looks_like(head)), None)


def open_checked(file: Path, fmt: Format) -> BinaryIO:
    """`file`, open at its start, when it is a regular file that looks like `fmt`."""
    noun = f"{fmt.extensions[0]} file"
    if not file.exists():
        raise DataFileError(f"no such file: {file}")
    if file.is_dir():
        raise DataFileError(f"{file} is a directory, not a {noun}")
    try:
        handle = open_regular(file)
    except NotAFile as exc:
        raise DataFileError(f"{exc}: only a regular {noun} can be read") from None
    except OSError as exc:
        raise DataFileError(f"cannot read {file}: {exc.strerror or exc}") from exc
    try:
        head = handle.read(HEAD_BYTES)
        handle.seek(0)
    except OSError as exc:
        handle.close()
        raise DataFileError(f"cannot read {file}: {exc.strerror or exc}") from exc
    if fmt.looks_like is None:
        problem = None if head else "it is empty"
        other = sniff(head)
        if other is not None:
            problem = f"it is a{_n(other.name)} {other.name} file: rename it {other.extensions[0]}"
        if problem is not None:
            handle.close()
            raise DataFileError(f"{file} is not a {fmt.name} file ({problem})")
        return handle
    if not fmt.looks_like(head):
        handle.close()
        raise DataFileError(f"{file} is not a{_n(fmt.name)} {fmt.name} file ({_what(head)})")
    return handle


def _what(head: bytes) -> str:
    if not head:
        return "it is empty"
    other = sniff(head)
    if other is not None:
        return f"it is a{_n(other.name)} {other.name} file: rename it {other.extensions[0]}"
    return f"it starts with {head[:11].decode('latin-1', 'replace')!r}"


def a_or_an(name: str) -> str:
    """ "an Excel", "an SPSS", but "a Stata", "a SAS", "a CSV"."""
    return f"a{_n(name)} {name}"


def _n(name: str) -> str:
    return "n" if name.startswith(("A", "E", "I", "O", "U", "SPSS")) else ""
