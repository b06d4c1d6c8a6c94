"""A site page's synthetic-control section and its designs-side-by-side lead, from results
files only: the synthesis's per-site figure (``synthesis/fig-designs-<site>.png``) and
table (``synthesis/designs.csv``), and the site's ``synth_estimates.csv``."""

from __future__ import annotations

import os
from pathlib import Path

from proeftuin.report import inputs
from proeftuin.report.estimates import generic_table
from proeftuin.report.inputs import rows
from proeftuin.report.tables import missing_note

SYNTH_FIGURES = ("fig-synth", "fig-synth-placebo")
HINT = "Run `proeftuin run` (the synthesis draws it), then `proeftuin report`."
CAPTION = (
    "Every design's estimate with its 95% interval per headline outcome; black: the design "
    "the synthesis pools, orange: sensitivity"
)
TOP_DONORS = 5  # largest unit weights shown per outcome and estimator
SYNTH_COLUMNS = ("outcome", "estimator", "method", "estimate", "ci_low", "ci_high", "p_value",
                 "pre_rmspe", "mde", "mde_pct", "note")  # fmt: skip


def synth_context(site_id: str, page_dir: Path, pdf: bool, figures: list[str]) -> dict[str, object]:
    """The template's keys: designs figure and table, synth figures and estimates table."""
    label = f"fig-designs-{site_id}"
    saved = inputs.figure_file(inputs.SYNTHESIS, label)
    found = [r for r in rows(inputs.SYNTHESIS, "designs.csv") if r.get("site") == site_id]
    image = Path(os.path.relpath(saved, page_dir)).as_posix()
    designs = [{k: v for k, v in r.items() if k != "site"} for r in found]
    estimates = [
        {k: r.get(k, "") for k in SYNTH_COLUMNS} for r in rows(site_id, "synth_estimates.csv")
    ]
    donors = [r for r in rows(site_id, "synth_weights.csv") if r.get("kind") == "unit"]
    donors.sort(key=lambda r: (r["outcome"], r["estimator"], -float(r["weight"] or 0)))
    ranks: dict[tuple[str, str], int] = {}
    top = []
    for r in donors:
        key = (r["outcome"], r["estimator"])
        ranks[key] = ranks.get(key, 0) + 1
        if ranks[key] <= TOP_DONORS:
            top.append({k: r[k] for k in ("outcome", "estimator", "name", "weight")})
    return {
        "synth_donors": generic_table(
            top,
            f"The {TOP_DONORS} donor municipalities with the largest weights per outcome and "
            "estimator (all weights in synth_weights.csv)",
            f"tbl-{site_id}-donors",
        ),
        "designs_figure": f"![{CAPTION}]({image}){{#{label}}}\n"
        if saved.is_file()
        else missing_note("The designs-side-by-side figure is not available.", HINT),
        "designs_table": generic_table(
            designs, "The designs side by side", f"tbl-{site_id}-designs"
        ),
        "synth_figures": figures,
        "synth_table": generic_table(
            estimates,
            "Synthetic DiD and synthetic control estimates (RI: randomization "
            "inference over placebo sites within the COROP area)",
            f"tbl-{site_id}-synth",
        )
        or missing_note("No synthetic-control estimates.", HINT),
    }
