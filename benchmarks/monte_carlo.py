"""Monte Carlo study of few-treated-cluster inference on panels shaped like the Pioneer data.

342 municipalities in regions of 2-7 municipalities, 13 years (2011-2023), municipality and
year effects, AR(1) municipality noise and AR(1) regional shocks shared by the
municipalities of a region; 4-9 regions, drawn at random, start in 2013 or 2014. Two-way
fixed effects with standard errors clustered by region; inference by CRV1 (by region, and
naively by municipality), the wild cluster bootstrap restricted and unrestricted (Webb
weights) and randomization inference over placebo regions. Reports bias, 95% coverage and
rejection rate at the 5% level, under no effect and under a planted effect.

    python benchmarks/monte_carlo.py                  # full run, writes monte_carlo.md
    python benchmarks/monte_carlo.py --quick          # a few replications, prints only
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from proeftuin.estimators import estimate_did

N_UNITS, YEARS = 342, np.arange(2011, 2024)
SD_UNIT, SD_YEAR, SD_REGION, SD_NOISE, RHO = 1.0, 0.5, 0.5, 1.0, 0.5
METHODS = ("crv1_municipality", "crv1", "wild_restricted", "wild_unrestricted", "ri")
OUT = Path(__file__).with_name("monte_carlo.md")


def region_sizes(rng: np.random.Generator) -> np.ndarray:
    """Region sizes of 2-7 municipalities adding up to N_UNITS."""
    sizes: list[int] = []
    while sum(sizes) < N_UNITS:
        sizes.append(int(rng.integers(2, 8)))
    excess = sum(sizes) - N_UNITS
    while excess:
        i = int(np.argmax(sizes))
        cut = min(excess, sizes[i] - 2)
        sizes[i] -= cut
        excess -= cut
    return np.array(sizes)


def ar1(rng: np.random.Generator, rows: int, sd: float) -> np.ndarray:
    """Stationary AR(1) paths over the years, one per row."""
    out = np.empty((rows, len(YEARS)))
    out[:, 0] = rng.normal(0, sd, rows)
    innov = sd * np.sqrt(1 - RHO**2)
    for j in range(1, len(YEARS)):
        out[:, j] = RHO * out[:, j - 1] + rng.normal(0, innov, rows)
    return out


def simulate_panel(rng: np.random.Generator, effect: float) -> pd.DataFrame:
    """One panel: unit, region, year, y, first-treated year (0 = never)."""
    sizes = region_sizes(rng)
    region = np.repeat(np.arange(len(sizes)), sizes)
    k = int(rng.integers(4, 10))
    treated = rng.choice(len(sizes), size=k, replace=False)
    start_by_region = np.zeros(len(sizes))
    start_by_region[treated] = rng.choice([2013, 2014], size=k)
    g = start_by_region[region]
    y = (
        rng.normal(0, SD_UNIT, N_UNITS)[:, None]
        + rng.normal(0, SD_YEAR, len(YEARS))[None, :]
        + ar1(rng, len(sizes), SD_REGION)[region]
        + ar1(rng, N_UNITS, SD_NOISE)
    )
    d = (g[:, None] > 0) & (YEARS[None, :] >= g[:, None])
    y = y + effect * d
    return pd.DataFrame(
        {
            "unit": np.repeat(np.arange(N_UNITS), len(YEARS)),
            "region": np.repeat(region, len(YEARS)),
            "year": np.tile(YEARS, N_UNITS),
            "y": y.ravel(),
            "g": np.repeat(g, len(YEARS)),
        }
    )


def one_replication(args: tuple[int, float, int, np.random.SeedSequence]) -> list[dict]:
    """Estimate one simulated panel; one row per inference method."""
    rep, effect, draws, seq = args
    data_seq, infer_seq = seq.spawn(2)
    panel = simulate_panel(np.random.default_rng(data_seq), effect)
    seed = int(infer_seq.generate_state(1)[0])
    common = {
        "unit": "unit",
        "time": "year",
        "outcome": "y",
        "first_treated": "g",
        "event_study": False,
        "draws": draws,
        "seed": seed,
    }
    res = estimate_did(panel, cluster="region", inference=("crv1", "wild", "ri"), **common)
    naive = estimate_did(panel, cluster="unit", inference=("crv1",), **common)
    rows = []
    for name in METHODS:
        r = naive.inference["crv1"] if name == "crv1_municipality" else res.inference[name]
        rows.append(
            {
                "rep": rep,
                "effect": effect,
                "method": name,
                "estimate": res.estimate,
                "p_value": r.p_value,
                "ci_low": r.ci_low,
                "ci_high": r.ci_high,
                "treated_regions": res.diagnostics["n_treated_clusters"],
            }
        )
    return rows


def run(
    reps: int, draws: int, seed: int, effects: tuple[float, ...], jobs: int = 1
) -> pd.DataFrame:
    """All replications for every effect size; identical for identical seeds, any ``jobs``."""
    tasks = []
    for effect, seq in zip(effects, np.random.SeedSequence(seed).spawn(len(effects)), strict=True):
        tasks += [(i, effect, draws, s) for i, s in enumerate(seq.spawn(reps))]
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            rows = [r for chunk in pool.map(one_replication, tasks, chunksize=4) for r in chunk]
    else:
        rows = [r for t in tasks for r in one_replication(t)]
    return pd.DataFrame(rows)


def summarise(raw: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Bias, RMSE, coverage, rejection rate (with its Monte Carlo SE) per effect and method."""
    rows = []
    for effect in sorted(raw["effect"].unique()):
        for method in METHODS:
            g = raw[(raw["effect"] == effect) & (raw["method"] == method)]
            reject = float((g["p_value"] <= alpha).mean())
            cover = float(((g["ci_low"] <= effect) & (effect <= g["ci_high"])).mean())
            rows.append(
                {
                    "effect": float(effect),
                    "method": method,
                    "bias": float((g["estimate"] - effect).mean()),
                    "rmse": float(np.sqrt(((g["estimate"] - effect) ** 2).mean())),
                    "coverage_95": cover,
                    "reject_5pct": reject,
                    "mc_se_reject": float(np.sqrt(reject * (1 - reject) / len(g))),
                    "ci_width": float((g["ci_high"] - g["ci_low"]).median()),
                    "reps": len(g),
                }
            )
    return pd.DataFrame(rows)


