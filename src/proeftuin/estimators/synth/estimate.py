"""Synthetic difference-in-differences, synthetic control and DiD on a long panel.

One job: ``estimate_synth`` validates a balanced unit x period panel with a 0/1 treatment
indicator, fits ``sdid`` (Arkhangelsky et al. 2021 and the R package ``synthdid``), ``sc``
(synthdid's ``sc_estimate``: unit weights without intercept and with a ridge of only
1e-6 x sigma-hat, no time weights) or ``did`` (uniform weights) by the same weight code
(:mod:`synth_weights`), and attaches inference (:mod:`synth_inference`). Several treated
units with one adoption date are averaged, as synthdid does, or first aggregated into
one unit (``aggregate``, weighted); staggered adoption is the average of per-cohort
estimates weighted by treated units x post-periods (:mod:`synth_panel`). Covariates are
not supported (synthdid's ``sc.weight.fw.covariates`` is not ported). Pure: no I/O.
"""

from __future__ import annotations

import time as _time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from proeftuin.estimators.checks import DesignError
from proeftuin.estimators.results import InferenceResult
from proeftuin.estimators.synth.panel import (
    CohortFit,
    SynthPanel,
    aggregate_treated,
    check_design,
    cohort_sizes,
    fit_cohorts,
    prepare_synth_panel,
)
from proeftuin.estimators.synth.result import SynthResult
from proeftuin.estimators.synth.weights import OPTIONS

METHODS = tuple(OPTIONS)
INFERENCE = ("placebo", "jackknife", "ri")
MIN_DRAWS, MAX_DRAWS = 2, 100_000


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def normalise_inference(methods: Sequence[str]) -> list[str]:
    """Lower-case, known, without duplicates; an empty list means point estimate only."""
    out: list[str] = []
    for m in methods:
        m = m.strip().lower()
        if not m:
            continue
        if m not in INFERENCE:
            raise DesignError(f"unknown inference method '{m}'; choose from {', '.join(INFERENCE)}")
        if m not in out:
            out.append(m)
    return out


