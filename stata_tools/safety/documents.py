"""The Stata code inside documents Stata runs (dyndoc, dyntext, markstat), lines kept in place
so a refusal names the document's own line."""

from __future__ import annotations

import re

from stata_tools.run.dofile import LINE_BREAK

_DD_BLOCK = re.compile(r"<<dd_do(?:\s*:[^>]*)?>>(.*?)(?:<</dd_do>>|\Z)", re.DOTALL)
_DD_DISPLAY = re.compile(r"<<dd_display\s*:(.*?)>>", re.DOTALL)


def dyndoc_code(text: str) -> str:
    """The Stata code a dyndoc/dyntext source runs, each piece on its own line, the rest blank."""
    kept = [False] * len(text)
    for block in _DD_BLOCK.finditer(text):
        for i in range(block.start(1), block.end(1)):
            kept[i] = True
    code = "".join(c if keep or c in "\r\n" else " " for c, keep in zip(text, kept, strict=True))
    lines = LINE_BREAK.split(code)
    for shown in _DD_DISPLAY.finditer(text):
        row = len(LINE_BREAK.findall(text, 0, shown.start()))
        lines[row] = f"{lines[row].strip()} display {shown.group(1).strip()}".strip()
    return "\n".join(lines)


_FENCE = re.compile(r"[ \t]*(```+|~~~+)\s*\{?\s*([A-Za-z]*)")


def markstat_code(text: str) -> str:
    """The Stata and Mata code a markstat source runs: fenced `s`/`m` blocks, indented blocks,
    inline `s ...`; every other line blank, so lines keep their numbers."""
    out: list[str] = []
    fence: tuple[str, str] | None = None  # (marker, language)
    previous_blank = True
    for line in LINE_BREAK.split(text):
        opened = _FENCE.match(line)
        if fence is not None:
            if line.strip().startswith(fence[0]):
                out.append("end" if fence[1] == "m" else "")
                fence = None
            else:
                out.append(line if fence[1] in ("s", "m", "stata", "mata") else "")
            continue
        if opened is not None:
            language = opened.group(2).lower()
            fence = (opened.group(1), "m" if language in ("m", "mata") else language)
            out.append("mata" if fence[1] == "m" else "")
        elif line.startswith(("    ", "\t")) and (previous_blank or (out and out[-1])):
            out.append(line)
        else:
            inline = re.findall(r"`s\s+([^`]*)`", line)
            out.append(" ".join(f"display {piece}" for piece in inline[:1]))
        previous_blank = not line.strip()
    return "\n".join(out)
