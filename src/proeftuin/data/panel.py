"""Build the harmonised municipality x year panel (2023 boundaries) from verified sources,
validate it, and write it atomically with its dictionary, covariates and manifest."""

from __future__ import annotations

import hashlib
import json
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from proeftuin.core import settings
from proeftuin.core.errors import DataError
from proeftuin.core.fileio import write_table
from proeftuin.core.provenance import sha256_files, source_checksums  # noqa: F401 - panel API
from proeftuin.data import components, mortality, outcomes, smr
from proeftuin.data.geography import Geography, allocate_int, build_geography
from proeftuin.data.processed import load_covariates, load_panel  # noqa: F401 - panel API
from proeftuin.sources import cbs, vektis
from proeftuin.sources.fetch import acquire, checksum_table

FILES = ("panel.parquet", "covariates.parquet", "dictionary.csv", "manifest.json")
STANDARD_YEAR = 2015
#: The code the panel is built by, relative to the package: a change rebuilds the panel.
CODE_FILES = ("data/panel.py", "data/geography.py", "data/mortality.py", "data/outcomes.py")
CODE_FILES += ("sources/vektis.py", "sources/cbs.py", "data/smr.py", "data/standardised.py")
CODE_FILES += ("data/components.py",)


@dataclass
class PanelBuild:
    """Result of a build: where the files are, checksums, and a printable summary."""

    panel_path: Path
    manifest: dict
    source_checksums: dict[str, str]
    rebuilt: bool = True
    panel: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def covariates_path(self) -> Path:
        return self.panel_path.with_name("covariates.parquet")


# --------------------------------------------------------------------------- acquisition
def _acquire_all(mirror: Path | None, progress: bool) -> tuple[dict[str, Path], dict[str, str]]:
    table = checksum_table()
    paths, sums = {}, {}
    for source, file in sorted(k for k in table if k[0] in ("vektis", "cbs")):
        path, sha = acquire(source, file, mirror, progress=progress, table=table)
        paths[f"{source}/{file}"], sums[f"{source}/{file}"] = path, sha
    return paths, sums


# --------------------------------------------------------------------------- vektis
def harmonise_cells(cells: pd.DataFrame, geo: Geography, where: str) -> pd.DataFrame:
    """Map names to codes and re-aggregate integer amounts to 2023 municipalities."""
    codes = {
        n: geo.code_of(n, f"{where}: line {int(i) + 2}")
        for n, i in cells.reset_index().groupby("name")["index"].first().items()
    }
    cells = cells.assign(code=cells["name"].map(codes))
    shares = geo.shares(cells["code"], where).sort_values(
        ["code", "share"], ascending=[True, False]
    )
    merged = cells.merge(shares, on="code", how="left", sort=False).reset_index(drop=True)
    amount_cols = [c for c in cells.columns if c not in ("name", "sex", "age", "code")]
    split = merged["share"] < 1
    if split.any():
        part = merged[split]
        groups = (part["code"] + "|" + part["sex"] + "|" + part["age"]).to_numpy()
        merged.loc[split, amount_cols] = allocate_int(
            part[amount_cols].to_numpy(), part["share"].to_numpy(), groups
        )
    out = merged.groupby(["code_2023", "sex", "age"], as_index=False)[amount_cols].sum()
    return out.rename(columns={"code_2023": "municipality"})


def _group_cost(cells: pd.DataFrame, group: list[str]) -> pd.Series:
    present = [c for c in group if c in cells.columns]
    return cells[present].sum(axis=1) if present else pd.Series(0, index=cells.index)


def cost_groups(cells: pd.DataFrame, cost_columns: list[str]) -> pd.DataFrame:
    """Cells with one column per cost outcome (cents) plus insured_years (hundredths)."""
    out = cells[["municipality", "sex", "age", "insured", "insured_years"]].copy()
    out["cost_all"] = cells[cost_columns].sum(axis=1)
    out["cost_basket"] = _group_cost(cells, outcomes.BASKET)
    for name, cols in outcomes.GROUPS.items():
        out[f"cost_{name}"] = _group_cost(cells, cols)
    return components.add_columns(out, cells)  # the basket's parts (categories, ages)


