"""HonestDiD sensitivity (estimators/did/honest.py) against R HonestDiD's own output.

Reference numbers and where they come from
------------------------------------------
[BC data]  BCdata_EventStudy (Benzarti & Carloni 2019, restaurant profits; 4 pre, 4 post,
           reference 2008), shipped by R HonestDiD as data/BCdata_EventStudy.rda
           (asheshrambachan/HonestDiD); the same numbers are in
           anzonyquispe/honestdid tests/test_data_bcdata.json.
[R-JSON]   anzonyquispe/honestdid tests/r_test_results.json, written by that repo's
           tests/test_honestdid.R with R HonestDiD (l_vec = first post period).
           Re-run here from the authors' R source (HonestDiD 0.2.8, commit 6813f02):
           fixtures/honest/run_bc_rm.R -> r_local_bc_rm_first.json, identical to 1e-15.
[R-grid]   fixtures/honest/run_grid.R -> r_local_bc_rm_grids.json: R's full accept/reject
           grids of computeConditionalCS_DeltaRM (same R source) for other targets.
[Vignette] data/VignetteResults.rda of asheshrambachan/HonestDiD (removed in 0bbadb9,
           read at 0bbadb9~1): the authors' stored LW_DeltaSD_RobustResults (FLCI,
           LWdata_EventStudy, l_vec = basisVector(17, 23)).
"""

from __future__ import annotations

import os

# one BLAS thread: the FLCI optimiser otherwise spins threads on a 2-core machine
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import json  # noqa: E402
import pathlib  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from proeftuin.estimators.did import honest, honest_rm  # noqa: E402

REF = pathlib.Path(__file__).parent / "fixtures" / "honest"
warnings.simplefilter("ignore")

# [BC data]
BC_BETA = np.array([
    0.0066963518038392067, 0.029345033690333366, -0.0064729722216725349, 0.073014989495277405,
    0.1959611177444458, 0.31206390261650085, 0.23954154551029205, 0.12604250013828278,
])  # fmt: skip
BC_SIGMA = np.array(json.loads((REF / "bcdata_eventstudy.json").read_text())["sigma"])
PRE, POST = 4, 4
# R's test-inversion grid for Delta^RM: 1000 points on +/- 20 sd(theta) -> one step
SD_FIRST = float(np.sqrt(BC_SIGMA[4, 4]))
STEP = 40 * SD_FIRST / 999

# [R-JSON] createSensitivityResults_relativeMagnitudes(..., Mbarvec = c(.5, 1, 1.5, 2)), C-LF
R_RM_FIRST = {
    0.5: (0.11812948578177346, 0.27158386602562062),
    1.0: (0.06723125075039843, 0.31868372530838568),
    1.5: (0.013294315120135292, 0.36958196033976071),
    2.0: (-0.042161970809571847, 0.3794577372861469),  # R warns: open at the grid end
}
# [R-JSON] createSensitivityResults(..., Mvec = c(0, .01, .02, .03)), FLCI
R_SD_FIRST = {
    0.00: (0.13141131596381356, 0.216169648209591),
    0.01: (0.1549652670807741, 0.2703845303265206),
    0.02: (0.17730108790014376, 0.31595646819476952),
    0.03: (0.18940446443439926, 0.34854775003919292),
}
# [R-JSON] constructOriginalCS
R_ORIGINAL = (0.15877494280765034, 0.23314729268124126)
# [Vignette] LW_DeltaSD_RobustResults (FLCI), a subset of M values (the fast ones)
R_LW_SD = {
    0.000: (3.9054468894744465, 8.37472127582028),
    0.030: (-10.5596510766572074, 5.54828029343612),
    0.040: (-14.1037747077283253, 5.38425336226305),
}


def test_r_random_stream():
    # R 4.2.2: set.seed(0); rnorm(4)
    z = honest_rm._r_rnorm(honest_rm._r_mersenne_twister(0), 4)
    np.testing.assert_allclose(
        z, [1.2629542848807933, -0.3262333607056494, 1.3297992629225006, 1.2724293214294047],
        rtol=0, atol=1e-14,
    )  # fmt: skip
    # R: set.seed(0); mvtnorm::rmvnorm(3, sigma = matrix(c(2, .5, .5, 1), 2))
    x = honest_rm._r_rmvnorm(3, np.array([[2.0, 0.5], [0.5, 1.0]]), seed=0)
    np.testing.assert_allclose(
        x,
        [[1.69755441792305350, -0.053164221526101119],
         [2.12744286044976416, 1.523768678852165381],
         [0.25581090230264586, -1.418215377787280573]],
        rtol=0, atol=1e-13,
    )  # fmt: skip


def test_original_ci_matches_r():
    lo, hi = honest.original_ci(BC_BETA, BC_SIGMA, PRE, POST)
    assert lo == pytest.approx(R_ORIGINAL[0], abs=1e-9)
    assert hi == pytest.approx(R_ORIGINAL[1], abs=1e-9)


