"""The pyfixest internals the estimators rely on exist and behave as assumed.

``estimators/_pyfixest.py`` is the only module that touches them; this test pins them to
the locked version, so an upgrade that moves one fails here, not deep in an estimator.
"""

from __future__ import annotations

import importlib.metadata

import numpy as np
import pandas as pd
import pytest

from proeftuin.estimators import _pyfixest as pfx


def tiny() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n, years = 8, 4
    unit = np.repeat(np.arange(n), years)
    year = np.tile(np.arange(years), n)
    d = ((unit < 3) & (year >= 2)).astype(float)
    return pd.DataFrame(
        {
            "unit": unit,
            "time": year,
            "cl": unit // 2,
            "d": d,
            "x": rng.normal(size=n * years),
            "y": rng.normal(size=n)[unit] + 0.5 * d + rng.normal(size=n * years),
        }
    )


def test_locked_version_is_the_pinned_one() -> None:
    assert importlib.metadata.version("pyfixest") == pfx.PINNED_VERSION


def test_fit_internals_match_the_public_results() -> None:
    fit = pfx.feols("y ~ d + x | unit + time", data=tiny(), vcov={"CRV1": "cl"})
    names = pfx.coefficient_names(fit)
    assert names == list(fit.coef().index) == ["d", "x"]
    np.testing.assert_allclose(pfx.coefficients(fit), fit.coef().to_numpy())
    v = pfx.vcov(fit)
    assert v.shape == (2, 2)
    np.testing.assert_allclose(np.sqrt(np.diag(v)), fit.se().to_numpy())
    assert pfx.n_clusters(fit) == 4


def test_demean_partials_out_both_fixed_effects() -> None:
    df = tiny()
    fe = np.column_stack([pd.factorize(df[c])[0] for c in ("unit", "time")]).astype(np.uint64)
    y = df[["y"]].to_numpy()
    out = pfx.demean(y, fe, np.ones(len(df)), tol=1e-10, maxiter=10_000)[:, 0]
    for col in ("unit", "time"):
        np.testing.assert_allclose(pd.Series(out).groupby(df[col]).mean(), 0.0, atol=1e-8)
    # the within-transformed regression gives the fixed-effects coefficient of d
    dt = pfx.demean(df[["d"]].to_numpy(), fe, np.ones(len(df)), tol=1e-10, maxiter=10_000)
    beta = float(dt[:, 0] @ out / (dt[:, 0] @ dt[:, 0]))
    fit = pfx.feols("y ~ d | unit + time", data=df)
    assert beta == pytest.approx(float(fit.coef()["d"]), rel=1e-8)


def test_did2s_vcov_matches_pyfixest_did2s() -> None:
    df = tiny().assign(treat_flag=lambda f: f["d"].astype(bool))
    untreated = df[df["d"] == 0]
    first = pfx.feols("y ~ 1 | unit + time", data=untreated, fixef_rm="none")
    ytil = df["y"].to_numpy() - np.asarray(first.predict(newdata=df), dtype=float)
    beta = float(ytil @ df["d"] / (df["d"] @ df["d"]))
    v = pfx.did2s_vcov(
        data=df.assign(y_hat=ytil),
        yname="y",
        first_stage="~ 0 | unit + time",
        second_stage="~ 0 + d",
        treatment="treat_flag",
        first_u=np.where(df["d"] == 0, ytil, 0.0),
        second_u=ytil - df["d"].to_numpy() * beta,
        cluster="cl",
        weights=None,
    )
    ref = pfx.pf.did2s(
        df.assign(d=df["d"].astype(bool)),
        yname="y",
        first_stage="~ 0 | unit + time",
        second_stage="~ d",
        treatment="d",
        cluster="cl",
    )
    assert v.shape == (1, 1)
    assert float(ref.coef().iloc[0]) == pytest.approx(beta, rel=1e-8)
    assert float(np.sqrt(v[0, 0])) == pytest.approx(float(ref.se().iloc[0]), rel=1e-6)
