"""Pooled findings in plain words (English and Dutch), their uncertainty stated."""

from __future__ import annotations

from proeftuin.report import facts
from proeftuin.report.estimates import DESIGN_NAMES
from proeftuin.report.results import Rows
from proeftuin.report.tables import fmt_ci, fmt_est, shared_decimals, to_float

DESIGN_NAMES_NL = {
    "did": "verschil-in-verschillen",
    "did_region": "verschil-in-verschillen",
    "its": "onderbroken tijdreeks",
    "its_region": "onderbroken tijdreeks",
}


def finding_sentence(row: dict[str, str], dutch: bool = False) -> str:
    """One pooled estimate in plain words, its uncertainty stated (formatting only)."""
    info = facts.outcome_info(row.get("outcome", ""))
    names = DESIGN_NAMES_NL if dutch else DESIGN_NAMES
    design = names.get(row.get("design", ""), row.get("design", ""))
    unit = f" {info['unit']}" if info["unit"] else ""
    est, low, high = (to_float(row.get(k)) for k in ("estimate", "ci_low", "ci_high"))
    k = row.get("k", "?")
    if est is None or low is None or high is None:
        return f"- **{info['label']}** ({design}): " + (
            "geen schatting." if dutch else "no estimate."
        )
    digits = shared_decimals([row])
    head = f"- **{info['label']}** ({design}, {k} {'regio’s' if dutch else 'sites'}): "
    head += f"{fmt_est(est, digits)}{unit} (95%{'-BI' if dutch else ' CI'} "
    head += f"{fmt_ci(low, high, digits)}). "
    if dutch:
        return head + _plain_nl(low, high, unit, digits)
    return head + _plain_en(low, high, unit, row, digits)


def _plain_en(low: float, high: float, unit: str, row: dict[str, str], digits: int) -> str:
    if low > 0 or high < 0:
        side = "above" if low > 0 else "below"
        text = (
            f"The whole interval lies {side} zero: the Pioneer sites moved "
            f"{'up' if low > 0 else 'down'} relative to comparable regions, by an amount "
            "anywhere in that interval."
        )
    else:
        text = (
            f"The interval includes zero: the data cannot tell a fall of up to "
            f"{fmt_est(abs(low), digits)}{unit} from a rise of up to "
            f"{fmt_est(high, digits)}{unit}."
        )
    i2 = to_float(row.get("i2"))
    if i2 is not None and (i2 if i2 > 1 else i2 * 100) >= 50:
        text += " The sites differ markedly (I² ≥ 50%), so the pooled figure hides real variation."
    return text


def _plain_nl(low: float, high: float, unit: str, digits: int) -> str:
    if low > 0 or high < 0:
        side = "boven" if low > 0 else "onder"
        return (
            f"Het hele interval ligt {side} nul: de proeftuinen gingen "
            f"{'omhoog' if low > 0 else 'omlaag'} ten opzichte van vergelijkbare regio’s."
        )
    return (
        f"Het interval bevat nul: de gegevens onderscheiden een daling tot "
        f"{fmt_est(abs(low), digits)}{unit} niet van een stijging tot "
        f"{fmt_est(high, digits)}{unit}."
    )


def findings(rows: Rows, dutch: bool) -> str:
    """Every pooled estimate as a bullet, or a note that there are none yet."""
    if not rows:
        return (
            "_Nog geen gepoolde resultaten: voer eerst `proeftuin run` uit._\n"
            if dutch
            else "_No pooled results yet: run `proeftuin run` first._\n"
        )
    return "\n".join(finding_sentence(r, dutch) for r in rows) + "\n"