def _tables(
    panel: SynthPanel, fits: list[CohortFit], method: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    """Unit weights, time weights, paths and the cohort table of the observed fit."""
    uw, tw, paths, rows = [], [], [], []
    sizes = np.array([f.size for f in fits], dtype=float)
    rmspe = {}
    for f, size in zip(fits, sizes, strict=True):
        start = panel.times[f.t0]
        ctrl, tr = f.control_idx[0], f.treated_idx[0]
        omega, lam = f.fit.omega[0], f.fit.lam[0]
        uw.append(pd.DataFrame({"cohort": start, "unit": panel.units[ctrl], "weight": omega}))
        tw.append(pd.DataFrame({"cohort": start, "time": panel.times[: f.t0], "weight": lam}))
        treated = panel.y[tr].mean(axis=0)
        synthetic = omega @ panel.y[ctrl]
        gap = treated - synthetic
        offset = float(gap[: f.t0] @ lam) if method != "sc" else 0.0
        shifted = synthetic + offset
        post = np.arange(len(panel.times)) >= f.t0
        paths.append(
            pd.DataFrame(
                {
                    "cohort": start,
                    "time": panel.times,
                    "treated": treated,
                    "synthetic": synthetic,
                    "synthetic_shifted": shifted,
                    "effect": treated - shifted,
                    "post": post,
                }
            )
        )
        pre_rmspe = float(np.sqrt(np.mean((treated - shifted)[~post] ** 2)))
        post_rmspe = float(np.sqrt(np.mean((treated - shifted)[post] ** 2)))
        rmspe[f"{start:g}"] = {"pre": pre_rmspe, "post": post_rmspe}
        rows.append(
            {
                "start": start,
                "estimate": float(f.fit.tau[0]),
                "n_treated": int(len(tr)),
                "n_pre": f.t0,
                "n_post": int(post.sum()),
                "weight": size / sizes.sum(),
                "intercept": offset,
                "pre_rmspe": pre_rmspe,
                "noise_level": float(f.fit.noise[0]),
                "zeta_omega": float(f.fit.zeta_omega[0]),
                "zeta_lambda": float(f.fit.zeta_lambda[0]),
                "iterations_omega": _iters(f, "omega"),
                "iterations_lambda": _iters(f, "lambda"),
            }
        )
    return (
        pd.concat(uw, ignore_index=True),
        pd.concat(tw, ignore_index=True),
        pd.concat(paths, ignore_index=True),
        pd.DataFrame(rows),
        rmspe,
    )


def _iters(f: CohortFit, key: str) -> int | None:
    it = f.fit.iterations.get(key)
    return None if it is None else int(it[0])


def estimate_synth(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    treated: str,
    method: str = "sdid",
    inference: Sequence[str] = ("placebo",),
    draws: int = 200,
    seed: int | np.random.Generator | None = 0,
    aggregate: bool = False,
    weights: str | None = None,
    placebo_group: str | None = None,
    alpha: float = 0.05,
) -> SynthResult:
    """Estimate by ``method`` (sdid, sc, did) and attach each requested inference.

    ``treated`` is a 0/1 column, 1 from a unit's first treated period on (absorbing).
    ``aggregate`` first merges each cohort's treated units into one unit, their mean path
    weighted by the ``weights`` column (e.g. insured-years; uniform without it); each
    cohort then counts as one treated unit (ridge, placebo, cohort weights), while RI
    still draws placebo sites of the observed size and aggregates them alike.
    ``inference``: ``placebo`` (synthdid's placebo variance, ``draws`` replications),
    ``jackknife`` (synthdid's fixed-weight jackknife), ``ri`` (randomization inference
    over ``draws`` placebo assignments of the adoption dates, exact when there are at most
    ``draws`` of them; placebo sites within the ``placebo_group`` area when given).
    The headline SE and interval are the first listed method's. ``seed``: int or Generator;
    equal seeds give equal results.
    """
    from proeftuin.estimators.synth import inference as si

    if method not in METHODS:
        raise DesignError(f"unknown method '{method}'; choose from {', '.join(METHODS)}")
    if not MIN_DRAWS <= int(draws) <= MAX_DRAWS:
        raise DesignError(f"draws must be between {MIN_DRAWS} and {MAX_DRAWS} (got {draws})")
    methods = normalise_inference(inference)
    panel = prepare_synth_panel(
        data, unit=unit, time=time, outcome=outcome, treated=treated,
        weights=weights, placebo_group=placebo_group,
    )  # fmt: skip
    check_design(panel, method)
    rng = _rng(seed)
    clock = {"fit": _time.perf_counter()}
    work = aggregate_treated(panel) if aggregate else panel
    sizes = cohort_sizes(panel)
    tau, fits = fit_cohorts(work.y, work.labels[None, :], method, sizes=sizes)
    estimate = float(tau[0])
    clock["fit"] = _time.perf_counter() - clock["fit"]
    results: dict[str, InferenceResult] = {}
    placebo: np.ndarray | None = None
    for m in methods:
        start = _time.perf_counter()
        if m == "placebo":
            results[m], draws_m = si.placebo_result(work, method, fits, estimate, draws, rng, alpha)
            placebo = draws_m if placebo is None else placebo
        elif m == "jackknife":
            results[m] = si.jackknife_result(work, fits, estimate, alpha)
        else:
            results[m], placebo = si.ri_result(
                panel, method, estimate, draws, rng, aggregate, sizes, alpha
            )
        clock[m] = _time.perf_counter() - start
    uw, tw, path, cohorts, rmspe = _tables(work, fits, method)
    first = next(iter(results.values()), None)
    diagnostics = {
        "aggregated": aggregate,
        "weights_column": weights if aggregate else None,
        "pre_rmspe": rmspe,
        "seconds": clock,
        "outcome_name": outcome,
        "time_name": time,
        "staggered": len(fits) > 1,
        "placebo_source": "ri" if "ri" in results else ("placebo" if placebo is not None else None),
    }
    return SynthResult(
        estimate=estimate,
        se=None if first is None else first.se,
        ci_low=None if first is None else first.ci_low,
        ci_high=None if first is None else first.ci_high,
        inference=results,
        method=method,
        n_units=len(panel.labels),
        n_treated_units=int((panel.labels > 0).sum()),
        n_control_units=int((panel.labels == 0).sum()),
        n_periods=len(panel.times),
        unit_weights=uw,
        time_weights=tw,
        path=path,
        cohorts=cohorts,
        placebo_estimates=placebo,
        diagnostics=diagnostics,
    )
