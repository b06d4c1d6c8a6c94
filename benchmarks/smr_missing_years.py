"""Does the rule for the years without a municipal age structure drive the standardised ITS?

The panel's SMR series (``proeftuin.data.smr``) starts in 1999 and interpolates 2010 (the
age-structure index half-way between 2009 and 2011). Per site, outcome (``smr_all``,
``smr_cardiovascular``) and rule, this refits the site's controlled ITS with placebo sites
within COROP areas (the lead method, same draws and seed as the plan) and writes the
level and slope changes with their placebo p-values:

- ``1999-2019, 2010 interpolated``: the panel as built (the plan's analysis);
- ``2010 index = 2009's`` / ``2010 index = 2011's``: 2010's expected deaths from the
  age-structure index of one neighbouring year instead of their mean (the ITS refuses a
  gap, so 2010 cannot simply be left out: these two bound the interpolation);
- ``1996-2019, index carried back``: 1996-1998 added, each municipality's expected deaths
  being its 1999 age-structure index x its person-years x national deaths per person-year
  of that year (a sensitivity only: the index moves over three years).

The index here is relative to person-years (CBS 37259ned): I = (E / PY) / (sum E / sum PY).

    python benchmarks/smr_missing_years.py      # writes smr_missing_years.md
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from proeftuin.core import settings
from proeftuin.data import standardised as std
from proeftuin.designs.comparison import load_inputs, site_design
from proeftuin.estimators.its.placebo import estimate_its_placebo

OUT = Path(__file__).with_name("smr_missing_years.md")
OUTCOMES = ("smr_all", "smr_cardiovascular")


def from_index(panel: pd.DataFrame, cause: str, base: int, years: list[int]) -> pd.DataFrame:
    """municipality, year, observed, expected for ``years``: observed deaths and expected
    deaths from the ``base`` year's age-structure index (relative to person-years)."""
    names = {f"deaths_{cause}": "observed", "person_years": "pop"}
    names[f"smr_expected_{cause}"] = "expected"
    wide = panel[panel["outcome"].isin(list(names))].pivot_table(
        index=["municipality", "year"], columns="outcome", values="value"
    )
    wide = wide.rename(columns=names).reset_index().rename(columns={"municipality": "unit"})
    b = wide[wide["year"] == base].assign(cause=cause)
    index = std.age_structure_index(
        b[["unit", "year", "cause", "expected"]], b[["unit", "year", "pop"]]
    )
    target = wide[wide["year"].isin(years)]
    nat = target.groupby("year", as_index=False)["observed"].sum().assign(cause=cause)
    parts = [
        std.expected_from_index(
            index[["unit", "cause", "index"]].assign(year=year),
            target[["unit", "year", "pop"]],
            nat,
        )
        for year in years
    ]
    e = pd.concat(parts).merge(target[["unit", "year", "observed"]], on=["unit", "year"])
    return e.rename(columns={"unit": "municipality"})


def rows_from(panel: pd.DataFrame, design, cause: str, base: int, years: list[int]):
    """:func:`from_index` as rows of the design's count frame."""
    f = from_index(panel, cause, base, years)
    f = f.rename(columns={"observed": f"smr_observed_{cause}", "expected": f"smr_expected_{cause}"})
    return f.assign(
        placebo_area=f["municipality"].map(design.areas).fillna("unknown"),
        treated=f["municipality"].isin(design.treated).astype(int),
    )


def main() -> int:
    began = time.time()
    plan = yaml.safe_load((settings.project_root() / "analysis.yml").read_text())
    draws, seed = plan["defaults"]["draws"], plan["defaults"]["seed"]
    periods = {k: [v["first_year"], v["last_year"]] for k, v in plan["periods"]["outcomes"].items()}
    inputs = load_inputs()
    rows = []
    for site in plan["sites"]:
        design = site_design(site, inputs, outcome_periods=periods)
        for outcome in OUTCOMES:
            cause = outcome.removeprefix("smr_")
            count, exposure = f"smr_observed_{cause}", f"smr_expected_{cause}"
            main_frame = design.count_frame(outcome, count, exposure)

            rest = main_frame[main_frame["year"] != 2010]
            variants = {
                "1999-2019, 2010 interpolated": main_frame,
                "2010 index = 2009's": pd.concat(
                    [rest, rows_from(design.panel, design, cause, 2009, [2010])]
                ),
                "2010 index = 2011's": pd.concat(
                    [rest, rows_from(design.panel, design, cause, 2011, [2010])]
                ),
                "1996-2019, index carried back": pd.concat(
                    [rows_from(design.panel, design, cause, 1999, [1996, 1997, 1998]), main_frame]
                ),
            }
            for rule, frame in variants.items():
                frame = frame.sort_values(["municipality", "year"]).reset_index(drop=True)
                fit = estimate_its_placebo(
                    frame, unit="municipality", time="year", outcome=count, exposure=exposure,
                    treated=list(design.treated), start=design.start_year, draws=draws,
                    rng=seed, area="placebo_area", in_time=False,
                )  # fmt: skip
                for effect in ("level_change", "slope_change"):
                    rows.append(
                        {
                            "site": site, "outcome": outcome, "rule": rule, "effect": effect,
                            "years": f"{int(frame['year'].min())}-{int(frame['year'].max())}",
                            "estimate": getattr(fit.site, effect).estimate,
                            "p_placebo_area": fit.p_value(effect),
                        }
                    )  # fmt: skip
    table = pd.DataFrame(rows)
    lines = [
        "# Standardised mortality: the rule for 1996-1998 and 2010 (robustness)",
        "",
        f"Generated by `python benchmarks/smr_missing_years.py` ({(time.time() - began) / 60:.1f}"
        f" min; {draws} draws, seed {seed}). Do not edit by hand. Estimates are log rate "
        "ratios of the site's controlled ITS (level and slope change at the start); p-values "
        "by placebo sites within COROP areas (the plan's lead method).",
        "",
        "| site | outcome | effect | rule | years | estimate | p (placebo, area) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        lines.append(
            f"| {r.site} | {r.outcome} | {r.effect} | {r.rule} | {r.years} | "
            f"{r.estimate:.4f} | {r.p_placebo_area:.3f} |"
        )
    OUT.write_text("\n".join(lines) + "\n")
    print(OUT.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
