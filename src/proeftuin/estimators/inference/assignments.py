"""Placebo assignments of randomization inference, kept compact: per draw only the slots
(clusters or units) that receive a start label and their labels, ``draws x k`` numbers
instead of a ``draws x slots`` matrix, so memory does not grow with slots times draws.

Uniform permutations of the start labels (enumerated exactly when few enough) and placebo
sites within one larger area; :mod:`inference` expands them to the dense matrices the
synthetic-control and ITS placebo tests use. The random stream is consumed call for call
as the dense drawing always did, so a seed gives the same draws.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from proeftuin.estimators.checks import DesignError

CHUNK_ELEMENTS = 1 << 22  # dense scratch per batch of draws (32 MiB of float64)
#: Randomization inference enumerates every placebo assignment when there are at most this
#: many (and says "exact"); beyond it, it samples and reports the Monte Carlo error. Used
#: where a draw costs no refit (the DiD's projection, the ITS's batched fit); an estimator
#: refitted per draw enumerates only up to its number of draws.
EXACT_BUDGET = 300_000


@dataclass
class Draws:
    """Placebo assignments: draw b gives label ``labels[b, j]`` to slot ``slots[b, j]``
    (slots ascending within a draw); every other slot keeps label 0 (untreated)."""

    slots: np.ndarray  # draws x k, int64
    labels: np.ndarray  # draws x k, the labels' dtype
    n_slots: int
    exact: bool
    weights: np.ndarray | None = None  # per draw (placebo sites), else equal weights
    n_areas: int | None = None  # areas holding a placebo site (placebo sites within areas)

    def __len__(self) -> int:
        return len(self.slots)

    def dense(self) -> np.ndarray:
        """The draws x slots matrix of start labels."""
        out = np.zeros((len(self.slots), self.n_slots), dtype=self.labels.dtype)
        out[np.arange(len(self.slots))[:, None], self.slots] = self.labels
        return out

    def row(self, b: int) -> np.ndarray:
        """The start label of every slot in draw ``b``."""
        out = np.zeros(self.n_slots, dtype=self.labels.dtype)
        out[self.slots[b]] = self.labels[b]
        return out


def _sorted(slots: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(slots, axis=1, kind="stable")
    return np.take_along_axis(slots, order, 1), np.take_along_axis(labels, order, 1)


def count_assignments(labels: np.ndarray) -> int:
    """Number of distinct ways to deal the cluster labels (multinomial coefficient)."""
    _, counts = np.unique(labels, return_counts=True)
    total, out = int(counts.sum()), 1
    for c in counts:
        out *= math.comb(total, int(c))
        total -= int(c)
    return out


def combinations(n: int, k: int) -> np.ndarray:
    """Every k-subset of ``range(n)`` as a C(n, k) x k array, rows in the lexicographic
    order of ``itertools.combinations`` (a test ties the two): built column by column in
    numpy, which at a few hundred thousand subsets is ~10x faster than the tuples."""
    if k == 0:
        return np.zeros((1, 0), dtype=np.int64)
    out = np.arange(n - k + 1, dtype=np.int64)[:, None]
    for j in range(1, k):
        last = out[:, -1]
        counts = n - k + j - last  # the next element runs from last + 1 to n - k + j
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        out = np.column_stack(
            [np.repeat(out, counts, axis=0), np.repeat(last + 1, counts) + offsets]
        )
    return out


def enumerate_compact(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every distinct arrangement of the non-zero labels over the slots: (slots, labels).

    The order is that of dealing the smallest label first over the free slots in
    lexicographic order of combinations, then the next label over the slots left.
    """
    values, counts = np.unique(labels[labels != 0], return_counts=True)
    n = len(labels)
    k = int(counts.sum())
    pos_rows: list[list[int]] = []
    lab_rows: list[list] = []

    def deal(free: tuple[int, ...], level: int, pos: list[int], lab: list) -> None:
        if level == len(values):
            pos_rows.append(pos)
            lab_rows.append(lab)
            return
        for chosen in itertools.combinations(free, int(counts[level])):
            rest = tuple(i for i in free if i not in chosen)
            deal(rest, level + 1, pos + list(chosen), lab + [values[level]] * len(chosen))

    deal(tuple(range(n)), 0, [], [])
    slots = np.array(pos_rows, dtype=np.int64).reshape(-1, k)
    labs = np.array(lab_rows, dtype=labels.dtype).reshape(-1, k)
    return _sorted(slots, labs)


def enumerate_dense(labels: np.ndarray) -> np.ndarray:
    """All distinct arrangements of treated labels over clusters (rest keep label 0)."""
    slots, labs = enumerate_compact(labels)
    return Draws(slots, labs, len(labels), True).dense()


