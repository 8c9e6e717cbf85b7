"""CSV and TSV files streamed record by record: only the rows up to the page are ever held.

Text has no types, labels or row count: numbers are recognised in the page's cells, the encoding
is UTF-8 when it decodes, else Windows-1252, else Latin-1 (and the page says which), and the rows
are counted by streaming to the end only when the file is small enough for that to be cheap.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from stata_tools.inspection.datafiles.page import (
    DataFileError,
    DataPage,
    DataVariable,
    resolve_variables,
    start_beyond,
)

__all__ = ["COUNT_LIMIT_BYTES", "read_delimited"]

COUNT_LIMIT_BYTES = 64 * 1024 * 1024
"""Files up to this size are streamed to the end to count their rows; larger ones are not."""

_SAMPLE_BYTES = 64 * 1024
_DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_INTEGER = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_ENCODINGS = ("utf-8", "cp1252", "latin-1")
_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "utf-16": "UTF-16", "cp1252": "Windows-1252"}


@dataclass(frozen=True, slots=True)
class _Scan:
    """What one pass over the records found."""

    header: list[str]
    rows: list[list[str]]
    n_obs: int | None
    read: int
    """Records after the header that were read (all of them when n_obs is known)."""


def read_delimited(
    file: Path,
    handle: BinaryIO,
    kind: str,
    variables: Sequence[str] | str | None,
    start: int,
    count: int,
) -> DataPage:
    """The page of a CSV/TSV file open as `handle` (``kind`` is "CSV" or "TSV")."""
    head = handle.read(_SAMPLE_BYTES)
    encoding = _encoding(head, file)
    size = _size(handle)
    scan, encoding = _scan_with_fallback(handle, head, encoding, kind, start, count, size, file)
    names = _names(scan.header)
    columns = resolve_variables(variables, tuple(names), file.name)
    if start > 0 and scan.n_obs is not None and start >= scan.n_obs:
        raise start_beyond(start, scan.n_obs, file.name)
    index = [names.index(name) for name in columns]
    cells = [[_cell(row, i) for i in index] for row in scan.rows]
    types = [_column_type([row[j] for row in cells]) for j in range(len(index))]
    rows = tuple(
        tuple(_value(text, numeric) for text, numeric in zip(row, types, strict=True))
        for row in cells
    )
    delimiter = _delimiter(head, encoding, kind)
    notes = ["no types in a text file: numeric or string is judged from the rows shown"]
    if names != scan.header:
        notes.append("empty or repeated column names were replaced (v1, v2, ... by position)")
    if scan.n_obs is None:
        notes.append(
            f"the file is {size / 1e6:,.0f} MB: its rows were not counted (that reads it all)"
        )
    if encoding not in ("utf-8", "utf-8-sig", "utf-16"):
        notes.append(f"not UTF-8: decoded as {_NAMES.get(encoding, encoding)}")
    described = tuple(
        DataVariable(name, "numeric" if numeric else "string", "", "", None)
        for name, numeric in zip(columns, types, strict=True)
    )
    return DataPage(
        path=str(file),
        n_obs=scan.n_obs,
        n_vars=len(names),
        data_label="",
        variables=described,
        value_labels={},
        columns=columns,
        rows=rows,
        start=start,
        stop=start + len(rows),
        kind=f"{kind} ({_NAMES.get(encoding, encoding)}, {_DELIMITERS[delimiter]}-separated)",
        notes=tuple(notes),
        at_least=scan.read,
    )


def _size(handle: BinaryIO) -> int:
    return os.fstat(handle.fileno()).st_size


def _encoding(head: bytes, file: Path) -> str:
    """UTF-16 or UTF-8 by byte-order mark; UTF-8 when the first 64 KB decode; else cp1252."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if b"\x00" in head:
        raise DataFileError(
            f"{file} is not a text file (it holds NUL bytes): only a CSV/TSV text table can be"
            " read with this extension"
        )
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return _single_byte(head)
    return "utf-8"


def _single_byte(data: bytes) -> str:
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1"
    return "cp1252"


def _scan_with_fallback(
    handle: BinaryIO,
    head: bytes,
    encoding: str,
    kind: str,
    start: int,
    count: int,
    size: int,
    file: Path,
) -> tuple[_Scan, str]:
    """A scan in `encoding`; when UTF-8 fails past the sample, again in a single-byte one."""
    tried = [encoding]
    while True:
        handle.seek(0)
        try:
            return _scan(handle, head, tried[-1], kind, start, count, size, file), tried[-1]
        except UnicodeDecodeError as exc:
            following = next((e for e in _ENCODINGS if e not in tried and e != "utf-8"), None)
            if following is None or tried[-1] not in ("utf-8", "utf-8-sig", "cp1252"):
                raise DataFileError(f"cannot decode {file}: {exc}") from None
            tried.append(following)


def _scan(
    handle: BinaryIO,
    head: bytes,
    encoding: str,
    kind: str,
    start: int,
    count: int,
    size: int,
    file: Path,
) -> _Scan:
    text = io.TextIOWrapper(handle, encoding=encoding, newline="")
    try:
        records = _records(text, _delimiter(head, encoding, kind), file)
        header = next(records, None)
        if header is None:
            raise DataFileError(f"{file} is not a {kind} file (it is empty)")
        rows: list[list[str]] = []
        read = 0
        for record in records:
            if read >= start + count:  # one record past the page: there are more
                read += 1
                break
            if read >= start:
                rows.append(record)
            read += 1
        else:
            return _Scan(header, rows, read, read)
        if size > COUNT_LIMIT_BYTES:
            return _Scan(header, rows, None, read)
        read += sum(1 for _ in records)
        return _Scan(header, rows, read, read)
    finally:
        text.detach()


def _records(text: io.TextIOWrapper, delimiter: str, file: Path) -> Iterator[list[str]]:
    """The file's records; a malformed one is a clear error. A cell is capped at the csv
    module's limit (128 K characters), so a file without line ends is refused, not held whole
    (the limit is process-wide: it is left as it is rather than changed under other threads)."""
    reader = csv.reader(text, delimiter=delimiter, strict=False)
    try:
        yield from (record for record in reader if record)
    except csv.Error as exc:
        raise DataFileError(
            f"cannot read {file}: line {reader.line_num}: {exc} (is it really a delimited text"
            " table?)"
        ) from None


def _delimiter(head: bytes, encoding: str, kind: str) -> str:
    """Tab for TSV; for CSV the candidate seen most often in the first line (comma if none)."""
    if kind == "TSV":
        return "\t"
    first = head.decode(encoding, "replace").lstrip("\ufeff").splitlines()[:1]
    line = re.sub(r'"[^"]*"', "", first[0]) if first else ""
    counts = {d: line.count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _names(header: list[str]) -> list[str]:
    """Header cells as names: empty or repeated ones become v1, v2, ... by position."""
    names: list[str] = []
    for i, cell in enumerate(header):
        name = cell.strip()
        names.append(name if name and name not in names else f"v{i + 1}")
    return names


def _cell(row: list[str], i: int) -> str | None:
    if i >= len(row):
        return None
    text = row[i]
    return None if text.strip() == "" else text


def _column_type(cells: list[str | None]) -> bool:
    """Numeric when every non-empty cell of the page is a number (and there is one)."""
    present = [c.strip() for c in cells if c is not None]
    return bool(present) and all(_FLOAT.fullmatch(c) for c in present)


def _value(text: str | None, numeric: bool) -> object:
    if text is None:
        return None
    if not numeric:
        return text
    stripped = text.strip()
    return int(stripped) if _INTEGER.fullmatch(stripped) else float(stripped)
