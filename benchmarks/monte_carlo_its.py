"""Monte Carlo of ITS inference on the real mortality panel: size and power of each method.

Real CBS deaths and person-years per 2023 municipality, 1996-2018, from the project panel
(``proeftuin data``), without the municipalities of any Pioneer site. Each replication
draws a site-shaped placebo site: 2-7 municipalities of one COROP region (the size uniform,
the site uniform among those with enough municipalities), starting in 2013. Planted
null: the real deaths as they are. Planted effect: the site's deaths from 2013 on thinned
binomially to 95% (-5% mortality, a level change of log 0.95 = -0.051; no slope change).
Methods, level and slope change at the start (impact model with both):

- ``newey_west``: Gaussian segmented regression of the site's death rate, Newey-West
  errors, t reference (:func:`estimate_its`);
- ``glm``: quasi-Poisson on the site's deaths with log person-years offset, model errors;
- ``controlled``: quasi-Poisson controlled ITS against all other municipalities, model
  (time-clustered) errors;
- ``placebo_all`` / ``placebo_area``: placebo-in-space for the controlled fit
  (:func:`estimate_its_placebo`), placebo sites drawn from all controls / within one COROP
  site, p-value by rank with +1, interval by inverting the test.

    python benchmarks/monte_carlo_its.py                 # full run, writes monte_carlo.md
    python benchmarks/monte_carlo_its.py --quick         # a few replications, prints only
    python benchmarks/monte_carlo_its.py --standardised  # observed deaths, log(expected
                                                         # deaths) offset, 1999-2019 (SMR)
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from proeftuin.data import panel as panel_mod
from proeftuin.data.sites import load_registry
from proeftuin.estimators import estimate_its
from proeftuin.estimators.its.placebo import estimate_its_placebo, placebo_space, site_series

START, SIZES, EFFECT = 2013, (2, 7), math.log(0.95)
METHODS = ("newey_west", "glm", "controlled", "placebo_all", "placebo_area")
LOG_SCALE = {"glm", "controlled", "placebo_all", "placebo_area"}
COLUMNS = {"unit": "municipality", "time": "year", "outcome": "deaths", "exposure": "py"}
OUT = Path(__file__).with_name("monte_carlo.md")
MARKER = "<!-- {} monte_carlo_its {} -->"  # one section per cause


def mortality_frame(processed: Path | None, cause: str, standardised: bool = False) -> pd.DataFrame:
    """municipality, year, deaths, py, corop: every municipality of no Pioneer site; with
    ``standardised`` the SMR's observed deaths and, as ``py``, its expected deaths."""
    long = panel_mod.load_panel(processed / "panel.parquet" if processed else None)
    wanted = {f"deaths_{cause}": "deaths", "person_years": "py"}
    if standardised:
        wanted = {f"smr_observed_{cause}": "deaths", f"smr_expected_{cause}": "py"}
    rows = long[long["outcome"].isin(list(wanted))]
    wide = rows.pivot_table(
        index=["municipality", "year"], columns="outcome", values="value", aggfunc="first"
    )
    wide = wide.rename(columns=wanted).dropna().reset_index()
    cov = panel_mod.load_covariates(processed / "covariates.parquet" if processed else None)
    wide["corop"] = wide["municipality"].map(cov.set_index("municipality")["corop_region"])
    pioneer = load_registry().pioneer_municipalities()
    return wide[~wide["municipality"].isin(pioneer)].reset_index(drop=True)


def draw_site(frame: pd.DataFrame, rng: np.random.Generator) -> list[str]:
    """k municipalities of one COROP region, k uniform in SIZES."""
    k = int(rng.integers(SIZES[0], SIZES[1] + 1))
    members = frame.groupby("corop")["municipality"].unique()
    members = members[members.map(len) >= k]
    chosen = members.iloc[int(rng.integers(len(members)))]
    return sorted(rng.choice(chosen, k, replace=False).tolist())


def _row(method: str, term: str, eff, truth: float) -> dict:
    return {
        "method": method,
        "term": term,
        "estimate": eff.estimate,
        "ci_low": eff.ci_low,
        "ci_high": eff.ci_high,
        "p_value": eff.p_value,
        "truth": truth,
    }


def one_replication(
    frame: pd.DataFrame, effect: float, draws: int, seq: np.random.SeedSequence
) -> list[dict]:
    rng = np.random.default_rng(seq)
    site = draw_site(frame, rng)
    df = frame
    if effect:
        hit = df["municipality"].isin(site) & (df["year"] >= START)
        thinned = rng.binomial(df.loc[hit, "deaths"].astype(int), math.exp(effect))
        df = df.assign(deaths=df["deaths"].astype(float))
        df.loc[hit, "deaths"] = thinned
    truth = {"level_change": effect, "slope_change": 0.0}
    rows = []
    series = site_series(df, **COLUMNS, treated=site)
    its = {"time": "time", "outcome": "y", "exposure": "exposure", "start": START}
    fits = {
        "newey_west": estimate_its(series, family="gaussian", **its),
        "glm": estimate_its(series, family="quasipoisson", **its),
    }
    kw = {**COLUMNS, "treated": site, "start": START, "draws": draws}
    spawn = rng.spawn(2)
    placebo = estimate_its_placebo(df, **kw, rng=spawn[0], in_time=False)
    fits["controlled"] = placebo.site
    area = placebo_space(df, **kw, rng=spawn[1], area="corop")
    for term in ("level_change", "slope_change"):
        for method, fit in fits.items():
            rows.append(_row(method, term, getattr(fit, term), truth[term]))
        est = getattr(placebo.site, term).estimate
        for method, d in (("placebo_all", placebo.draws), ("placebo_area", area)):
            lo, hi = d.interval(term, 0.05, est)
            rows.append(
                {
                    "method": method,
                    "term": term,
                    "estimate": est,
                    "ci_low": lo,
                    "ci_high": hi,
                    "p_value": d.p_value(term, est),
                    "truth": truth[term],
                }
            )
    for r in rows:
        r.update(effect=effect, k=len(site))
    return rows


