"""Graphs in memory and their exported files: a real PNG (zlib + struct), SVG and PDF.

Pure: the renderers return bytes; the graph commands decide where they are written.
"""

from __future__ import annotations

import itertools
import struct
import zlib
from dataclasses import dataclass

NAVY = (26, 71, 111)  # Stata's s2color first plot colour
MAROON = (144, 53, 59)
GRID = (234, 242, 243)
FRAME = (0, 0, 0)
BG = (255, 255, 255)


@dataclass(frozen=True, slots=True)
class Series:
    kind: str  # scatter, line, bar
    xs: tuple[float, ...]
    ys: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Graph:
    name: str
    command: str  # the command line that drew it (graph describe shows it)
    family: str  # twoway, histogram, bar
    series: tuple[Series, ...]
    title: str = ""


def _bounds(graph: Graph) -> tuple[float, float, float, float]:
    xs = [x for s in graph.series for x in s.xs] or [0.0, 1.0]
    ys = [y for s in graph.series for y in s.ys] or [0.0, 1.0]
    if any(s.kind == "bar" for s in graph.series):
        ys.append(0.0)
        xs = [*xs, min(xs) - 0.5, max(xs) + 0.5]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    if x0 == x1:
        x0, x1 = x0 - 1, x1 + 1
    if y0 == y1:
        y0, y1 = y0 - 1, y1 + 1
    return x0, x1, y0, y1


class _Plot:
    """Data-to-pixel mapping for an image of w×h with the plot region inside margins."""

    def __init__(self, graph: Graph, w: int, h: int) -> None:
        self.x0, self.x1, self.y0, self.y1 = _bounds(graph)
        self.left, self.right = int(w * 0.12), int(w * 0.95)
        self.top, self.bottom = int(h * 0.08), int(h * 0.85)

    def px(self, x: float) -> int:
        f = (x - self.x0) / (self.x1 - self.x0)
        return round(self.left + f * (self.right - self.left))

    def py(self, y: float) -> int:
        f = (y - self.y0) / (self.y1 - self.y0)
        return round(self.bottom - f * (self.bottom - self.top))


# --- PNG -----------------------------------------------------------------------------------------


class _Canvas:
    def __init__(self, w: int, h: int) -> None:
        self.w, self.h = w, h
        self.px = bytearray(bytes(BG) * (w * h))

    def dot(self, x: int, y: int, c: tuple[int, int, int]) -> None:
        if 0 <= x < self.w and 0 <= y < self.h:
            i = 3 * (y * self.w + x)
            self.px[i : i + 3] = bytes(c)

    def rect(self, x0: int, y0: int, x1: int, y1: int, c: tuple[int, int, int]) -> None:
        for y in range(max(0, min(y0, y1)), min(self.h, max(y0, y1) + 1)):
            for x in range(max(0, min(x0, x1)), min(self.w, max(x0, x1) + 1)):
                self.dot(x, y, c)

    def line(self, x0: int, y0: int, x1: int, y1: int, c: tuple[int, int, int]) -> None:
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        while True:
            self.dot(x0, y0, c)
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def disc(self, cx: int, cy: int, r: int, c: tuple[int, int, int]) -> None:
        for y in range(cy - r, cy + r + 1):
            for x in range(cx - r, cx + r + 1):
                if (x - cx) ** 2 + (y - cy) ** 2 <= r * r:
                    self.dot(x, y, c)

    def png(self) -> bytes:
        raw = b"".join(
            b"\x00" + bytes(self.px[3 * y * self.w : 3 * (y + 1) * self.w]) for y in range(self.h)
        )

        def chunk(kind: bytes, data: bytes) -> bytes:
            body = kind + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

        ihdr = struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b"")
        )


def _bar_halfwidth(plot: _Plot, s: Series) -> int:
    xs = sorted(set(s.xs))
    step = min((b - a for a, b in itertools.pairwise(xs)), default=1.0)
    return max(1, int((plot.px(xs[0] + step) - plot.px(xs[0])) * 0.4))


def render_png(graph: Graph, w: int = 600, h: int = 436) -> bytes:
    cv = _Canvas(w, h)
    p = _Plot(graph, w, h)
    cv.rect(p.left, p.top, p.right, p.bottom, GRID)
    for k, s in enumerate(graph.series):
        colour = NAVY if k % 2 == 0 else MAROON
        pts = [(p.px(x), p.py(y)) for x, y in zip(s.xs, s.ys, strict=True)]
        if s.kind == "bar":
            half = _bar_halfwidth(p, s)
            for x, y in pts:
                cv.rect(x - half, y, x + half, p.py(max(p.y0, 0.0)), colour)
        elif s.kind == "line":
            ordered = sorted(pts)
            for a, b in itertools.pairwise(ordered):
                cv.line(*a, *b, colour)
        else:
            for x, y in pts:
                cv.disc(x, y, 3, colour)
    cv.line(p.left, p.bottom, p.right, p.bottom, FRAME)
    cv.line(p.left, p.top, p.left, p.bottom, FRAME)
    return cv.png()


# --- SVG and PDF ---------------------------------------------------------------------------------


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_svg(graph: Graph, w: int = 600, h: int = 436) -> bytes:
    p = _Plot(graph, w, h)
    rgb = "rgb({},{},{})".format
    out = [
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}">',
        f'<rect x="0" y="0" width="{w}" height="{h}" fill="{rgb(*BG)}"/>',
        f'<rect x="{p.left}" y="{p.top}" width="{p.right - p.left}" '
        f'height="{p.bottom - p.top}" fill="{rgb(*GRID)}"/>',
    ]
    if graph.title:
        out.append(
            f'<text x="{w // 2}" y="{p.top - 8}" text-anchor="middle">{_esc(graph.title)}</text>'
        )
    for k, s in enumerate(graph.series):
        colour = rgb(*(NAVY if k % 2 == 0 else MAROON))
        pts = [(p.px(x), p.py(y)) for x, y in zip(s.xs, s.ys, strict=True)]
        if s.kind == "bar":
            half = _bar_halfwidth(p, s)
            base = p.py(max(p.y0, 0.0))
            out += [
                f'<rect x="{x - half}" y="{min(y, base)}" width="{2 * half}" '
                f'height="{abs(base - y)}" fill="{colour}"/>'
                for x, y in pts
            ]
        elif s.kind == "line":
            path = " ".join(f"{x},{y}" for x, y in sorted(pts))
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}"/>')
        else:
            out += [f'<circle cx="{x}" cy="{y}" r="3" fill="{colour}"/>' for x, y in pts]
    out.append("</svg>")
    return ("\n".join(out) + "\n").encode("utf-8")


def render_pdf(graph: Graph, w: int = 432, h: int = 314) -> bytes:
    """A one-page PDF (points, 6×4.36 in) with a correct xref table."""
    p = _Plot(graph, w, h)
    ops = [
        "0.918 0.949 0.953 rg",
        f"{p.left} {h - p.bottom} {p.right - p.left} {p.bottom - p.top} re f",
    ]
    for k, s in enumerate(graph.series):
        ops.append("0.102 0.278 0.435 rg" if k % 2 == 0 else "0.565 0.208 0.231 rg")
        for x, y in zip(s.xs, s.ys, strict=True):
            ops.append(f"{p.px(x) - 2} {h - p.py(y) - 2} 4 4 re f")
    ops += ["0 0 0 RG", f"{p.left} {h - p.bottom} m {p.right} {h - p.bottom} l S"]
    stream = "\n".join(ops).encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w} {h}] /Contents 4 0 R >>".encode(),
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


RENDERERS = {"png": render_png, "svg": render_svg, "pdf": render_pdf}
