"""Formatting for readers: numbers, p-values, intervals, and tables as Markdown or HTML.

A :class:`Table` holds plain-text cells; it renders as a Quarto pipe table (with caption,
cross-reference label and notes) or as an HTML table for the previews. Nothing here reads
files or knows what a result means.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MISSING = "–"
MINUS = "−"


def to_float(value: Any) -> float | None:
    """A finite number, or ``None`` for blanks, text and NaN."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _signed(text: str) -> str:
    return text.replace("-", MINUS)


def fmt_num(value: Any) -> str:
    """A number on its own (run times, variances): digits by magnitude, a dash when missing."""
    number = to_float(value)
    if number is None:
        return MISSING
    size = abs(number)
    if size >= 100:
        return _signed(f"{number:,.0f}")
    return _signed(f"{number:.2f}" if size >= 1 else f"{number:.3f}")


def fmt_int(value: Any) -> str:
    """A count (``326.0`` in a CSV reads ``326``)."""
    number = to_float(value)
    return MISSING if number is None else f"{number:,.0f}"


def fmt_p(value: Any) -> str:
    """A p-value: three decimals, ``<0.001`` below that."""
    number = to_float(value)
    if number is None:
        return MISSING
    return "<0.001" if number < 0.001 else f"{number:.3f}"


def fmt_sig(value: Any, digits: int = 3) -> str:
    """A number to at most ``digits`` significant digits (published values, tolerances)."""
    number = to_float(value)
    if number is None:
        return MISSING
    if number == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(number))))
    text = f"{number:,.{min(decimals, 6)}f}"
    return _signed(text.rstrip("0").rstrip(".") if "." in text else text)


def decimals_for(spread: float | None, default: int = 2) -> int:
    """Decimals that show two significant digits of an uncertainty (0 to 3)."""
    if spread is None or spread <= 0:
        return default
    return max(0, min(3, 1 - math.floor(math.log10(spread))))


def spread_of(row: dict[str, Any]) -> float | None:
    """A result row's uncertainty: its standard error, else its 95% CI width / 3.92."""
    se = to_float(row.get("se"))
    if se is not None and se > 0:
        return se
    low, high = to_float(row.get("ci_low")), to_float(row.get("ci_high"))
    if low is None or high is None or high <= low:
        return None
    return (high - low) / 3.92


def shared_decimals(rows: Iterable[dict[str, Any]], default: int = 2) -> int:
    """One number of decimals for rows shown together (from their smallest uncertainty)."""
    spreads = [s for s in (spread_of(r) for r in rows) if s is not None]
    return decimals_for(min(spreads) if spreads else None, default)


def fmt_est(value: Any, decimals: int) -> str:
    """An estimate with a fixed number of decimals."""
    number = to_float(value)
    if number is None:
        return MISSING
    if round(number, decimals) == 0:
        number = 0.0  # no "−0.0"
    return _signed(f"{number:,.{decimals}f}")


def fmt_ci(low: Any, high: Any, decimals: int | None = None) -> str:
    """A 95% interval ``low to high`` (dash when either bound is missing)."""
    if to_float(low) is None or to_float(high) is None:
        return MISSING
    show = fmt_num if decimals is None else (lambda v: fmt_est(v, decimals))
    return f"{show(low)} to {show(high)}"


def fmt_pct(value: Any) -> str:
    """A share (0–1 or 0–100) as a whole percentage."""
    number = to_float(value)
    if number is None:
        return MISSING
    return f"{number * 100:.0f}%" if number <= 1 else f"{number:.0f}%"


@dataclass
class Table:
    """A table of plain-text cells with a caption, a Quarto label and notes below it."""

    header: list[str]
    rows: list[list[str]]
    caption: str = ""
    label: str = ""
    notes: list[str] = field(default_factory=list)
    numeric: set[int] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.rows)

    def markdown(self) -> str:
        """A pipe table; numeric columns right-aligned; caption line with the label."""
        if not self.rows:
            return ""
        align = ["---:" if i in self.numeric else ":---" for i in range(len(self.header))]
        lines = [_md_row(self.header), "|" + "|".join(align) + "|"]
        lines += [_md_row(row) for row in self.rows]
        if self.caption:
            suffix = f" {{#{self.label}}}" if self.label else ""
            lines += ["", f": {self.caption}{suffix}"]
        if self.notes:
            lines += ["", "::: {.table-notes}", *[f"{note}  " for note in self.notes], ":::"]
        return "\n".join(lines) + "\n"

    def html(self) -> str:
        """An HTML table in a wrapper that never widens the page."""
        if not self.rows:
            return ""
        head = "".join(
            f"<th{self._cls(i)}>{html.escape(h)}</th>" for i, h in enumerate(self.header)
        )
        body = "".join(
            "<tr>"
            + "".join(f"<td{self._cls(i)}>{html.escape(str(c))}</td>" for i, c in enumerate(row))
            + "</tr>"
            for row in self.rows
        )
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        notes = "".join(f"<p class='table-notes'>{html.escape(n)}</p>" for n in self.notes)
        table = f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        return f"<div class='table-wrap'>{table}{notes}</div>"

    def _cls(self, column: int) -> str:
        return " class='num'" if column in self.numeric else ""


def _md_row(cells: Iterable[Any]) -> str:
    return "| " + " | ".join(_md_cell(c) for c in cells) + " |"


def _md_cell(text: Any) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ").strip()


def md_table(header: list[str], rows: list[list[Any]], caption: str = "", label: str = "") -> str:
    """A Markdown pipe table, with a Quarto caption and cross-reference label."""
    return Table(header, [[str(c) for c in r] for r in rows], caption, label).markdown()


def missing_note(what: str, hint: str) -> str:
    """A Quarto callout saying what is not available and why."""
    return f'::: {{.callout-warning title="Not available"}}\n{what} {hint}\n:::\n'
