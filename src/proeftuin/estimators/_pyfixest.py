"""Every use of pyfixest beyond its documented interface, in one place.

The estimators need a few things pyfixest computes but does not publish: the number of
clusters of a fit, its coefficient vector and covariance matrix in coefficient order,
the GMM variance of Gardner's two-stage estimator, and the fixed-effects demeaning used
for the wild bootstrap and randomization inference. They are private attributes and
functions of pyfixest (``Feols._G``, ``_beta_hat``, ``_vcov``, ``_coefnames``,
``pyfixest.did.did2s._did2s_vcov``, ``pyfixest.core.demean.demean``), so an upgrade may
move them: ``tests/test_pyfixest_compat.py`` pins what is assumed here against the locked
version (``PINNED_VERSION``) on a tiny example.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyfixest as pf
from pyfixest.core.demean import demean as _demean
from pyfixest.did.did2s import _did2s_vcov

PINNED_VERSION = "0.60.0"  # requirements.lock; the compatibility test checks it

feols = pf.feols


def n_clusters(fit: Any) -> int:
    """The smallest number of clusters of a fit's cluster variables (pyfixest's ``_G``)."""
    return int(np.min(fit._G))


def coefficient_names(fit: Any) -> list[str]:
    """Coefficient names in the order of :func:`coefficients` and :func:`vcov`."""
    return list(fit._coefnames)


def coefficients(fit: Any) -> np.ndarray:
    """The coefficient vector (``_beta_hat``)."""
    return np.asarray(fit._beta_hat)


def vcov(fit: Any) -> np.ndarray:
    """The coefficient covariance matrix of the fit's vcov type (``_vcov``)."""
    return np.asarray(fit._vcov)


def did2s_vcov(**kwargs: Any) -> np.ndarray:
    """Gardner's two-stage GMM variance (``pyfixest.did.did2s._did2s_vcov``)."""
    v, _ = _did2s_vcov(**kwargs)
    return np.asarray(v)


def demean(
    a: np.ndarray, fe: np.ndarray, weights: np.ndarray, tol: float, maxiter: int
) -> np.ndarray:
    """Columns of ``a`` with the fixed effects ``fe`` (codes, n x k) partialled out."""
    out, _ = _demean(a, fe, weights, tol=tol, maxiter=maxiter)
    return out
