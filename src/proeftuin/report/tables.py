"""Formatting for readers: numbers, p-values, intervals, and tables as Quarto pipe tables.

A column spec is a list of ``(header, column, format)``; a format names a function of a
result row (and the decimals its uncertainty allows) in :data:`FORMATS`. A table wider than
six columns carries print widths (``tbl-colwidths``), and every dash in it is explained in
a note below it. Nothing here reads files or knows what a result means.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

MISSING, MINUS, UNBOUNDED = "–", "−", "unbounded"
#: Characters of table text (9 pt) across the PDF's text width (A4, 2 cm margins; ~115 of
#: 10 pt body text measured on the real render), and the characters a cell's padding takes;
#: a symbol (●, ▲) counts as two characters. A word breaks only at spaces and after hyphens.
PRINT_CHARS, PAD, WIDE_GLYPHS = 100, 2, "●○◐▲▼◆✓✗"
WORD_BREAK = re.compile(r"\s+|(?<=-)")
NO_VALUE = "no value in the results file (the task wrote none for this cell)"
Row = dict[str, Any]


def to_float(value: Any, *, infinite: bool = False) -> float | None:
    """A finite number (or, with ``infinite``, also ±inf), ``None`` for blanks and text."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) or (infinite and math.isinf(number)) else None


def _number(value: Any, show: Callable[[float], str]) -> str:
    number = to_float(value)
    return MISSING if number is None else show(number).replace("-", MINUS)


def fmt_num(value: Any) -> str:
    """A number on its own (run times): digits by magnitude, a dash when missing."""
    return _number(value, lambda n: f"{n:,.{0 if abs(n) >= 100 else 2 if abs(n) >= 1 else 3}f}")


def fmt_int(value: Any) -> str:
    """A count (``326.0`` in a CSV reads ``326``)."""
    return _number(value, lambda n: f"{n:,.0f}")


def fmt_p(value: Any) -> str:
    """A p-value: three decimals, ``< 0.001`` below that."""
    return _number(value, lambda n: "< 0.001" if n < 0.001 else f"{n:.3f}")


def fmt_p_mc(value: Any, mcse: Any) -> str:
    """A randomization p-value with ", exact" (Monte Carlo error 0) or " ± its error"."""
    error = to_float(mcse)
    if error is None or to_float(value) is None:
        return fmt_p(value)
    return fmt_p(value) + (f" ± {error:.3f}" if error else ", exact")


def fmt_pct(value: Any) -> str:
    """A share (0–1 or 0–100) as a whole percentage."""
    return _number(value, lambda n: f"{n * 100:.0f}%" if n <= 1 else f"{n:.0f}%")


def fmt_est(value: Any, decimals: int) -> str:
    """An estimate with a fixed number of decimals (no ``−0.0``)."""
    return _number(value, lambda n: f"{0.0 if round(n, decimals) == 0 else n:,.{decimals}f}")


def fmt_sig(value: Any, digits: int = 3) -> str:
    """A number to at most ``digits`` significant digits (published values, tolerances)."""
    if not (number := to_float(value)):
        return MISSING if number is None else "0"
    text = f"{number:,.{min(max(0, digits - 1 - math.floor(math.log10(abs(number)))), 6)}f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text).replace("-", MINUS)


def fmt_ci(low: Any, high: Any, decimals: int) -> str:
    """A 95% interval ``low to high``; ``unbounded`` when a bound is infinite (the table's
    note says why), a dash when a bound is missing."""
    bounds = [to_float(b, infinite=True) for b in (low, high)]
    if None in bounds:
        return MISSING
    if any(math.isinf(b or 0) for b in bounds):
        return UNBOUNDED
    return f"{fmt_est(low, decimals)} to {fmt_est(high, decimals)}"


def est_ci(row: Row, digits: int) -> str:
    """``estimate (low to high)`` in one cell."""
    ci = fmt_ci(row.get("ci_low"), row.get("ci_high"), digits)
    estimate = fmt_est(row.get("estimate"), digits)
    return estimate if MISSING in (ci, estimate) else f"{estimate} ({ci})"


def shared_decimals(rows: Iterable[Row], default: int = 2) -> int:
    """One number of decimals for rows shown together: two significant digits of their
    smallest uncertainty (standard error, else 95% CI width / 3.92), 0 to 3."""
    spreads = []
    for r in rows:
        se, low, high = (to_float(r.get(k)) for k in ("se", "ci_low", "ci_high"))
        ci = (high - low) / 3.92 if low is not None and high is not None else None
        spreads.append(se if se and se > 0 else ci)
    spreads = [s for s in spreads if s is not None and s > 0]
    return max(0, min(3, 1 - math.floor(math.log10(min(spreads))))) if spreads else default


