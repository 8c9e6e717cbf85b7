"""The version and where the documentation lives: one place for both, read by the build too."""

from __future__ import annotations

__version__ = "0.2.0"

HOMEPAGE = "https://github.com/stata-tools/stata-tools"


def docs_url(page: str) -> str:
    """A documentation page by URL, so a message points somewhere an installed wheel can reach."""
    return f"{HOMEPAGE}/blob/main/docs/{page}"
