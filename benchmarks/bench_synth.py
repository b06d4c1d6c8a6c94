"""Synthetic DiD benchmark: point estimates and 200 placebo replications, batched vs refit loop.

Two panels: California's Proposition 99 (39 states x 31 years, one treated) and one site
and outcome of the real panel (maastricht-heuvelland, cost_basket_std: 330 municipalities
x 13 years, 6 treated from 2013). The project's ``estimate_synth`` (all placebo
replications in one batched Frank–Wolfe run) against (a) the same code one replication at
a time (``CHUNK = 1``: the refit loop, identical draws, so identical standard errors) and
(b) the PyPI port ``synthdid-py`` (a line-by-line port of the R package), when installed
beside the environment, e.g. ``.venv/bin/pip install --no-deps --target
/tmp/proeftuin-bench-extras2 synthdid-py`` and ``PYTHONPATH=/tmp/proeftuin-bench-extras2``.
synthdid-py draws its placebo permutations from ``default_rng(seed)`` exactly as the
project does, so with one seed its placebo SE is comparable to ours draw for draw. Slow
baselines on the real panel are timed on a subset of replications and extrapolated.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Table, best_of, data_env, ratio, report  # noqa: E402

SITE, OUTCOME, SEED, REPS = "maastricht-heuvelland", "cost_basket_std", 20130701, 200
PROP99 = {"unit": "State", "time": "Year", "outcome": "PacksPerCapita", "treated": "treated"}
REAL = {"unit": "municipality", "time": "year", "outcome": "value", "treated": "treated_post"}


def prop99_frame() -> pd.DataFrame:
    mirror = Path(data_env()["PROEFTUIN_DATA_MIRROR"])
    return pd.read_csv(mirror / "reference" / "california_prop99.csv", sep=";")


def real_frame() -> pd.DataFrame:
    data_env()
    from proeftuin.designs.comparison import load_inputs, site_design

    return site_design(SITE, load_inputs()).outcome_frame(OUTCOME)


def ours(frame: pd.DataFrame, kw: dict, method: str, inference: tuple, reps: int, **extra):
    from proeftuin.estimators import estimate_synth

    start = time.perf_counter()
    fit = estimate_synth(frame, **kw, method=method, inference=inference, draws=reps,
                         seed=SEED, **extra)  # fmt: skip
    return time.perf_counter() - start, fit


def loop(frame: pd.DataFrame, kw: dict, reps: int, subset: int) -> tuple[float, float, bool]:
    """The refit loop: the same code and draws, one replication per solver call.

    Returns extrapolated seconds for ``reps``, the loop's SE over ``subset`` draws, and
    whether those draws equal the batched run's first ``subset`` draws."""
    from proeftuin.estimators.synth import inference as si
    from proeftuin.estimators.synth.estimate import estimate_synth

    base = estimate_synth(frame, **kw, inference=(), seed=SEED)
    batched = estimate_synth(frame, **kw, inference=("placebo",), draws=subset, seed=SEED)
    chunk, si.CHUNK = si.CHUNK, 1
    try:
        start = time.perf_counter()
        one = estimate_synth(frame, **kw, inference=("placebo",), draws=subset, seed=SEED)
        seconds = time.perf_counter() - start - base.diagnostics["seconds"]["fit"]
    finally:
        si.CHUNK = chunk
    same = np.allclose(one.placebo_estimates, batched.placebo_estimates, rtol=0, atol=1e-9)
    per = seconds / subset
    return base.diagnostics["seconds"]["fit"] + per * reps, one.inference["placebo"].se, same


def port(frame: pd.DataFrame, kw: dict, method: str, reps: int | None, subset: int | None):
    """synthdid-py: (point seconds, estimate, placebo seconds for ``reps``, placebo SE)."""
    if importlib.util.find_spec("synthdid") is None:
        return None
    import synthdid as sd

    panel = sd.panel_matrices(
        frame, unit=kw["unit"], time=kw["time"], outcome=kw["outcome"], treatment=kw["treated"]
    )
    fn = {"sdid": sd.synthdid_estimate, "sc": sd.sc_estimate, "did": sd.did_estimate}[method]
    point, _, est = best_of(lambda: fn(panel.Y, panel.N0, panel.T0), 1)
    if not reps:
        return point, float(est), None, None
    n = subset or reps
    start = time.perf_counter()
    se = sd.placebo_se(est, n, random_state=SEED)
    seconds = (time.perf_counter() - start) * reps / n
    return point, float(est), seconds, (se if subset is None else None)


