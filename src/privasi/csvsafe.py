"""Cells for CSV files that people open in spreadsheet programs.

A cell starting with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which some programs
skip before reading one of those) is taken as a formula: a data subject's name, a browser's
user-agent or a record from another system could then run a formula on the reader's machine. Such
cells get a leading ``'``, which spreadsheets read as "this is text" (OWASP's advice). Machine
copies (``data.json``) keep the raw values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """The value as a spreadsheet should show it: strings that would start a formula get a ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def row(values: Mapping[str, Any]) -> dict[str, Any]:
    """A ``csv.DictWriter`` row with every cell made safe."""
    return {key: cell(value) for key, value in values.items()}
