"""One random stream per resampling method and per item of a loop, derived from one seed.

A result is then a function of its own inputs only: the RI p-value does not change when
the wild bootstrap is requested too, and an outcome's draws do not change with the list
of outcomes around it.
"""

from __future__ import annotations

import zlib

import numpy as np

# One random stream per resampling method, in a fixed order: the draws of one method never
# depend on which other methods were requested (CRV1 draws nothing). "ri_pretrend" samples
# the RI pre-trend test's assignments when they are too many to enumerate (appended last:
# the streams before it keep their draws).
STREAMS = ("wild", "ri", "ri_pretrend")


def _seed_sequence(seed: int | np.random.SeedSequence) -> np.random.SeedSequence:
    return seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)


def method_rng(seed: int | np.random.SeedSequence, method: str) -> np.random.Generator:
    """The random stream of one resampling method (one of :data:`STREAMS`), from ``seed``."""
    base = _seed_sequence(seed)
    child = np.random.SeedSequence(base.entropy, spawn_key=(*base.spawn_key, STREAMS.index(method)))
    return np.random.default_rng(child)


def keyed_seed(seed: int | np.random.SeedSequence, key: str) -> np.random.SeedSequence:
    """A seed of its own for one item of a loop (an outcome), keyed by its name.

    Keyed by name, not by position: an outcome's draws do not change when the list of
    outcomes around it does.
    """
    base = _seed_sequence(seed)
    return np.random.SeedSequence(
        base.entropy, spawn_key=(*base.spawn_key, zlib.crc32(key.encode("utf-8")))
    )