def to_markdown(table: pd.DataFrame, command: str, seconds: float) -> str:
    cols = [
        "effect",
        "method",
        "bias",
        "rmse",
        "coverage_95",
        "reject_5pct",
        "mc_se_reject",
        "ci_width",
        "reps",
    ]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in table[cols].iterrows():
        cells = [f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c]) for c in cols]
        cells[-1] = str(int(r["reps"]))
        lines.append("| " + " | ".join(cells) + " |")
    head = [
        "# Monte Carlo: inference with few treated regions",
        "",
        f"Generated by `{command}` ({seconds / 60:.1f} min). Do not edit by hand.",
        "",
        f"Design: {N_UNITS} municipalities in regions of 2-7, years {YEARS[0]}-{YEARS[-1]}; "
        f"unit effects sd {SD_UNIT}, year effects sd {SD_YEAR}, AR(1) regional shocks "
        f"sd {SD_REGION} and AR(1) municipality noise sd {SD_NOISE} (rho {RHO}); 4-9 treated "
        "regions drawn at random, starting 2013 or 2014. Estimator: two-way fixed effects. "
        "`crv1_municipality` clusters naively by municipality; all other methods cluster "
        "by region (where treatment is assigned). `ri` permutes the treated regions' start "
        "years over all regions (placebo regions). `effect` 0 rows give size, others power.",
        "",
    ]
    return "\n".join(head + lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=400)
    parser.add_argument("--draws", type=int, default=299)
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--effect", type=float, default=0.5)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="6 reps, 49 draws; no file")
    args = parser.parse_args(argv)
    if args.quick:
        args.reps, args.draws = 6, 49
    began = time.time()
    raw = run(args.reps, args.draws, args.seed, (0.0, args.effect), args.jobs)
    table = summarise(raw)
    command = (
        f"python benchmarks/monte_carlo.py --reps {args.reps} --draws {args.draws} "
        f"--seed {args.seed} --effect {args.effect} --jobs {args.jobs}"
    )
    text = to_markdown(table, command, time.time() - began)
    print(text)
    if not args.quick:  # other scripts' sections (<!-- begin ... -->) are kept
        old = OUT.read_text() if OUT.exists() else ""
        rest = old[old.index("<!-- begin ") :] if "<!-- begin " in old else ""
        OUT.write_text(text + ("\n" + rest if rest else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
