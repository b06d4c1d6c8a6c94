"""A site page's section on why its cost estimate is what it is: where the effect sits (the
decomposition by care category and age band), whether it is the region rather than the
programme (the regional models and the robustness checks on other initiatives, contested
municipalities and nearby placebo sites), and what others reported (published claims,
each with its source, beside our estimate). Read from the site's results files
(``decomposition.csv``, ``regional.csv``, ``robustness.csv``, ``statements.csv``) and the
facts snapshot's claims; words in ``reports/templates/why.md.j2``."""

from __future__ import annotations

from proeftuin.designs.headline import INTERVAL_PREFERENCE
from proeftuin.pipeline.facts import SiteFacts
from proeftuin.report import estimates as est
from proeftuin.report.inputs import rows

TOTAL = "cost_basket_std"
NEW_CHECKS = ("initiatives", "contested", "nearby_placebo")
DECOMPOSITION_KEYS = ("kind", "part", "estimate", "ci_low", "ci_high", "p_value", "share")
REGIONAL_KEYS = ("model", "term", "site", "estimate", "ci_low", "ci_high", "p_value", "note")


def why_section(site: SiteFacts, decomposition_figure: str) -> str:
    """The section's markdown ("" when the site has none of these results yet)."""
    site_id = site.id
    parts = rows(site_id, "decomposition.csv")
    regional = rows(site_id, "regional.csv")
    checks = [r for r in rows(site_id, "robustness.csv")
              if r.get("outcome") == TOTAL and (r.get("check") in NEW_CHECKS
                                                or r.get("variant") == "province")]  # fmt: skip
    statements = {r["key"]: r["text"] for r in rows(site_id, "statements.csv")}
    did = [r for r in rows(site_id, "did_estimates.csv") if r.get("outcome") == TOTAL]
    main = [r for m in INTERVAL_PREFERENCE for r in did if r.get("method") == m and r["ci_low"]]
    claims = [{"claim": c.claim_or_evaluation, "target": c.target, "finding": c.finding,
               "population": c.population, "period": c.period,
               "source": f"<{c.source_url}>"} for c in site.claims]  # fmt: skip
    if not (parts or regional or checks or claims):
        return ""
    keep = lambda rs, keys: [{k: r.get(k, "") for k in keys} for r in rs]  # noqa: E731
    return est.render(
        "why.md.j2", site=site, site_id=site_id, statements=statements,
        main=main[0] if main else {}, figure=decomposition_figure,
        parts=est.generic_table(keep(parts, DECOMPOSITION_KEYS),
                                "Where the basket-cost effect sits: each part's estimate "
                                "(the parts add up to the basket)", f"tbl-{site_id}-parts"),
        regional=est.generic_table(keep(regional, REGIONAL_KEYS),
                                   "The sites of the area against a common regional shock",
                                   f"tbl-{site_id}-regional"),
        checks=est.generic_table(keep(checks, ("check", "variant", "estimate", "ci_low",
                                               "ci_high", "p_value")),
                                 "Other initiatives, contested municipalities, own-province "
                                 "controls and nearby placebo sites (fixed-basket cost)",
                                 f"tbl-{site_id}-region-checks"),
        claims=est.generic_table(claims, "What others reported (each with its source)",
                                 f"tbl-{site_id}-claims"),
    )  # fmt: skip