@pytest.mark.parametrize("mbar", [0.5, 1.0, 2.0])  # 1.5 is bracketed by the breakdown test
def test_rm_first_period_matches_r(mbar):
    lo, hi = honest.rm_interval(BC_BETA, BC_SIGMA, PRE, POST, mbar)
    # same grid point as R (tolerance well below one grid step of ~7.6e-4)
    assert lo == pytest.approx(R_RM_FIRST[mbar][0], abs=1e-9)
    assert hi == pytest.approx(R_RM_FIRST[mbar][1], abs=1e-9)


def _r_grids():
    return json.loads((REF / "r_local_bc_rm_grids.json").read_text())


@pytest.mark.parametrize("key", ["avg_1", "avg_0.5", "first_0", "third_1"])
def test_rm_other_targets_match_r_grid(key):
    g = _r_grids()[key]
    mbar = g["Mbar"][0] if isinstance(g["Mbar"], list) else g["Mbar"]
    grid, acc = np.array(g["grid"]), np.array(g["accept"])
    lo, hi = honest.rm_interval(BC_BETA, BC_SIGMA, PRE, POST, mbar, l_vec=np.array(g["l_vec"]))
    assert lo == pytest.approx(grid[acc == 1].min(), abs=1e-9)
    assert hi == pytest.approx(grid[acc == 1].max(), abs=1e-9)


def test_rm_every_grid_decision_matches_r():
    """All 1000 accept/reject decisions of R at Mbar = 1 (first post period)."""
    g = _r_grids()["first_1"]
    grid, acc_r = np.array(g["grid"]), np.array(g["accept"])
    lv = np.array(g["l_vec"])
    setups = honest_rm._rm_setups(BC_BETA, BC_SIGMA, PRE, POST, lv, 1.0, 0.005, 1000, 0)
    acc = [
        any(not honest_rm._arp_lf_test(s.Y - s.a1 * th, s.X, s.SY, 0.05, 0.005, s.lf_cv, s.lp)
            for s in setups)
        for th in grid
    ]  # fmt: skip
    assert np.array_equal(np.array(acc, dtype=float), acc_r)


@pytest.mark.parametrize("m", sorted(R_SD_FIRST))
def test_sd_flci_first_period_close_to_r(m):
    # R's FLCI is itself a numerical optimum (CVXR + bisection over the half-length):
    # agreement to 1e-3 (about 1% of the CI width) is what independent ports reach.
    lo, hi = honest.sd_interval(BC_BETA, BC_SIGMA, PRE, POST, m)
    assert lo == pytest.approx(R_SD_FIRST[m][0], abs=1e-3)
    assert hi == pytest.approx(R_SD_FIRST[m][1], abs=1e-3)


@pytest.mark.parametrize("m", sorted(R_LW_SD))
def test_sd_flci_lw_close_to_authors_vignette(m):
    lw = json.loads((REF / "lwdata_eventstudy.json").read_text())
    lv = np.zeros(23)
    lv[16] = 1.0  # basisVector(15 - (-2), 23): 15 years of exposure
    lo, hi = honest.sd_interval(np.array(lw["betahat"]), np.array(lw["sigma"]), 9, 23, m, l_vec=lv)
    width = R_LW_SD[m][1] - R_LW_SD[m][0]
    assert lo == pytest.approx(R_LW_SD[m][0], abs=0.005 * width)
    assert hi == pytest.approx(R_LW_SD[m][1], abs=0.005 * width)


def test_robust_intervals_table():
    tab = honest.robust_intervals(BC_BETA, BC_SIGMA, PRE, POST, mbar_grid=[1.0], m_grid=[0.0])
    assert list(tab.columns) == ["restriction", "M", "lower", "upper", "method", "open"]
    assert list(tab["restriction"]) == ["original", "RM", "SD"]
    assert tab.loc[1, "lower"] == pytest.approx(R_RM_FIRST[1.0][0], abs=1e-9)


def test_breakdown_value_rm_first_period():
    # R's table: the robust CI excludes 0 at Mbar = 1.5 and includes it at Mbar = 2
    bd = honest.breakdown_value(BC_BETA, BC_SIGMA, PRE, POST, "RM", upper=2.0, tol=0.25)
    assert 1.5 < bd <= 2.0
    # a conventional interval that already includes zero breaks down at once
    assert honest.breakdown_value(BC_BETA * 0.1, BC_SIGMA, PRE, POST, "RM") == 0.0


def test_input_checks():
    with pytest.raises(ValueError):
        honest.rm_interval(BC_BETA[:-1], BC_SIGMA, PRE, POST, 1.0)
    with pytest.raises(NotImplementedError):
        honest.rm_interval(BC_BETA[:5], BC_SIGMA[:5, :5], PRE, 1, 1.0)
