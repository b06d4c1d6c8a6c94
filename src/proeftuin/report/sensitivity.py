"""Sensitivity to violations of parallel trends (HonestDiD) for readers, from each site's
``did_sensitivity.csv``: the site page's compact table (outcome, conventional 95% interval,
robust interval at M̄ = 1, breakdown M̄) with the facts its sentences need, and the methods
page's facts of the run (target, grids, rules), read from the same files. The words are in
the templates (``site.qmd.j2``, ``sensitivity.md.j2``); nothing is recomputed here.
"""

from __future__ import annotations

from typing import Any

from proeftuin.report import inputs
from proeftuin.report import tables as tb
from proeftuin.report.estimates import by_key
from proeftuin.report.inputs import Rows, outcome_label

#: The relative-magnitudes bound whose robust interval the site page shows.
SHOWN_MBAR = 1.0
RM, SD, INF = "relative_magnitudes", "smoothness", float("inf")


def breakdown(row: dict[str, str]) -> str:
    """The breakdown M̄ for a reader: two decimals, "> M̄max" when beyond the grid."""
    value = tb.to_float(row.get("breakdown_mbar"), infinite=True)
    return f"> {tb.fmt_sig(row.get('mbar_max'))}" if value == INF else tb.fmt_est(value, 2)


def site_sensitivity(found: Rows, label: str) -> dict[str, Any]:
    """The site page's table, one fact per computed outcome for its sentence, and the
    outcomes the page shows without a sensitivity analysis, with the reason."""
    body, facts, missing, wide = [], [], [], False
    for outcome, rows in by_key(found, "outcome").items():
        at = {(r.get("restriction"), tb.to_float(r.get("m"))): r for r in rows}
        if (conventional := at.get(("conventional", None))) is None:
            why = (rows[0].get("note") or "").removeprefix("not computed: ")
            missing += [] if why.startswith("the site page shows only") else [(outcome, why)]
            continue
        robust, digits = at.get((RM, SHOWN_MBAR), {}), tb.shared_decimals([conventional])
        is_open = robust.get("open") == "True"
        wide, value = wide or is_open, tb.to_float(conventional["breakdown_mbar"], infinite=True)
        shown = tb.fmt_ci(robust.get("ci_low"), robust.get("ci_high"), digits) + " *" * is_open
        body.append([outcome_label(outcome),
                     tb.fmt_ci(conventional["ci_low"], conventional["ci_high"], digits), shown,
                     breakdown(conventional)])  # fmt: skip
        facts.append({"outcome": outcome, "breakdown": breakdown(conventional),
                      "zero": value == 0, "beyond": value == INF})  # fmt: skip
    target = next((r["target"] for r in found if r.get("target")), "")
    header = ["Outcome", "Conventional 95% CI", f"Robust 95% CI, M̄ = {SHOWN_MBAR:g}",
              "Breakdown M̄"]  # fmt: skip
    notes = ["*: the robust interval reaches the end of its test grid (±20 SE): at least this "
             "wide."] * wide  # fmt: skip
    caption = f"Sensitivity of the {target} to violations of parallel trends (relative magnitudes)"
    table = tb.Table(header, body, caption, label, notes, {1, 2, 3}).markdown()
    return {"table": table, "facts": facts, "missing": missing, "target": target}


def run_facts() -> dict[str, Any]:
    """The settings this run used, from every site's ``did_sensitivity.csv``: the target, the
    M̄ grid, the M multiples, the breakdown tolerance and the fewest pre-period years."""
    found = [r for s in inputs.sites() for r in inputs.rows(s, "did_sensitivity.csv")]
    if not (done := [r for r in found if r.get("restriction")]):
        return {}
    # M̄ as it is; M in multiples of its unit (the mean SE of a pre-period yearly change)
    ratio: dict[str, set[float]] = {RM: set(), SD: set()}
    for r in done:
        m, unit = tb.to_float(r["m"]) or 0, tb.to_float(r["m_unit"]) or 1
        ratio.get(r["restriction"], set()).add(m / unit)
    grid = {kind: sorted(values) for kind, values in ratio.items()}
    return {"target": done[0]["target"], "tol": tb.fmt_sig(done[0].get("breakdown_tol")),
            "mbar": [tb.fmt_sig(m) for m in grid[RM]], "m": [tb.fmt_sig(m) for m in grid[SD]],
            "min_pre": tb.fmt_int(done[0].get("min_pre")),
            "outcomes": list(dict.fromkeys(outcome_label(r["outcome"]) for r in done))}  # fmt: skip
