"""A fake of Stata's pystata package, as shipped in `<stata>/utilities/pystata`.

Importing the package only loads `config`; `pystata.stata` needs `config.init()` first.
"""

from __future__ import annotations

from pystata import config  # noqa: F401
from pystata.version import version as __version__  # noqa: F401

__author__ = "StataCorp LLC"
