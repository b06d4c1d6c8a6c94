"""The site page leads with the designs side by side and shows the synthetic-control
estimates; the scorecard says what a null finding could have detected. Fixture results only
(see tests/test_report.py's ``project``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from proeftuin import report
from test_report import FIXTURES, project  # noqa: F401  (the fixture)


def _add_results(root: Path) -> None:
    results = root / "reports" / "results"
    pd.DataFrame(
        [{"site": "site-a", "outcome": "cost_basket_std", "design": d, "variant": v,
          "role": r, "estimate": e, "ci_low": e - 50, "ci_high": e + 50, "p_value": 0.4,
          "method": "ri", "mde": 140.0, "mde_pct": 7.0, "note": ""}
         for d, v, r, e in (("did", "all", "pooled", 93.0), ("did", "province", "sensitivity",
                            57.0), ("sdid", "", "sensitivity", 81.5))]
    ).to_csv(results / "synthesis" / "designs.csv", index=False)  # fmt: skip
    shutil.copy(FIXTURES / "results" / "synthesis" / "fig-forest.png",
                results / "synthesis" / "fig-designs-site-a.png")  # fmt: skip
    pd.DataFrame(
        [{"site": "site-a", "design": "synth", "outcome": "cost_basket_std",
          "estimator": "sdid", "method": "ri", "estimate": 81.5, "ci_low": 31.5,
          "ci_high": 131.5, "p_value": 0.04, "pre_rmspe": 3.25, "mde": 140.0, "mde_pct": 7.0,
          "note": "sampled placebo assignments"}]
    ).to_csv(results / "site-a" / "synth_estimates.csv", index=False)  # fmt: skip
    card = pd.read_csv(results / "synthesis" / "scorecard.csv")
    card["detectable"] = "too noisy to say: only effects of 140 (7.0%) or more were detectable"
    card.to_csv(results / "synthesis" / "scorecard.csv", index=False)


def test_site_page_leads_with_the_designs_and_shows_synth(project: Path) -> None:  # noqa: F811
    _add_results(project)
    pages = report.generate_pages()
    text = (project / "reports" / "sites" / "site-a.qmd").read_text()
    lead = text.index("## The designs side by side")
    assert lead < text.index("## The site and its municipalities")
    assert "(../results/synthesis/fig-designs-site-a.png){#fig-designs-site-a}" in text
    assert "| cost basket std (€ per insured-year) | synthetic DiD | – | sensitivity |" in text
    assert "–: in Variant: only difference-in-differences has control-pool variants" in text
    synth = text[text.index("## Synthetic control and synthetic DiD") :]
    assert "| synthetic DiD | RI | 81.5 | 32 to 132 | 0.040 | 3.25 | 140 | 7% |" in synth
    other = (project / "reports" / "sites" / "site-b.qmd").read_text()
    assert "No designs-side-by-side figure: the synthesis drew none for this site" in other
    assert "No synthetic-control estimates for this site." in other
    scorecard = (project / "reports" / "_generated" / "scorecard.md").read_text()
    assert "What it could detect" in scorecard and "too noisy to say: only effects of 140" in (
        scorecard
    )
    assert report.validate_pages(pages) == []


def test_site_page_names_the_largest_donors(project: Path) -> None:  # noqa: F811
    _add_results(project)
    weights = [
        {"site": "site-a", "outcome": "cost_basket_std", "estimator": "sc", "kind": "unit",
         "municipality": f"GM{i:04d}", "name": f"Town {i}", "year": "", "weight": w}
        for i, w in enumerate([0.05, 0.5, 0.3, 0.0, 0.1, 0.02, 0.03], start=1)
    ] + [{"site": "site-a", "outcome": "cost_basket_std", "estimator": "sc", "kind": "time",
          "municipality": "", "name": "", "year": 2012, "weight": 1.0}]  # fmt: skip
    results = project / "reports" / "results" / "site-a"
    pd.DataFrame(weights).to_csv(results / "synth_weights.csv", index=False)
    report.generate_pages()
    text = (project / "reports" / "sites" / "site-a.qmd").read_text()
    donors = text[text.index("{#tbl-site-a-synth ") : text.index("## Robustness")]
    lines = [line for line in donors.splitlines() if "| synthetic control |" in line]
    shown = [line.split("|")[3].strip() for line in lines]
    assert shown == ["Town 2", "Town 3", "Town 5", "Town 1", "Town 7"]  # five largest, by weight
    assert "GM0002" not in donors and "{#tbl-site-a-donors" in donors