def run(frame: pd.DataFrame, reps: int, draws: int, seed: int, effects) -> pd.DataFrame:
    seqs = np.random.SeedSequence(seed).spawn(reps)
    rows = []
    for effect in effects:
        for i, seq in enumerate(seqs):  # the same sites under the null and the effect
            rows += [dict(r, rep=i) for r in one_replication(frame, effect, draws, seq)]
    return pd.DataFrame(rows)


def summarise(raw: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    out = []
    for (effect, term, method), g in raw.groupby(["effect", "term", "method"], sort=False):
        reject = float((g["p_value"] <= alpha).mean())
        log = method in LOG_SCALE
        err = g["estimate"] - g["truth"]
        cover = (g["ci_low"] <= g["truth"]) & (g["truth"] <= g["ci_high"])
        out.append(
            {
                "effect": effect,
                "term": term,
                "method": method,
                "bias": float(err.mean()) if log else math.nan,
                "rmse": float(np.sqrt((err**2).mean())) if log else math.nan,
                "coverage_95": float(cover.mean()) if log or effect == 0 else math.nan,
                "reject_5pct": reject,
                "mc_se_reject": math.sqrt(reject * (1 - reject) / len(g)),
                "ci_width": float((g["ci_high"] - g["ci_low"]).median()) if log else math.nan,
                "reps": len(g),
            }
        )
    return pd.DataFrame(out)


def _cell(value) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def to_markdown(
    table: pd.DataFrame,
    command: str,
    seconds: float,
    frame: pd.DataFrame,
    cause: str,
    standardised: bool = False,
) -> str:
    cols = ["effect", "term", "method", "bias", "rmse", "coverage_95", "reject_5pct"]
    cols += ["mc_se_reject", "ci_width", "reps"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in table[cols].iterrows():
        cells = [_cell(r[c]) for c in cols]
        lines.append("| " + " | ".join(cells) + " |")
    head = [
        MARKER.format("begin", key := f"smr_{cause}" if standardised else cause),
        "",
        f"## Interrupted time series on the real mortality panel: {cause} deaths"
        + (" (standardised: log expected deaths as offset)" if standardised else ""),
        "",
        f"Generated by `{command}` ({seconds / 60:.1f} min). Do not edit by hand.",
        "",
        f"Data: CBS deaths ({cause}) and "
        + ("expected deaths (age-sex standardisation) " if standardised else "person-years ")
        + f"of {frame['municipality'].nunique()} municipalities without a Pioneer site, "
        f"{frame['year'].min()}-{frame['year'].max()}, 2023 boundaries. Each replication "
        f"draws a site of {SIZES[0]}-{SIZES[1]} municipalities of one COROP region, start "
        f"{START}; `effect` {EFFECT:.3f} thins its deaths from {START} on to 95% (-5%), effect "
        "0 leaves the real data as they are (size). Methods and terms: see the script's "
        "docstring; bias, rmse, coverage and width on the log rate-ratio scale (the Gaussian "
        "`newey_west` row is on the rate scale: rejection only). `placebo_*` rows share the "
        "`controlled` estimate and differ in p-value and interval.",
        "",
    ]
    return "\n".join(head + lines + ["", MARKER.format("end", key)]) + "\n"


def write_section(text: str, cause: str) -> None:
    """Replace this cause's section of monte_carlo.md, or append it; the rest is kept."""
    old = OUT.read_text() if OUT.exists() else ""
    begin, end = (re.escape(MARKER.format(edge, cause)) for edge in ("begin", "end"))
    pattern = re.compile(begin + r".*?" + end + r"\n?", re.S)
    new = pattern.sub(lambda _: text, old) if pattern.search(old) else old + "\n" + text
    OUT.write_text(new)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=400)
    parser.add_argument("--draws", type=int, default=999)
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--cause", default="all", help="all | cardiovascular | cancer | ...")
    parser.add_argument("--processed", type=Path, help="folder of panel/covariates.parquet")
    parser.add_argument("--quick", action="store_true", help="4 reps, 99 draws; no file")
    parser.add_argument(
        "--standardised", action="store_true", help="SMR: log(expected deaths) offset, 1999-2019"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.reps, args.draws = 4, 99
    began = time.time()
    frame = mortality_frame(args.processed, args.cause, args.standardised)
    raw = run(frame, args.reps, args.draws, args.seed, (0.0, EFFECT))
    table = summarise(raw)
    command = (
        f"python benchmarks/monte_carlo_its.py --reps {args.reps} --draws {args.draws} "
        f"--seed {args.seed} --cause {args.cause}"
    )
    command += " --standardised" if args.standardised else ""
    key = f"smr_{args.cause}" if args.standardised else args.cause
    text = to_markdown(table, command, time.time() - began, frame, args.cause, args.standardised)
    print(text)
    if not args.quick:
        write_section(text, key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
