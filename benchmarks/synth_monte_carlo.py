"""Monte Carlo on the real panel: synthetic DiD (and DiD) with placebo and RI inference for a
site-shaped treated group.

Each replication takes the control municipalities of one site's design (one outcome of
the real panel), draws a placebo site like a Pioneer site (``--size`` municipalities of
one COROP area, treated from ``--start``), adds ``effect`` to their outcome from the start
year on, and runs ``estimate_synth`` with the placebo variance (normal 95% interval) and
randomization inference over placebo sites within the COROP area, ``--draws`` each.
Effect 0 gives the size of each test, others its power.

    python benchmarks/synth_monte_carlo.py --reps 60 --draws 100 --jobs 2   # writes the .md
    python benchmarks/synth_monte_carlo.py --quick                          # prints only
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command_line, data_env  # noqa: E402

SITE, OUTCOME, START, SIZE = "maastricht-heuvelland", "cost_basket_std", 2013, 6
OUT = Path(__file__).with_name("synth_monte_carlo.md")
KW = {"unit": "municipality", "time": "year", "outcome": "value", "treated": "treated_post"}


def controls_frame(site: str, outcome: str) -> pd.DataFrame:
    data_env()
    from proeftuin.designs.comparison import load_inputs, site_design

    frame = site_design(site, load_inputs()).outcome_frame(outcome)
    frame = frame[(frame["treated"] == 0) & (frame["placebo_area"] != "unknown")]
    years = frame.groupby("municipality")["year"].nunique()
    keep = years[years == frame["year"].nunique()].index  # balanced rows only
    return frame[frame["municipality"].isin(keep)].reset_index(drop=True)


def one_rep(args: tuple) -> list[dict]:
    """One placebo site, every effect and estimator: a list of result rows."""
    frame, rep, seed, effects, methods, draws, size, start = args
    from proeftuin.estimators import estimate_synth

    rng = np.random.default_rng([seed, rep])
    per_area = frame.groupby("placebo_area")["municipality"].unique()
    areas = [a for a, m in per_area.items() if len(m) > size]  # leave controls in the area
    members = rng.choice(per_area[areas[rng.integers(len(areas))]], size, replace=False)
    in_site = frame["municipality"].isin(members)
    post = in_site & (frame["year"] >= start)
    rows = []
    for effect in effects:
        data = frame.assign(value=frame["value"] + effect * post, treated_post=post.astype(int))
        for method in methods:
            fit = estimate_synth(
                data, **KW, method=method, inference=("placebo", "ri"), draws=draws,
                seed=np.random.default_rng([seed, rep, 1]), placebo_group="placebo_area",
            )  # fmt: skip
            pl, ri = fit.inference["placebo"], fit.inference["ri"]
            rows.append(
                {
                    "effect": effect, "method": method, "rep": rep, "estimate": fit.estimate,
                    "placebo_se": pl.se, "placebo_reject": pl.p_value < 0.05,
                    "placebo_cover": pl.ci_low <= effect <= pl.ci_high,
                    "ri_p": ri.p_value, "ri_reject": ri.p_value <= 0.05, "ri_sd": ri.se,
                }
            )  # fmt: skip
    return rows


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    out = []
    for (effect, method), g in df.groupby(["effect", "method"], sort=True):
        err = g["estimate"] - effect
        for test in ("placebo", "ri"):
            rej = g[f"{test}_reject"].mean()
            out.append({
                "effect": effect, "estimator": method, "test": test,
                "bias": err.mean(), "rmse": float(np.sqrt((err**2).mean())),
                "mean_se_or_sd": g["placebo_se" if test == "placebo" else "ri_sd"].mean(),
                "coverage_95": g["placebo_cover"].mean() if test == "placebo" else np.nan,
                "reject_5pct": rej, "mc_se_reject": float(np.sqrt(rej * (1 - rej) / len(g))),
                "reps": len(g),
            })  # fmt: skip
    return pd.DataFrame(out)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if np.isfinite(value) else "–"
    return str(value)


def markdown(table: pd.DataFrame) -> str:
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in table.itertuples(index=False):
        cells = [_cell(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=60)
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--effect", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=20130701)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--methods", default="sdid,did")
    parser.add_argument("--quick", action="store_true", help="4 replications, 20 draws, print")
    args = parser.parse_args()
    reps, draws = (4, 20) if args.quick else (args.reps, args.draws)
    started = time.perf_counter()
    frame = controls_frame(SITE, OUTCOME)
    effects, methods = (0.0, args.effect), tuple(args.methods.split(","))
    jobs = [(frame, r, args.seed, effects, methods, draws, SIZE, START) for r in range(reps)]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        rows = [row for chunk in pool.map(one_rep, jobs) for row in chunk]
    table = summarise(pd.DataFrame(rows))
    minutes = (time.perf_counter() - started) / 60
    text = (
        "# Monte Carlo: synthetic DiD on the real panel\n\n"
        f"Generated by `{command_line()}` ({minutes:.1f} min). Do not edit by hand.\n\n"
        f"Design: the {frame['municipality'].nunique()} control municipalities of the "
        f"`{SITE}` design, outcome `{OUTCOME}` ({frame['year'].min()}-{frame['year'].max()}); "
        f"each replication draws a placebo site of {SIZE} municipalities within one COROP area "
        f"(areas with more than {SIZE} controls), treated from {START}, and adds `effect` to "
        "their outcome from then on. `placebo`: synthdid's placebo variance "
        f"({draws} replications), normal 95% interval; `ri`: randomization inference over "
        f"{draws} placebo sites within the COROP area. Effect 0 rows give size, others power. "
        "`mean_se_or_sd`: mean placebo SE, or mean SD of the RI placebo estimates.\n\n"
        + markdown(table)
        + "\n"
    )
    print(text)
    if not args.quick:
        OUT.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