def standard_weights(cells_2015: pd.DataFrame) -> pd.Series:
    """Reference population: national insured-years by sex x age in 2015 (shares)."""
    ref = cells_2015.groupby(["sex", "age"])["insured_years"].sum()
    return ref / ref.sum()


def _standardise(cells: pd.DataFrame, names: list[str], weights: pd.Series) -> pd.DataFrame:
    national = cells.groupby(["sex", "age"])[[*names, "insured_years"]].sum()
    nat_rate = national[names].div(national["insured_years"], axis=0)
    full = pd.MultiIndex.from_product(
        [sorted(cells["municipality"].unique()), *weights.index.levels],
        names=["municipality", "sex", "age"],
    )
    grid = cells.set_index(["municipality", "sex", "age"]).reindex(full)
    rate = grid[names].div(grid["insured_years"].where(grid["insured_years"] > 0), axis=0)
    fallback = nat_rate.reindex(full.droplevel(0)).set_axis(full)
    rate = rate.fillna(fallback)
    std = rate.mul(weights.reindex(full.droplevel(0)).to_numpy(), axis=0)
    return std.groupby(level="municipality").sum().rename(columns=lambda c: c + "_std")


def vektis_outcomes(cells: pd.DataFrame, weights: pd.Series) -> pd.DataFrame:
    """Wide frame per municipality: crude and standardised costs, ratio, sums."""
    names = ["cost_" + g for g in ("all", "basket", *outcomes.GROUPS)]
    totals = cells.groupby("municipality")[[*names, "insured_years"]].sum()
    iy = totals["insured_years"]
    wide = totals[names].div(iy, axis=0)  # cents/hundredths = euros per insured-year
    wide["hospital_gp_ratio"] = totals["cost_hospital"] / totals["cost_gp"]
    wide["insured_years"] = iy / 100
    wide["total_cost_all"] = totals["cost_all"] / 100
    wide = wide.join(_standardise(cells, names, weights))
    wide = wide.join(_standardise(cells, components.COLUMNS, weights))  # the basket's parts
    return wide.assign(weight=iy / 100)


def load_vektis(paths: dict[str, Path], geo: Geography) -> tuple[dict, dict]:
    """Harmonised cost cells per year and the raw/residual totals per year."""
    cells, totals = {}, {}
    for year in vektis.YEARS:
        key = f"vektis/vektis_{year}_gemeente.csv"
        parsed = vektis.parse_vektis(paths[key], year)
        harmonised = harmonise_cells(parsed.cells, geo, key)
        cells[year] = cost_groups(harmonised, parsed.cost_columns)
        res = parsed.residual
        totals[year] = {
            "residual_cost_cents": int(res[parsed.cost_columns].sum()),
            "residual_insured_years_x100": int(res["insured_years"]),
        }
    return cells, totals


# --------------------------------------------------------------------------- cbs
def _map_regions(frame: pd.DataFrame, geo: Geography, where: str) -> pd.DataFrame:
    frame = frame[frame["region"].map(geo.is_municipality_name)]
    codes = {r: geo.code_of(r, f"{where}: region") for r in frame["region"].unique()}
    return frame.assign(code=frame["region"].map(codes))


def harmonise_counts(
    frame: pd.DataFrame, geo: Geography, cols: list[str], where: str, by: list[str]
) -> pd.DataFrame:
    """Sum counts into 2023 municipalities (splits allocated by their shares)."""
    m = frame.merge(geo.shares(frame["code"], where), on="code")
    m[cols] = m[cols].mul(m["share"], axis=0)
    return m.groupby([*by, "code_2023"], as_index=False)[cols].sum(min_count=1)


def admissions_outcome(path: Path, geo: Geography, iy: pd.DataFrame) -> pd.DataFrame:
    raw = _map_regions(cbs.admissions(path), geo, path.name).dropna(subset=["admissions"])
    h = harmonise_counts(raw, geo, ["admissions"], path.name, ["year"])
    h = h.rename(columns={"code_2023": "municipality"}).merge(iy, on=["municipality", "year"])
    return h.assign(outcome="admissions_per_1000", value=1000 * h["admissions"] / h["weight"])[
        _LONG
    ]