def prop99_table(reps: int, subset: int) -> Table:
    frame = prop99_frame()
    table = Table(
        "Prop 99: estimates and 200 placebo replications",
        ["estimator", "published", "ours", "synthdid-py", "ours s", "synthdid-py s",
         "placebo SE ours", "placebo SE synthdid-py", "placebo s ours (batched)",
         "placebo s refit loop", "placebo s synthdid-py", "loop draws identical"],
    )  # fmt: skip
    published = {"sdid": -15.604, "sc": -19.620, "did": -27.349}
    for method in ("sdid", "sc", "did"):
        point, fit0 = ours(frame, PROP99, method, (), reps)
        total, fit = ours(frame, PROP99, method, ("placebo",), reps)
        loop_s, _, same = loop(frame, {**PROP99, "method": method}, reps, subset)
        p = port(frame, PROP99, method, reps, None)
        table.add(
            method, published[method], fit0.estimate, None if p is None else p[1],
            point, None if p is None else p[0], fit.inference["placebo"].se,
            None if p is None else p[3], total, loop_s, None if p is None else p[2],
            same,
        )  # fmt: skip
    table.notes.append(
        f"{reps} replications, seed {SEED}; 'placebo s' includes the point estimate. "
        "The refit loop runs the project's code one replication per solver call, timed on "
        f"{subset} replications and extrapolated; 'loop draws identical': its estimates equal "
        "the batched run's to 1e-9."
    )
    return table


def real_table(reps: int, subset: int) -> Table:
    frame = real_frame()
    table = Table(
        f"{SITE}, {OUTCOME}: SDID with {reps} placebo replications and RI",
        ["what", "estimate", "SE / p", "seconds", "vs batched"],
    )
    point, fit0 = ours(frame, REAL, "sdid", (), reps)
    table.add("sdid point estimate", fit0.estimate, None, point, None)
    total, fit = ours(frame, REAL, "sdid", ("placebo",), reps)
    table.add(f"sdid + {reps} placebo (batched)", fit.estimate, fit.inference["placebo"].se,
              total, None)  # fmt: skip
    loop_s, _, same = loop(frame, {**REAL, "method": "sdid"}, reps, subset)
    table.add(f"refit loop (timed on {subset}, draws identical: {same})", None, None, loop_s,
              ratio(loop_s, total))  # fmt: skip
    p = port(frame, REAL, "sdid", reps, subset)
    if p is not None:
        table.add(f"synthdid-py point + placebo (timed on {subset})", p[1], None,
                  p[0] + p[2], ratio(p[0] + p[2], total))  # fmt: skip
    else:
        table.add("synthdid-py", "not installed", None, None, None)
    ri_s, ri = ours(frame, REAL, "sdid", ("ri",), reps, placebo_group="placebo_area")
    r = ri.inference["ri"]
    table.add(f"sdid + RI, {reps} placebo sites within COROP", ri.estimate,
              f"p = {r.p_value:.3g}", ri_s, None)  # fmt: skip
    table.notes.append(
        f"{fit.n_control_units} controls, {fit.n_treated_units} treated, "
        f"{int(fit.cohorts['n_pre'].iloc[0])} pre-periods; seed {SEED}"
    )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 replications, 5 refits")
    parser.add_argument("--no-save", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args()
    started = time.perf_counter()
    reps, subset = (20, 5) if args.quick else (REPS, 30)
    tables = [prop99_table(reps, subset), real_table(reps, subset)]
    report(tables, title="Synthetic DiD", started=started, save=not args.no_save)


if __name__ == "__main__":
    main()
