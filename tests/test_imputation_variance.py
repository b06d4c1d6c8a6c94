"""The imputation estimator's GMM variance, computed in memory linear in units, equals
pyfixest's ``did2s`` variance (the dense reference) on small panels: weighted and not,
one start and staggered, with missing rows, covariates and event-study columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from proeftuin.estimators import _pyfixest as pfx
from proeftuin.estimators.did.estimate import Panel, prepare_panel
from proeftuin.estimators.did.imputation import _imputation_fit, gmm_vcov


def frame(seed: int, staggered: bool, gaps: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n, years = 30, np.arange(2010, 2017)
    cl = np.arange(n) // 2
    g = np.where(cl < 3, 2013, np.where((cl < 5) & staggered, 2015, 0)).astype(float)
    df = pd.DataFrame({"unit": np.repeat(np.arange(n), len(years)),
                       "year": np.tile(years, n), "cl": np.repeat(cl, len(years)),
                       "g": np.repeat(g, len(years))})  # fmt: skip
    d = (df["g"] > 0) & (df["year"] >= df["g"])
    df["x"] = rng.normal(size=len(df))
    df["y"] = rng.normal(size=n)[df["unit"]] + 0.3 * df["x"] + d * 1.5 + rng.normal(size=len(df))
    df["w"] = rng.uniform(0.5, 4.0, n)[df["unit"]] * rng.uniform(0.8, 1.2, len(df))
    if gaps:
        df = df.drop(index=rng.choice(len(df), 12, replace=False)).reset_index(drop=True)
    return df


def reference(
    panel: Panel, x2: np.ndarray, cols: list[str], first_u: np.ndarray, second_u: np.ndarray
) -> np.ndarray:
    df = panel.df
    data = df.assign(**{c: x2[:, i] for i, c in enumerate(cols)}, treat_flag=df["d"] == 1)
    first_rhs = "~ " + (" + ".join(panel.covariates) if panel.covariates else "0")
    return pfx.did2s_vcov(data=data, yname="y", first_stage=f"{first_rhs} | unit + time",
                          second_stage="~ 0 + " + " + ".join(cols), treatment="treat_flag",
                          first_u=first_u.copy(), second_u=second_u.copy(), cluster="cl",
                          weights="w" if panel.has_weights else None)  # fmt: skip


DESIGNS = [(False, False, False), (True, True, False), (True, False, True)]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("staggered", "gaps", "covariate"), DESIGNS)
@pytest.mark.parametrize("event_study", [False, True])
def test_gmm_variance_equals_pyfixest(
    weighted: bool, staggered: bool, gaps: bool, covariate: bool, event_study: bool
) -> None:
    panel = prepare_panel(frame(4, staggered, gaps), unit="unit", time="year", outcome="y",
                          treated=None, first_treated="g", cluster="cl",
                          weights="w" if weighted else None,
                          covariates=["x"] if covariate else [])  # fmt: skip
    df = panel.df
    if event_study:
        rel = np.where(df["g"] > 0, df["time"] - df["g"], np.nan)
        cols = [f"e{int(r)}" for r in sorted({r for r in rel[~np.isnan(rel)] if r >= 0})]
        panel.df = df.assign(**{c: (rel == int(c[1:])).astype(float) for c in cols})
    else:
        cols = ["d"]
    beta, ytil, _ = _imputation_fit(panel, cols)
    x2 = panel.df[cols].to_numpy(dtype=float)
    first_u = np.where(panel.df["d"] == 0, ytil, 0.0)
    second_u = ytil - x2 @ beta
    mine = gmm_vcov(panel, x2, first_u, second_u)
    np.testing.assert_allclose(mine, reference(panel, x2, cols, first_u, second_u),
                               rtol=1e-8, atol=1e-12)  # fmt: skip
