"""Difference-in-differences on a long unit x period panel: one entry point, four estimators.

``estimate_did`` validates the panel (``panel.py``), runs the chosen estimator (``twfe.py``
for two-way fixed effects, the event study and the 2x2; ``imputation.py``; ``cs.py`` for
Callaway & Sant'Anna) and attaches inference by every requested method through one
dispatch table from (estimator, inference method) to a function (``placebo.py`` for
randomization inference, ``inference.py`` for the bootstrap and CRV1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from proeftuin.estimators.checks import DesignError
from proeftuin.estimators.did import cs, imputation, placebo, twfe
from proeftuin.estimators.did.cs import cs_aggregate, cs_attgt
from proeftuin.estimators.did.panel import (
    Fit,
    Panel,
    RunOptions,
    crv1,
    panel_counts,
    prepare_panel,
    treated_clusters,
)
from proeftuin.estimators.did.twfe import placebo_in_time
from proeftuin.estimators.inference import methods as inf
from proeftuin.estimators.results import DidResult, InferenceResult

__all__ = [
    "INFERENCE",
    "METHODS",
    "Panel",
    "cs_aggregate",
    "cs_attgt",
    "estimate_did",
    "placebo_in_time",
    "prepare_panel",
]

METHODS = ("twfe", "cs", "imputation", "2x2")
INFERENCE = ("crv1", "wild", "wild_restricted", "wild_unrestricted", "ri")

MIN_DRAWS = 19  # the fewest draws with which a p-value can reach 0.05: 1/(19 + 1)
MAX_DRAWS = 99_999  # RI keeps a few numbers per draw: a ceiling on time, not memory


def check_draws_and_seed(draws: int, seed: int | np.random.SeedSequence) -> None:
    """Refuse draw counts no test can use and seeds numpy cannot take, in one line each."""
    if isinstance(draws, bool) or not isinstance(draws, int | np.integer):
        raise DesignError(f"--draws must be a whole number; got {draws!r}")
    if not MIN_DRAWS <= draws <= MAX_DRAWS:
        raise DesignError(
            f"--draws must be between {MIN_DRAWS} and {MAX_DRAWS} (got {draws}): with fewer "
            "than 19 draws no p-value can fall to 0.05; 999 or more are usual"
        )
    if not isinstance(seed, np.random.SeedSequence) and (
        isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0
    ):
        raise DesignError(f"--seed must be a non-negative whole number (got {seed!r})")


def _normalise_inference(methods: Sequence[str]) -> list[str]:
    out: list[str] = []
    for m in methods:
        m = m.strip().lower()
        if m not in INFERENCE:
            raise DesignError(f"unknown inference method '{m}'; choose from {', '.join(INFERENCE)}")
        for x in ("wild_restricted", "wild_unrestricted") if m == "wild" else (m,):
            if x not in out:
                out.append(x)
    return out or ["crv1"]


def _check_options(method: str, control_group: str, panel: Panel) -> None:
    if method not in METHODS:
        raise DesignError(f"unknown method '{method}'; choose from {', '.join(METHODS)}")
    if control_group not in ("never", "notyet"):
        raise DesignError(f"unknown control group '{control_group}'; choose never or notyet")
    if method == "cs" and panel.covariates:
        raise DesignError(
            "--method cs takes no --covariates; use --method twfe or --method imputation"
        )
    # only cs chooses its comparison group; twfe, 2x2 and imputation ignore --control-group
    if method == "cs" and control_group == "never" and not (panel.df["g"] == 0).any():
        raise DesignError("no never-treated units: use --control-group notyet with --method cs")


def _design_warnings(method: str, methods: list[str], panel: Panel) -> list[str]:
    """One-line warnings about a design that runs but deserves a second look."""
    out = []
    d = panel.diagnostics
    if d.get("dropped_missing_rows"):
        cols = ", ".join(f"{k}: {v}" for k, v in d.get("missing_by_column", {}).items())
        out.append(
            f"dropped {d['dropped_missing_rows']} rows with a missing value"
            + (f" ({cols})" if cols else "")
        )
    if d.get("dropped_zero_weight_rows"):
        out.append(f"dropped {d['dropped_zero_weight_rows']} rows with zero weight")
    if d.get("dropped_always_treated"):
        out.append(
            f"dropped {d['dropped_always_treated']} units treated from the first period "
            "(no pre-period)"
        )
    if method == "twfe" and not (panel.df["g"] == 0).any():
        out.append(
            "no never-treated units: two-way fixed effects then also compares later-treated "
            "units with already-treated ones, biased when effects change over time; "
            "consider --method cs --control-group notyet or --method imputation"
        )
    n_tr = treated_clusters(panel)
    if methods == ["crv1"] and n_tr < inf.FEW_TREATED_CLUSTERS:
        out.append(
            f"CRV1 alone over-rejects with {inf.treated_clusters_text(n_tr)}: add "
            "--inference ri (with --placebo-group where units belong to larger areas)"
        )
    return out


def estimate_did(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    treated: str | None = None,
    first_treated: str | None = None,
    cluster: str | None = None,
    weights: str | None = None,
    covariates: Sequence[str] = (),
    method: str = "twfe",
    control_group: str = "never",
    inference: Sequence[str] = ("crv1",),
    draws: int = 999,
    seed: int | np.random.SeedSequence = 0,
    event_study: bool = True,
    ref_period: int = -1,
    alpha: float = 0.05,
    placebo_group: str | None = None,
) -> DidResult:
    """Estimate a DiD design and attach inference by each requested method (see module doc).

    ``placebo_group`` names a column of ``data`` giving the larger area (e.g. the COROP
    site) each unit belongs to. With it, each randomization-inference draw is a placebo
    site: one area at random among those with at least k untreated units (k = number of
    treated clusters), then k untreated units inside it, so that placebo sites share
    regional shocks as the real one does. All such sets are enumerated when they number at
    most ``draws``. Without it, placebo units are drawn from the whole panel.

    Each resampling method draws from its own stream derived from ``seed`` (an integer or
    a ``numpy.random.SeedSequence``), so its result does not depend on which other methods
    were requested. The headline estimate's SE and interval come from the first requested
    method not flagged unreliable with this few treated clusters (``headline_method``).
    ``diagnostics["warnings"]`` lists one-line warnings (dropped rows, risky designs).
    ``event_study=False`` skips the pre-trend diagnostics: the event study, its joint tests
    and the placebo-in-time fit (``diagnostics["placebo_in_time"]``).
    """
    check_draws_and_seed(draws, seed)
    panel = prepare_panel(
        data,
        unit=unit,
        time=time,
        outcome=outcome,
        treated=treated,
        first_treated=first_treated,
        cluster=cluster,
        weights=weights,
        covariates=list(covariates),
        placebo_group=placebo_group,
    )
    _check_options(method, control_group, panel)
    methods = _normalise_inference(inference)
    opts = RunOptions(method, control_group, methods, draws, seed, event_study, ref_period, alpha)
    result = _run(panel, opts)
    result.diagnostics.update(panel.diagnostics)
    result.diagnostics["cohorts"] = {
        str(int(k) if float(k).is_integer() else k): int(v)
        for k, v in panel.unit_table().query("g > 0")["g"].value_counts().sort_index().items()
    }
    result.diagnostics["n_clusters"] = int(panel.df["cl"].nunique())
    result.diagnostics["n_treated_clusters"] = treated_clusters(panel)
    result.diagnostics["periods"] = [float(t) for t in panel.times]
    if method != "2x2" and event_study:
        result.diagnostics["placebo_in_time"] = placebo_in_time(panel, alpha)
    result.diagnostics["warnings"] = _design_warnings(method, methods, panel)
    return result


# --- one dispatch table --------------------------------------------------------------------

Estimator = Callable[[Panel, RunOptions], Fit]
InferenceMethod = Callable[[Fit, RunOptions], InferenceResult]

ESTIMATORS: dict[str, Estimator] = {
    "twfe": twfe.fit_twfe,
    "2x2": twfe.fit_twfe,
    "cs": cs.fit_cs,
    "imputation": imputation.fit_imputation,
}
# (estimator, inference method) -> function; a pair not listed is "not available"
INFERENCE_METHODS: dict[tuple[str, str], InferenceMethod] = {
    ("twfe", "crv1"): crv1,
    ("2x2", "crv1"): crv1,
    ("imputation", "crv1"): crv1,
    ("cs", "crv1"): cs.crv1_normal,
    ("twfe", "wild_restricted"): twfe.wild_restricted,
    ("2x2", "wild_restricted"): twfe.wild_restricted,
    ("twfe", "wild_unrestricted"): twfe.wild_unrestricted,
    ("2x2", "wild_unrestricted"): twfe.wild_unrestricted,
    ("cs", "wild_unrestricted"): cs.multiplier,
    ("twfe", "ri"): placebo.ri_projection,
    ("2x2", "ri"): placebo.ri_projection,
    ("cs", "ri"): placebo.ri_by_refit,
    ("imputation", "ri"): placebo.ri_by_refit,
}


def _run(panel: Panel, opts: RunOptions) -> DidResult:
    """Fit the estimator, run each requested inference method, build the result."""
    fit = ESTIMATORS[opts.method](panel, opts)
    results: dict[str, InferenceResult] = {}
    for m in opts.inference:
        method = INFERENCE_METHODS.get((opts.method, m))
        results[m] = method(fit, opts) if method else _unavailable(m, opts.method)
    if fit.finish is not None:
        fit.finish(results)
    diagnostics = {**fit.diagnostics, **_ri_diag(fit.cache.get("ri_dropped"))}
    return _headline(
        fit.estimate,
        results,
        opts.method,
        panel_counts(panel),
        se=fit.se,
        diagnostics=diagnostics,
        **fit.result,
    )


UNAVAILABLE = "not available for method"


def _unavailable(name: str, method: str) -> InferenceResult:
    return InferenceResult(name, float("nan"), note=f"{UNAVAILABLE} '{method}'")


def _ri_diag(dropped: int | None) -> dict:
    return {} if dropped is None else {"ri_dropped_draws": dropped}


def _has_interval(result: InferenceResult) -> bool:
    bounds = (result.ci_low, result.ci_high)
    return all(b is not None and math.isfinite(b) for b in bounds)


def _headline(
    est: float,
    results: dict[str, InferenceResult],
    method: str,
    counts: dict,
    se: float | None = None,
    **extra,
) -> DidResult:
    """The interval of the first method not flagged unreliable; its SE, or the analytic one.

    A method not available for the estimator never heads it, and one with an interval
    heads before one without (RI of ``cs`` gives none). When every requested method
    is flagged, CRV1 (shown, flagged) is the fallback; a wild
    bootstrap flagged with too few treated clusters never heads the result: with only such
    methods the headline is the estimate with the analytic SE and no interval.
    """
    available = [r for r in results.values() if not (r.note or "").startswith(UNAVAILABLE)]
    trusted = [r for r in available if not inf.is_unreliable(r.note)]
    fallback = [r for r in available if not r.method.startswith("wild")]
    ranked = [*trusted, *fallback]
    with_interval = [r for r in ranked if _has_interval(r)]
    first = (with_interval or ranked or [None])[0]
    if first is None:
        return DidResult(
            est, se, None, None, results, method=method, headline_method=None, **counts, **extra
        )
    head_se = first.se if first.se is not None else se
    return DidResult(
        est,
        head_se,
        first.ci_low,
        first.ci_high,
        results,
        method=method,
        headline_method=first.method,
        **counts,
        **extra,
    )
