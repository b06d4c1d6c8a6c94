"""Is it the region rather than the programme? The sites of one COROP area estimated
together against a common regional shock, with the table and the sentence the report prints.

The sites whose municipalities lie (by majority) in the same COROP area as the site, the
area's other municipalities (for South Limburg: the Westelijke Mijnstreek, home of the
Anders Beter initiative, which is why no control pool holds them) and the site's control
pool enter one weighted two-way fixed-effects regression (municipality and year effects,
insured-year weights, as the site's DiD), with a treatment term per site and:

- ``joint``: nothing else, without the area's other municipalities (the sites' effects
  against their controls, fitted together);
- ``shared_shift``: a term for the whole area from the first start year of its sites (e.g.
  South Limburg after 2013), identified by the area's municipalities outside the sites;
- ``area_trend``: a linear trend of the whole area over all years, identified by the
  pre-period and the area's other municipalities.

A site effect that survives the area term is not a shift common to the whole area; one
that vanishes is. Standard errors are CRV1 by municipality: with a handful of treated
municipalities they are too small, and the rows say so.
"""

from __future__ import annotations

import warnings

import pandas as pd

from proeftuin.designs.comparison import DesignInputs

MODELS = ("joint", "shared_shift", "area_trend")
REGIONAL_COLUMNS = [
    "area",
    "model",
    "term",
    "site",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "p_value",
    "n_units",
    "n_area_other",
    "note",
]
AREA_TERM = {"shared_shift": "area_post", "area_trend": "area_trend"}
CAVEAT = "CRV1 by municipality; too small an interval with few treated municipalities"


def area_of(inputs: DesignInputs, codes: list[str]) -> str:
    """The COROP area holding most of ``codes``."""
    cov = inputs.covariates.set_index("municipality")["corop_region"]
    return str(cov.reindex(codes).mode().iloc[0])


def regional_checks(
    inputs: DesignInputs,
    site: str,
    outcome: str,
    *,
    controls: list[str],
    first_year: int,
    last_year: int,
) -> pd.DataFrame:
    """Every model of the module doc for the sites of ``site``'s COROP area, one row per
    term; ``controls`` is the site's control pool (its design's)."""
    reg = inputs.registry
    area = area_of(inputs, reg.sites[site].municipalities)
    sites = [s for s, e in reg.sites.items() if area_of(inputs, e.municipalities) == area]
    cov = inputs.covariates
    in_area = set(cov.loc[cov["corop_region"] == area, "municipality"])
    treated = {s: set(reg.sites[s].municipalities) for s in sites}
    other = in_area - set().union(*treated.values())
    keep = (in_area | set().union(*treated.values()) | set(controls)) - set(
        m for s, e in reg.sites.items() if s not in sites for m in e.municipalities
    )
    panel = inputs.panel
    rows = panel[(panel["outcome"] == outcome) & panel["year"].between(first_year, last_year)]
    frame = rows[rows["municipality"].isin(keep)].dropna(subset=["value"]).copy()
    start = min(reg.sites[s].start_year for s in sites)
    area_member = frame["municipality"].isin(in_area | set().union(*treated.values()))
    terms = {}
    for s in sites:
        col = "d_" + s.replace("-", "_")
        frame[col] = (
            frame["municipality"].isin(treated[s]) & (frame["year"] >= reg.sites[s].start_year)
        ).astype(float)
        terms[col] = s
    frame["area_post"] = (area_member & (frame["year"] >= start)).astype(float)
    frame["area_trend"] = area_member.astype(float) * (frame["year"] - first_year)
    out = []
    for model in MODELS:
        extra = AREA_TERM.get(model)
        if extra and not other:
            out.append(
                {
                    "model": model,
                    "term": extra,
                    "note": "not identified: the area has no municipality outside its sites",
                }
            )
            continue
        # the joint model keeps the site designs' controls (the area's others are not)
        data = frame if extra else frame[~frame["municipality"].isin(other - set(controls))]
        out += _fit(data, [*terms, *([extra] if extra else [])], terms, model)
    table = pd.DataFrame(out).assign(area=area, n_area_other=len(other))
    return table.reindex(columns=REGIONAL_COLUMNS)


def _fit(frame: pd.DataFrame, rhs: list[str], terms: dict[str, str], model: str) -> list[dict]:
    import pyfixest as pf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols(
            f"value ~ {' + '.join(rhs)} | municipality + year",
            data=frame,
            weights="weight",
            vcov={"CRV1": "municipality"},
        )
    tidy = fit.tidy()
    rows = []
    for term in rhs:
        if term not in tidy.index:
            rows.append(
                {
                    "model": model,
                    "term": term,
                    "site": terms.get(term, ""),
                    "note": "collinear: not identified",
                }
            )
            continue
        r = tidy.loc[term]
        rows.append(
            {
                "model": model,
                "term": term,
                "site": terms.get(term, ""),
                "estimate": float(r["Estimate"]),
                "se": float(r["Std. Error"]),
                "ci_low": float(r["2.5%"]),
                "ci_high": float(r["97.5%"]),
                "p_value": float(r["Pr(>|t|)"]),
                "n_units": int(frame["municipality"].nunique()),
                "note": CAVEAT,
            }
        )
    return rows


def regional_sentence(table: pd.DataFrame, names: dict[str, str]) -> str:
    """What the area models say about each site's effect, in one sentence."""
    est = table.dropna(subset=["estimate"])
    if est.empty:
        return "The regional-shock models could not be estimated."
    area_rows = est[est["term"].isin(AREA_TERM.values())]
    bits = []
    for site, rows in est[est["site"].astype(bool)].groupby("site", sort=False):
        by = rows.set_index("model")["estimate"]
        shown = ", ".join(f"{m.replace('_', ' ')} {by[m]:+.0f}" for m in MODELS if m in by)
        bits.append(f"{names.get(site, site)}: {shown}")
    shift = area_rows[area_rows["model"] == "shared_shift"]
    common = (
        (
            f"; the common area shift itself is {shift['estimate'].iloc[0]:+.0f} EUR "
            f"(95% CI {shift['ci_low'].iloc[0]:+.0f} to {shift['ci_high'].iloc[0]:+.0f}, "
            "CRV1)"
        )
        if len(shift)
        else ""
    )
    return (
        "Estimated together with a term shared by the whole COROP area, the site effects on "
        f"basket cost (EUR per insured-year) are {'; '.join(bits)}{common}."
    )