def survey_outcome(paths: dict[int, Path], geo: Geography, pop: pd.Series) -> pd.DataFrame:
    """Health waves: population-weighted means of parts (NaN if any part is missing)."""
    rows = []
    for wave, path in paths.items():
        raw = _map_regions(cbs.survey(path, wave), geo, path.name)
        m = raw.merge(geo.shares(raw["code"], path.name), on="code")
        m["w"] = m["share"] * m["code"].map(pop)
        if m["w"].isna().any():
            raise DataError(f"{path.name}: no population weight for {m[m.w.isna()].code.iloc[0]}")
        for col in ("value", "ci_low", "ci_high"):
            m[col + "_w"] = m[col] * m["w"]
        g = m.groupby("code_2023")
        part = g[["value_w", "ci_low_w", "ci_high_w"]].sum(min_count=1).div(g["w"].sum(), axis=0)
        part[g["value"].apply(lambda s: s.isna().any())] = np.nan
        rows.append(
            pd.DataFrame(
                {
                    "municipality": part.index,
                    "year": wave,
                    "outcome": "health_good_pct",
                    "value": part["value_w"],
                    "weight": g["w"].sum().to_numpy(),
                    "ci_low": part["ci_low_w"],
                    "ci_high": part["ci_high_w"],
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


_LONG = ["municipality", "year", "outcome", "value", "weight"]


# --------------------------------------------------------------------------- covariates
def covariates(geo: Geography, pop09: pd.DataFrame, kern: pd.DataFrame) -> pd.DataFrame:
    """One row per 2023 municipality: baseline population, 65+ share, regions."""
    h = harmonise_counts(pop09, geo, ["population_2009", "age65_2009"], "80860ned", [])
    h = h.rename(columns={"code_2023": "municipality"})
    k = kern.merge(geo.shares(kern["code"], "70072ned"), on="code")
    k = k.sort_values("population_2015", ascending=False).drop_duplicates("code_2023")
    regions = k.set_index("code_2023")[
        [c for c in kern.columns if c.endswith(("_code", "_region"))]
    ]
    out = geo.municipalities.rename(columns={"code": "municipality"}).merge(h, how="left")
    out = out.merge(regions, left_on="municipality", right_index=True, how="left")
    out["share_65plus_2009"] = out["age65_2009"] / out["population_2009"]
    out = out.rename(
        columns={
            "ggd_region": "ggd_region_name",
            "ggd_code": "ggd_region",
            "care_office_region": "care_office_name",
            "care_office_code": "care_office_region",
            "corop_region": "corop_name",
            "corop_code": "corop_region",
        }
    )
    missing = out[out.isna().any(axis=1)]
    if len(missing):
        raise DataError(f"covariates: key {missing.municipality.iloc[0]}: missing values")
    return out.sort_values("municipality").reset_index(drop=True)


# --------------------------------------------------------------------------- assemble
def _long_vektis(wide_by_year: dict[int, pd.DataFrame]) -> pd.DataFrame:
    frames = []
    for year, wide in wide_by_year.items():
        w = wide.drop(columns="weight").rename_axis("municipality").reset_index()
        long = w.melt(id_vars="municipality", var_name="outcome", value_name="value")
        frames.append(long.assign(year=year, weight=long["municipality"].map(wide["weight"])))
    return pd.concat(frames, ignore_index=True)


def assemble(parts: list[pd.DataFrame], names: pd.Series) -> pd.DataFrame:
    panel = pd.concat(parts, ignore_index=True)
    for col in ("ci_low", "ci_high"):
        if col not in panel:
            panel[col] = np.nan
    panel["name"] = panel["municipality"].map(names)
    panel = panel.astype(
        {
            "year": "int64",
            "value": "float64",
            "weight": "float64",
            "ci_low": "float64",
            "ci_high": "float64",
        }
    )
    cols = ["municipality", "name", "year", "outcome", "value", "weight", "ci_low", "ci_high"]
    return panel[cols].sort_values(["outcome", "year", "municipality"]).reset_index(drop=True)


# --------------------------------------------------------------------------- validation
#: Cells allowed to be missing, with the reason (checked per outcome).
DOCUMENTED_MISSING = {
    "health_good_pct": "2012 wave suppressed for small municipalities (CBS); a merged "
    "municipality is missing when any of its parts is",
    "admissions_per_1000": "suppressed or absent in 84521NED",
}


def panel_schema(n_municipalities: int) -> pa.DataFrameSchema:
    """Types, ranges, uniqueness, and completeness per (outcome, year)."""
    known = list(outcomes.OUTCOMES)

    def complete(df: pd.DataFrame) -> bool:
        return bool(
            (df.groupby(["outcome", "year"])["municipality"].nunique() == n_municipalities).all()
        )

    def documented_missing(df: pd.DataFrame) -> bool:
        return bool(df.loc[df["value"].isna(), "outcome"].isin(DOCUMENTED_MISSING).all())

    return pa.DataFrameSchema(
        {
            "municipality": pa.Column(str, pa.Check.str_matches(r"^GM\d{4}$")),
            "name": pa.Column(str),
            "year": pa.Column("int64", pa.Check.in_range(mortality.FIRST_YEAR, 2023)),
            "outcome": pa.Column(str, pa.Check.isin(known)),
            "value": pa.Column("float64", pa.Check.ge(-1e3), nullable=True),
            "weight": pa.Column("float64", pa.Check.gt(0)),
            "ci_low": pa.Column("float64", nullable=True),
            "ci_high": pa.Column("float64", nullable=True),
        },
        checks=[
            pa.Check(complete, error="every (outcome, year) covers all municipalities"),
            pa.Check(documented_missing, error="missing values only where documented"),
        ],
        unique=["municipality", "year", "outcome"],
        strict=True,
    )


def validate(panel: pd.DataFrame) -> pd.DataFrame:
    try:
        return panel_schema(panel["municipality"].nunique()).validate(panel, lazy=True)
    except (pa.errors.SchemaErrors, pa.errors.SchemaError) as exc:
        raise DataError(f"panel: schema validation failed: {exc}") from exc


# --------------------------------------------------------------------------- build
def _complete(frame: pd.DataFrame, grid: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """Reindex an outcome to every (municipality, year) of ``grid`` (value NaN if absent)."""
    keep = [c for c in frame.columns if c not in ("weight", "outcome")]
    out = grid.merge(frame[keep], on=["municipality", "year"], how="left")
    return out.assign(outcome=outcome)


def _code_fingerprint() -> str:
    root = Path(__file__).resolve().parents[1]  # the proeftuin package
    digest = hashlib.sha256()
    for rel in CODE_FILES:
        digest.update((root / rel).read_bytes())
    for ref in sorted(settings.reference_dir().glob("*.csv")):
        digest.update(ref.read_bytes())
    return digest.hexdigest()


def compute(paths: dict[str, Path]) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Parse, harmonise and assemble: (panel, covariates, vektis totals per year)."""
    c = {k.removeprefix("cbs/"): v for k, v in paths.items() if k.startswith("cbs/")}
    pop09 = cbs.population_2009(c[cbs.POPULATION_2009_FILE])
    geo = build_geography(c[cbs.LIST_FILES[2021]], c[cbs.LIST_FILES[2023]], pop09)
    kern = cbs.kerncijfers_2015(c[cbs.KERNCIJFERS_FILE])
    cells, totals = load_vektis(paths, geo)
    weights = standard_weights(cells[STANDARD_YEAR])
    wide = {y: vektis_outcomes(cells[y], weights) for y in vektis.YEARS}
    iy = pd.concat([w[["weight"]].assign(year=y) for y, w in wide.items()])
    iy = iy.rename_axis("municipality").reset_index()
    adm = admissions_outcome(c[cbs.ADMISSIONS_FILE], geo, iy)
    adm = _complete(adm, iy[iy["year"].between(2013, 2022)], "admissions_per_1000")
    pop = pd.concat(
        [pop09.set_index("code")["population_2009"], kern.set_index("code")["population_2015"]]
    )
    pop23 = harmonise_counts(kern, geo, ["population_2015"], "70072ned", [])
    pop = pd.concat([pop23.set_index("code_2023")["population_2015"], pop])
    pop = pop[~pop.index.duplicated(keep="last")]
    health = survey_outcome({w: c[f] for w, f in cbs.SURVEY_FILES.items()}, geo, pop)
    grid = pd.DataFrame(
        [(m, w) for m in geo.municipalities["code"] for w in cbs.SURVEY_FILES],
        columns=["municipality", "year"],
    )
    grid["weight"] = grid["municipality"].map(pop23.set_index("code_2023")["population_2015"])
    health = _complete(health, grid, "health_good_pct")
    names = geo.municipalities.set_index("code")["name"]
    mort = mortality.panel_rows(paths, geo, cells)  # deaths 1996-2018, 65+ share
    standardised = smr.panel_rows(smr.compute(paths, geo, cells)[0])  # SMR 1999-2019
    panel = validate(assemble([_long_vektis(wide), adm, health, mort, standardised], names))
    cov = covariates(geo, pop09, kern)
    for year, wide_y in wide.items():
        totals[year]["n_municipalities"] = len(wide_y)
    return panel, cov, totals


def _coverage(panel: pd.DataFrame) -> list[dict]:
    ok = panel.dropna(subset=["value"])
    rows = []
    for name, g in panel.groupby("outcome"):
        got = ok[ok["outcome"] == name]
        rows.append(
            {
                "outcome": name,
                "years": sorted(int(y) for y in g["year"].unique()),
                "municipalities": int(got["municipality"].nunique()),
                "cells": len(g),
                "missing": int(g["value"].isna().sum()),
            }
        )
    return rows


def _manifest(
    sums: dict,
    fingerprint: str,
    panel: pd.DataFrame,
    cov: pd.DataFrame,
    totals: dict,
    seconds: float,
) -> dict:
    return {
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "build_seconds": round(seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "code_fingerprint": fingerprint,
        "sources": sums,
        "rows": {"panel": len(panel), "covariates": len(cov)},
        "municipalities": int(panel["municipality"].nunique()),
        "municipality_codes": sorted(cov["municipality"].astype(str)),
        "years": sorted(int(y) for y in panel["year"].unique()),
        "standard_population": f"national Vektis insured-years by sex x age, {STANDARD_YEAR}",
        "coverage": _coverage(panel),
        "vektis_totals": {str(k): v for k, v in totals.items()},
        "documented_missing": DOCUMENTED_MISSING,
    }


def build_panel(
    mirror: Path | None = None, *, force: bool = False, progress: bool = True
) -> PanelBuild:
    """Acquire and verify the sources, build, validate and write the panel (atomically).

    Skips the rebuild when the source checksums and the code are unchanged (unless
    ``force``)."""
    start = time.perf_counter()
    paths, sums = _acquire_all(mirror, progress)
    out = settings.processed_dir()
    fingerprint = _code_fingerprint()
    manifest_path = out / "manifest.json"
    if not force and all((out / f).is_file() for f in FILES):
        try:  # an unreadable manifest (truncated, edited) means: build again
            old = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = {}
        old = old if isinstance(old, dict) else {}
        built = sha256_files(out, FILES[:-1])  # not truncated or edited since the build
        now = {"sources": sums, "code_fingerprint": fingerprint, "outputs": built}
        if all(old.get(k) == v for k, v in now.items()):
            return PanelBuild(out / "panel.parquet", old, sums, rebuilt=False)
    panel, cov, totals = compute(paths)
    out.mkdir(parents=True, exist_ok=True)
    write_table(panel, out / "panel.parquet")
    write_table(cov, out / "covariates.parquet")
    write_table(outcomes.dictionary(), out / "dictionary.csv")
    manifest = _manifest(sums, fingerprint, panel, cov, totals, time.perf_counter() - start)
    manifest["outputs"] = sha256_files(out, FILES[:-1])
    write_table(json.dumps(manifest, indent=2, ensure_ascii=False), manifest_path)
    return PanelBuild(out / "panel.parquet", manifest, sums, panel=panel)