def uniform_draws(
    labels: np.ndarray, draws: int, rng: np.random.Generator, budget: int | None = None
) -> Draws:
    """Start labels per placebo draw, permuted over all slots; exact when few enough.

    Exact (every distinct arrangement, the observed one included) when there are at most
    ``budget`` of them (default ``draws``; :data:`EXACT_BUDGET` where draws are cheap);
    otherwise ``draws`` uniform random permutations (one ``rng.permutation`` call per draw).
    """
    labels = np.asarray(labels)
    if count_assignments(labels) <= max(draws, budget or 0):
        return Draws(*enumerate_compact(labels), len(labels), True)
    n, k = len(labels), int(np.count_nonzero(labels))
    values, codes = np.unique(labels, return_inverse=True)  # shuffled as small codes: the
    codes = codes.astype(np.min_scalar_type(len(values)))  # same stream, less memory
    zero = int(np.searchsorted(values, 0))
    per_chunk = max(1, CHUNK_ELEMENTS // max(n, 1))
    slots = np.empty((draws, k), dtype=np.int64)
    labs = np.empty((draws, k), dtype=labels.dtype)
    buf = np.empty((min(per_chunk, draws), n), dtype=codes.dtype)
    for start in range(0, draws, per_chunk):
        m = min(per_chunk, draws - start)
        buf[:m] = codes
        for j in range(m):
            rng.shuffle(buf[j])  # what rng.permutation(labels) does to its copy
        rows, cols = np.nonzero(buf[:m] != zero)  # row-major: slots ascending in a draw
        slots[start : start + m] = cols.reshape(m, k)
        labs[start : start + m] = values[buf[:m][rows, cols]].reshape(m, k)
    return Draws(slots, labs, n, False)


def grouped_draws(
    labels: np.ndarray,
    groups: np.ndarray,
    draws: int,
    rng: np.random.Generator,
    budget: int | None = None,
) -> Draws:
    """Placebo sites inside one larger area: start labels per draw, exactness, weights.

    ``labels`` are the start labels per assignment slot (0 = untreated), ``groups`` the
    area code per slot (negative = no area). A draw picks one area at random among those
    with at least k eligible (untreated) slots, k = number of treated slots, then k
    eligible slots inside it, and deals the observed start labels over them. Areas are
    equally likely, so each draw's weight is one over the number of areas times the number
    of placebo sets in its area; when the sets number at most ``budget`` (default
    ``draws``) all are enumerated with those weights, otherwise ``draws`` are sampled with
    equal weights. The observed assignment is never among the placebo sets. ``n_areas`` of
    the result is the number of areas that hold a placebo site.
    """
    labels = np.asarray(labels)
    groups = np.asarray(groups)
    treated = labels[labels != 0]
    k = len(treated)
    eligible = (labels == 0) & (groups >= 0)
    members = {
        int(gv): np.flatnonzero(eligible & (groups == gv)) for gv in np.unique(groups[eligible])
    }
    members = {gv: m for gv, m in members.items() if len(m) >= k}
    if not members:
        raise DesignError(f"no placebo area has {k} untreated units to draw a placebo site")
    arrangements = enumerate_dense(treated)  # distinct orders of the treated labels
    per_group = {gv: math.comb(len(m), k) * len(arrangements) for gv, m in members.items()}
    n, n_areas = len(labels), len(members)
    if sum(per_group.values()) <= max(draws, budget or 0):
        slot_parts, lab_parts, weight_parts = [], [], []
        for gv, m in members.items():
            sets = m[combinations(len(m), k)]
            slot_parts.append(np.repeat(sets, len(arrangements), axis=0))
            lab_parts.append(np.tile(arrangements, (len(sets), 1)).astype(labels.dtype))
            weight_parts.append(np.full(per_group[gv], 1.0 / (n_areas * per_group[gv])))
        slots, out = _sorted(np.concatenate(slot_parts), np.concatenate(lab_parts))
        return Draws(slots, out, n, True, np.concatenate(weight_parts), n_areas)
    keys = list(members)
    slots = np.empty((draws, k), dtype=np.int64)
    labs = np.empty((draws, k), dtype=labels.dtype)
    for b in range(draws):
        m = members[keys[rng.integers(len(keys))]]
        labs[b] = rng.permutation(treated)  # drawn before the slots, as it always was
        slots[b] = rng.choice(m, k, replace=False)
    return Draws(*_sorted(slots, labs), n, False, np.full(draws, 1.0 / draws), n_areas)
