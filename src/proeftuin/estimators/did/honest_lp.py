"""The eta linear program of the ARP conditional test with nuisance parameters (R
HonestDiD's ``.test_delta_lp_fn``): min eta s.t. y - X delta <= eta * sd, solved for many y
with X and sd fixed. Part of the translation of R HonestDiD in :mod:`honest_rm` (MIT; the
notice is there). Where the dual's vertices can be enumerated the LP is not solved at all:
its value is the largest lambda'y over them (:func:`_dual_vertices`); otherwise HiGHS
(``highspy``, warm-started, else scipy's).
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
from scipy.optimize import linprog

try:  # optional: HiGHS through highspy lets one model be re-solved with new data
    import highspy as _highspy
except ImportError:  # pragma: no cover - scipy's own HiGHS is used instead
    _highspy = None


class _EtaLP:
    """min eta s.t. y - X delta <= eta * sd, for many y with X and sd fixed.

    With highspy the model is built once and only the row bounds change; ``warm=True``
    keeps the previous basis (used where only the optimal value matters: the
    least-favourable critical value), otherwise the solver is reset so that the dual
    solution (lambda) does not depend on the order of the calls. Where the dual's vertices
    can be enumerated (:func:`_dual_vertices`) no LP is solved: eta is the largest
    lambda'y over them and lambda the vertex that attains it.
    """

    def __init__(self, X: np.ndarray, sd: np.ndarray):
        self.X, self.sd = X, sd
        self.m, self.k = X.shape
        self.C = -np.column_stack([sd, X])
        self.h = None
        self.vertices = _dual_vertices(X, sd)
        if _highspy is not None and self.vertices is None:
            h = _highspy.Highs()
            h.setOptionValue("output_flag", False)
            h.setOptionValue("log_to_console", False)
            h.setOptionValue("simplex_strategy", 1)  # dual simplex, as R (lpSolveAPI)
            inf = _highspy.kHighsInf
            lp = _highspy.HighsLp()
            lp.num_col_, lp.num_row_ = self.k + 1, self.m
            lp.col_cost_ = np.r_[1.0, np.zeros(self.k)]
            lp.col_lower_ = np.full(self.k + 1, -inf)
            lp.col_upper_ = np.full(self.k + 1, inf)
            lp.row_lower_ = np.full(self.m, -inf)
            lp.row_upper_ = np.zeros(self.m)
            lp.a_matrix_.format_ = _highspy.MatrixFormat.kColwise
            lp.a_matrix_.start_ = np.arange(0, (self.k + 2) * self.m, self.m, dtype=np.int32)
            lp.a_matrix_.index_ = np.tile(np.arange(self.m, dtype=np.int32), self.k + 1)
            lp.a_matrix_.value_ = self.C.T.ravel().astype(float)
            lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = self.k + 1, self.m
            h.passModel(lp)
            self.h = h
            self._rows = np.arange(self.m, dtype=np.int32)
            self._lo = np.full(self.m, -inf)

    def solve(self, y: np.ndarray, warm: bool = False):
        """Returns (eta, lambda, ok); lambda >= 0 are the multipliers of the m rows."""
        if self.vertices is not None:
            values = self.vertices @ np.asarray(y, dtype=float)
            best = int(np.argmax(values))
            return float(values[best]), self.vertices[best].copy(), True
        if self.h is None:
            res = linprog(
                c=np.r_[1.0, np.zeros(self.k)], A_ub=self.C, b_ub=-y,
                bounds=[(None, None)] * (self.k + 1), method="highs-ds",
            )  # fmt: skip
            if res.status != 0:
                return np.nan, None, False
            return float(res.fun), -np.asarray(res.ineqlin.marginals), True
        h = self.h
        if not warm:
            h.clearSolver()
        h.changeRowsBounds(self.m, self._rows, self._lo, -np.asarray(y, dtype=float))
        h.run()
        if h.getModelStatus() != _highspy.HighsModelStatus.kOptimal:
            return np.nan, None, False
        sol = h.getSolution()
        return h.getInfo().objective_function_value, -np.asarray(sol.row_dual), True


def _eta_lp(y: np.ndarray, X: np.ndarray, sd: np.ndarray):
    """min eta s.t. y - X delta <= eta * sd; returns (eta, lambda, ok)."""
    return _EtaLP(X, sd).solve(y)


#: Most candidate bases the vertex enumeration of :func:`_dual_vertices` tries (C(14, 7) =
#: 3,432 for seven post-periods); beyond it the critical value solves one LP per draw.
MAX_BASES = 50_000


def _dual_vertices(X: np.ndarray, sd: np.ndarray) -> np.ndarray | None:
    """Every vertex of the eta LP's dual feasible set {lam >= 0, sd'lam = 1, X'lam = 0}.

    The LP's value at any y is the largest lam'y over these vertices (LP duality: the set
    is a bounded polytope since sd > 0), so one enumeration serves every draw of the
    least-favourable critical value: the same values as one LP per draw (to 1e-12 on the
    mortality event studies), some 20x faster. The vertices are the extreme rays of the
    cone {lam >= 0, X'lam = 0} scaled to sd'lam = 1; the rays depend on X only, which
    Delta^RM's Mbar does not change, so they are enumerated once per X (:func:`_cone_rays`).
    None when the enumeration would try more than :data:`MAX_BASES` bases or finds no
    vertex (then the LPs decide).
    """
    X = np.ascontiguousarray(X, dtype=float)
    rays = _cone_rays(X.tobytes(), X.shape)
    return None if rays is None else rays / (rays @ sd)[:, None]


@functools.lru_cache(maxsize=256)
def _cone_rays(x_bytes: bytes, shape: tuple[int, int]) -> np.ndarray | None:
    """The vertices of {lam >= 0, 1'lam = 1, X'lam = 0}: one point on each extreme ray."""
    X = np.frombuffer(x_bytes).reshape(shape)
    W = np.column_stack([np.ones(shape[0]), X])
    m, r = W.shape
    if m < r or math.comb(m, r) > MAX_BASES:
        return None
    bases = np.array(list(itertools.combinations(range(m), r)))
    mats = W[bases].transpose(0, 2, 1)  # each basis's W_B'
    scale = max(float(np.abs(W).max()), 1e-300) ** r
    regular = np.abs(np.linalg.det(mats)) > 1e-12 * scale
    if not regular.any():
        return None
    e1 = np.zeros((int(regular.sum()), r, 1))
    e1[:, 0, 0] = 1.0
    lam_b = np.linalg.solve(mats[regular], e1)[..., 0]
    feasible = (lam_b >= -1e-10).all(axis=1)
    if not feasible.any():
        return None
    lam = np.zeros((int(feasible.sum()), m))
    np.put_along_axis(lam, bases[regular][feasible], np.maximum(lam_b[feasible], 0.0), axis=1)
    return lam
