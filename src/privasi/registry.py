"""Importing the modules named in the registries (routers, commands, job handlers, tables).

The registries list modules by name so that a feature is wired in one line. A name whose module
(or package) does not exist yet is skipped; an import error raised inside an existing module is a
bug and propagates.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def import_if_present(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (name == missing or name.startswith(missing + ".")):
            return None
        raise
