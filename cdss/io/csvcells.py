"""CSV cells that cannot run: every CSV cdss writes goes through `row()`.

A spreadsheet reads a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return as a formula
(CSV injection: `=HYPERLINK(...)`, `=cmd|' /C calc'!A0`). A case id or an error message in a batch's error
rows comes from the input as written, so a hostile case file could plant one. Such a cell gets a leading
apostrophe, which spreadsheets take as "text, not a formula" and do not show. A cell that already starts
with an apostrophe gets one more, so that `restore()` gives back what was written (`--resume` reads its
own CSV back).

A line break inside a cell would start a new spreadsheet row (Python's csv module leaves a bare carriage
return unquoted when lines end in \\n), and the new row's first cell could again be a formula; it would
also break the one-line-per-case layout that `--resume` relies on. So a cell never holds one: CR and LF
become a space. Cells are quoted as RFC 4180 says (a comma, a quote: the cell in quotes, quotes doubled).
"""

from __future__ import annotations

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NEEDS_QUOTES = (",", '"')


def neutralise(value) -> str:
    """One cell as text that no spreadsheet will evaluate, on one line."""
    text = "" if value is None else str(value)
    if text.startswith(TRIGGERS) or text.startswith("'"):
        text = "'" + text
    if "\r" in text or "\n" in text:
        text = text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")
    return text


def restore(text: str) -> str:
    """The cell's value as it was before `neutralise` (line breaks excepted)."""
    return text[1:] if text.startswith("'") else text


def _quoted(cell: str) -> str:
    if any(mark in cell for mark in _NEEDS_QUOTES):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def row(values) -> bytes:
    """One CSV line, ending in \\n, with every cell neutralised."""
    return (",".join(_quoted(neutralise(v)) for v in values) + "\n").encode()
