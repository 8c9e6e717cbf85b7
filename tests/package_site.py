"""A package site for install tests: SSC's layout in a folder, served over loopback HTTP."""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path


def make_package(site: Path, name: str, says: str = "hello", *, letter_folder: bool = True) -> Path:
    """`name`.pkg with its ado-file (a program that displays `says`), a help file, a helper
    ado starting with `_`, and an ancillary .dta that net install leaves out; its folder."""
    folder = site / name[0].lower() if letter_folder else site
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.pkg").write_text(
        "v 3\n"
        f"d '{name.upper()}': module to say {says}\n"
        "d Distribution-Date: 20261204\n"
        f"f {name}.ado\nf {name}.sthlp\nf _{name}_util.ado\nf {name}_example.dta\n",
        encoding="utf-8",
    )
    (folder / f"{name}.ado").write_text(
        f'program define {name}\n    display "{says} from {name}"\nend\n', encoding="utf-8"
    )
    (folder / f"{name}.sthlp").write_text(f"{{smcl}}\n{{title:{name}}}\n", encoding="utf-8")
    (folder / f"_{name}_util.ado").write_text("* a helper\n", encoding="utf-8")
    (folder / f"{name}_example.dta").write_bytes(b"not installed by net install")
    return folder


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve `folder` on 127.0.0.1 at a free port; the base URL, ending in '/'."""
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
