"""The compiled Frank–Wolfe solver against a plain transcription of synthdid's
``sc.weight.fw`` (the array version the project ran before): the same steps and the same
weights to rounding, on problems shaped like the notebooks' (few pre-periods, hundreds of
donors, 10,000 steps), with and without an intercept, from uniform and sparse starts."""

from __future__ import annotations

import numpy as np
import pytest

from proeftuin.estimators.synth.weights import frank_wolfe


def reference(y, zeta, intercept, x0, min_decrease, max_iter):
    """synthdid's loop, one problem at a time, the gradient and A x recomputed each step."""
    xs, steps = [], []
    for p in range(len(y)):
        yp = y[p] - y[p].mean(axis=0) if intercept else y[p]
        a, b = yp[:, :-1], yp[:, -1]
        m = len(b)
        x, z2, tol = x0[p].copy(), zeta[p] ** 2, min_decrease[p] ** 2
        eta = m * z2
        prev, t = np.inf, 0
        while t < max_iter:
            t += 1
            ax = a @ x
            half_grad = (ax - b) @ a + eta * x
            i = int(np.argmin(half_grad))
            dx = -x.copy()
            dx[i] += 1.0
            d_err = a[:, i] - ax
            den = d_err @ d_err + eta * dx @ dx
            step = min(max(-(half_grad @ dx) / den, 0.0), 1.0) if den > 0 else 0.0
            x = x + step * dx
            err = a @ x - b
            val = z2 * x @ x + err @ err / m
            if t >= 2 and not (prev - val > tol):
                break
            prev = val
        xs.append(x)
        steps.append(t if max_iter else 0)
    return np.array(xs), np.array(steps)


@pytest.mark.parametrize(
    ("m", "n", "intercept", "sparse", "max_iter"),
    [
        (2, 300, True, False, 10_000),  # SDID unit weights, two pre-periods: all 10,000 steps
        (3, 120, True, True, 10_000),  # after sparsifying
        (40, 3, True, False, 10_000),  # time weights: many donors, few periods
        (6, 50, False, False, 10_000),  # synthetic control: no intercept
        (4, 30, True, False, 100),  # the round before sparsifying
        (4, 30, True, False, 0),
    ],
)
def test_compiled_solver_takes_synthdids_steps(m, n, intercept, sparse, max_iter) -> None:
    rng = np.random.default_rng(m * 1000 + n)
    batch = 6
    y = rng.normal(size=(batch, m, n + 1)).cumsum(axis=1) + rng.normal(size=(batch, 1, n + 1))
    x0 = np.full((batch, n), 1 / n)
    if sparse:
        x0 = np.where(rng.random((batch, n)) < 0.1, rng.random((batch, n)), 0.0)
        x0[:, 0] += 0.1
        x0 /= x0.sum(axis=1, keepdims=True)
    zeta = rng.uniform(0.05, 1.0, batch)
    min_decrease = 1e-5 * rng.uniform(0.5, 2.0, batch)
    x, steps = frank_wolfe(y, zeta, intercept, x0, min_decrease, max_iter)
    x_ref, steps_ref = reference(y, zeta, intercept, x0, min_decrease, max_iter)
    np.testing.assert_array_equal(steps, steps_ref)
    np.testing.assert_allclose(x, x_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(x.sum(axis=1), 1.0, atol=1e-12)
    assert (x >= 0).all()
    if max_iter:
        assert not np.allclose(x, x0)  # the solver moved
