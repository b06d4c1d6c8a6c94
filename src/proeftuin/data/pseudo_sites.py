"""Pseudo-sites for the placebo study: untreated municipalities shaped like the real sites.

Each pseudo-site copies one real site's shape: its number of municipalities and its start
year (the real sites start in 2013 or 2014), all drawn within one COROP area, as each real
site lies within one. No pseudo-site holds a municipality that the real registry names
anywhere (a site's municipalities, its later ones, an ``other_initiatives`` entry or any
other code it lists), and pseudo-sites never share a municipality with each other.
"Touching" is judged by shared municipalities: the project has no contiguity data.

The draw is seeded (one stream for the whole draw) and reproducible: the same registry,
municipality list and seed give the same pseudo-sites. :func:`write_registry` writes them
as a registry of the same schema as ``data/sites/pioneer_sites.yml``, with a ``placebo:``
section naming the seed and the excluded municipalities (:class:`~proeftuin.data.sites.Registry`
keeps those, and only those plus a pseudo-site's own, out of its control pool).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from proeftuin.core.errors import DataError
from proeftuin.core.fileio import atomic_write_text
from proeftuin.data.sites import Registry

PREFIX = "pseudo"
CODE = re.compile(r"\bGM\d{4}\b")


@dataclass(frozen=True)
class PseudoSite:
    """One pseudo-site: its municipalities, start year, area and the real site it copies."""

    id: str
    municipalities: tuple[str, ...]
    names: tuple[str, ...]
    start_year: int
    area: str
    area_name: str
    shaped_like: str


def named_codes(registry_path: Path) -> set[str]:
    """Every municipality code the real registry names, in any section (sites, later
    municipalities, other initiatives, contested ones): never part of a pseudo-site."""
    try:
        return set(CODE.findall(registry_path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise DataError(f"{registry_path}: cannot read the registry: {exc.strerror}") from None


def draw_pseudo_sites(
    registry: Registry, covariates: pd.DataFrame, excluded: set[str], n: int, seed: int
) -> list[PseudoSite]:
    """``n`` disjoint pseudo-sites, the real sites' shapes in turn (by site id).

    Shapes are placed largest first; each goes to a COROP area drawn uniformly among those
    with enough unused eligible municipalities, and takes a uniform draw of them.
    Raises :class:`DataError` when the untreated municipalities cannot hold ``n``.
    """
    if n < 1:
        raise DataError(f"--sites: need at least one pseudo-site (got {n})")
    shapes = [
        (site_id, len(site.municipalities), site.start_year)
        for site_id, site in sorted(registry.sites.items())
    ]
    wanted = [shapes[i % len(shapes)] for i in range(n)]
    order = sorted(range(n), key=lambda i: (-wanted[i][1], i))
    eligible = covariates[~covariates["municipality"].isin(excluded)]
    free = {
        area: sorted(group["municipality"])
        for area, group in eligible.groupby("corop_region", sort=True)
    }
    names = dict(zip(covariates["municipality"], covariates["name"], strict=True))
    area_names = dict(zip(covariates["corop_region"], covariates["corop_name"], strict=False))
    rng = np.random.default_rng(seed)
    drawn: dict[int, PseudoSite] = {}
    for i in order:
        like, size, start = wanted[i]
        areas = [a for a, codes in free.items() if len(codes) >= size]
        if not areas:
            raise DataError(
                f"--sites {n}: the untreated municipalities cannot hold {n} disjoint "
                f"pseudo-sites shaped like the real ones (placed largest first, none was left "
                f"for a site of {size} after {len(drawn)}); ask for fewer"
            )
        area = areas[int(rng.integers(len(areas)))]
        picks = sorted(rng.choice(free[area], size=size, replace=False).tolist())
        free[area] = [c for c in free[area] if c not in picks]
        drawn[i] = PseudoSite(
            id=f"{PREFIX}-{i + 1:02d}",
            municipalities=tuple(picks),
            names=tuple(names[c] for c in picks),
            start_year=start,
            area=str(area),
            area_name=str(area_names.get(area, area)),
            shaped_like=like,
        )
    return [drawn[i] for i in range(n)]


def registry_document(pseudo: list[PseudoSite], excluded: set[str], seed: int) -> dict:
    """The pseudo-sites as a registry mapping (the schema of ``pioneer_sites.yml``)."""
    source = f"drawn by proeftuin's placebo study (seed {seed})"
    sites = {
        p.id: {
            "name": f"Pseudo-site {p.id.rsplit('-', 1)[1]} ({p.area_name}, shaped like "
            f"{p.shaped_like})",
            "municipalities": list(p.municipalities),
            "municipality_names": list(p.names),
            "start_year": p.start_year,
            "start_year_reason": f"the start year of {p.shaped_like}, whose shape it copies",
            "lead_insurer": "none (pseudo-site)",
            "status": "confirmed",
            "sources": dict.fromkeys(
                ("site", "municipalities", "start_year", "lead_insurer"), source
            ),  # fmt: skip
        }
        for p in pseudo
    }
    return {"placebo": {"seed": seed, "excluded": sorted(excluded)}, "sites": sites}


def write_registry(path: Path, pseudo: list[PseudoSite], excluded: set[str], seed: int) -> Path:
    """Write the pseudo-sites' registry (read back by ``data.sites.load_registry``)."""
    header = (
        "# Pseudo-sites of the placebo study: untreated municipalities shaped like the real\n"
        "# sites (generated by `proeftuin placebo-study`; do not edit).\n"
    )
    text = yaml.safe_dump(registry_document(pseudo, excluded, seed), sort_keys=False,
                          allow_unicode=True, width=100)  # fmt: skip
    return atomic_write_text(path, header + text)


def pseudo_sites_table(pseudo: list[PseudoSite]) -> pd.DataFrame:
    """One row per pseudo-site: id, shape, start year, area and municipalities."""
    return pd.DataFrame(
        {
            "site": [p.id for p in pseudo],
            "shaped_like": [p.shaped_like for p in pseudo],
            "start_year": [p.start_year for p in pseudo],
            "corop_region": [p.area for p in pseudo],
            "corop_name": [p.area_name for p in pseudo],
            "n_municipalities": [len(p.municipalities) for p in pseudo],
            "municipalities": [";".join(p.municipalities) for p in pseudo],
            "names": [";".join(p.names) for p in pseudo],
        }
    )