# (row, column, decimals) -> cell; all but text are right-aligned
FORMATS: dict[str, Callable[[Row, str, int], str]] = {
    "text": lambda r, k, d: str(r.get(k, "")),
    "est": lambda r, k, d: fmt_est(r.get(k), d),
    "ci": lambda r, k, d: fmt_ci(r.get("ci_low"), r.get("ci_high"), d),
    "est_ci": lambda r, k, d: est_ci(r, d),
    "p": lambda r, k, d: fmt_p(r.get(k)),
    "p_mc": lambda r, k, d: fmt_p_mc(r.get(k), r.get(f"{k}_mcse")),
    "num": lambda r, k, d: fmt_num(r.get(k)),
    "int": lambda r, k, d: fmt_int(r.get(k)),
    "pct": lambda r, k, d: fmt_pct(r.get(k)),
    "sig2": lambda r, k, d: fmt_sig(r.get(k), 2),
    "sig4": lambda r, k, d: fmt_sig(r.get(k), 4),
}  # fmt: skip


@dataclass
class Table:
    """A table of plain-text cells with a caption, a Quarto label and notes below it;
    ``missing`` says why a cell shows a dash (an empty cell is shown as one)."""

    header: list[str]
    rows: list[list[str]]
    caption: str = ""
    label: str = ""
    notes: list[str] = field(default_factory=list)
    numeric: set[int] = field(default_factory=set)
    missing: str = NO_VALUE

    def markdown(self) -> str:
        """A pipe table (numeric columns right-aligned), its caption line with the label and
        print widths from its content (:func:`print_widths`); dashes explained."""
        if not self.rows:
            return ""
        body = [[str(c or "").strip() or MISSING for c in row] for row in self.rows]
        align = ["---:" if i in self.numeric else ":---" for i in range(len(self.header))]
        lines = [_md_row(self.header), "|" + "|".join(align) + "|", *map(_md_row, body), ""]
        attrs = [f"#{self.label}"] * bool(self.label)
        attrs.append(f'tbl-colwidths="[{",".join(map(str, print_widths([self.header, *body])))}]"')
        lines.append(f": {self.caption or 'Results'}" + f" {{{' '.join(attrs)}}}" * bool(attrs))
        notes, cells = list(self.notes), [c for row in body for c in row]
        if any(MISSING in c.split() for c in cells) and not any(n[:1] == MISSING for n in notes):
            notes.append(f"{MISSING}: {self.missing}.")
        if any(UNBOUNDED in c for c in cells):
            notes.append(f"{UNBOUNDED}: the 95% interval does not close with so few treated "
                         "municipalities (every effect size is compatible).")  # fmt: skip
        lines += ["", "::: {.table-notes}", *[f"{n}  " for n in notes], ":::"] * bool(notes)
        return "\n".join(lines) + "\n"


def table(spec: Sequence[Sequence[str]], rows: Iterable[Row], caption: str = "", label: str = "",
          formats: dict[str, Callable[[Row, str, int], str]] | None = None,
          notes: Sequence[str] = (), missing: str = NO_VALUE) -> Table:  # fmt: skip
    """A table from a column spec; each row's numbers to the decimals its uncertainty allows.
    ``formats`` adds formats that need context (an outcome's label, a site's name)."""
    found = {**FORMATS, **(formats or {})}
    body = [[found[f](r, key, shared_decimals([r])) for _, key, f in spec] for r in rows]
    numeric = {i for i, (_, _, f) in enumerate(spec) if f in FORMATS and f != "text"}
    return Table([h for h, _, _ in spec], body, caption, label, list(notes), numeric, missing)


def print_length(text: str) -> int:
    """The printed length of a text in characters, symbols counted twice."""
    return len(text) + sum(text.count(g) for g in WIDE_GLYPHS)


def print_widths(rows: Sequence[Sequence[str]]) -> list[int]:
    """Column widths in percent of the text width, from content: every column at least as
    wide as its longest unbreakable word (so nothing overprints or breaks mid-word), the
    width left shared by how much longer each column's longest cell is."""
    cols = list(zip(*rows, strict=True))
    words = [max(print_length(w) for c in col for w in WORD_BREAK.split(c)) + PAD for col in cols]
    wants = [max(max(map(print_length, col)) + PAD, w) for col, w in zip(cols, words, strict=True)]
    spare, extra = max(PRINT_CHARS - sum(words), 0), sum(wants) - sum(words)
    fill = min(1.0, spare / extra) if extra else 0.0
    width = [w + (x - w) * fill for w, x in zip(words, wants, strict=True)]
    shares = [math.floor(100 * w / sum(width)) for w in width]
    shares[width.index(max(width))] += 100 - sum(shares)
    return shares


def _md_row(cells: Iterable[Any]) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"
