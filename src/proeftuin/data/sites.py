"""The Pioneer-site registry (``data/sites/pioneer_sites.yml``), validated against the 2023
municipality codes, and the control pools drawn from the other municipalities (never a
site's, a contested or, by default, another initiative's municipality: see
:mod:`proeftuin.data.initiatives`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from proeftuin.core import settings
from proeftuin.core.errors import DataError
from proeftuin.core.ids import id_problem
from proeftuin.core.yamlfile import read_yaml
from proeftuin.data.initiatives import (
    DROP,
    INITIATIVE_RULES,
    ContestedMunicipality,
    ContestedRule,
    OtherInitiative,
    gm_codes,
)

if TYPE_CHECKING:  # pandas is imported only where used, to keep plan checks fast
    import pandas as pd

REGISTRY_FILE = "pioneer_sites.yml"
MUNICIPALITIES_FILE = "municipalities_2023.csv"
CONTROL_POOLS = ("all", "province", "care_office", "size", "age")
#: Half-width of the percentile band for the "size" and "age" pools.
SIMILARITY_BAND = 0.25


class Coverage(BaseModel):
    """Who the site reaches: the whole population of its municipalities, or a share."""

    model_config = ConfigDict(extra="forbid")

    population: Literal["whole", "share"]
    covered: int | None = Field(default=None, gt=0)
    share: float | None = Field(default=None, gt=0, le=1)
    basis: str = ""

    @model_validator(mode="after")
    def _share_given(self) -> Coverage:
        if self.population == "share" and self.share is None:
            raise ValueError("coverage 'share' needs the covered share (0-1)")
        if self.population == "whole" and self.share not in (None, 1.0):
            raise ValueError("coverage 'whole' cannot have a share below 1")
        return self


class Site(BaseModel):
    """One Pioneer site with the source of each fact.

    ``start_year`` is the year the analysis treats as the start (``start_year_reason`` says
    why); ``initiative_start`` and ``pioneer_period`` record what the sources say.
    """

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    municipalities: list[str] = Field(min_length=1)
    municipality_names: list[str] = []
    municipalities_approximate: bool = False
    later_municipalities: list[str] = []
    later_municipality_names: list[str] = []
    contested_municipalities: list[str] = []  # listed under contested_municipalities
    possible_catchment_municipalities: list[str] = []  # never treated, out of the controls
    possible_catchment_municipality_names: list[str] = []
    initiative_start: int | None = Field(default=None, ge=1990, le=2030)
    pioneer_period: tuple[int, int] | None = None
    start_year: int = Field(ge=2000, le=2030)
    start_year_reason: str = ""
    alternative_start_years: list[int] = []
    lead_insurer: str
    coverage: Coverage | None = None
    status: Literal["confirmed", "unverified"]
    sources: dict[str, str]
    fact_status: dict[str, Literal["confirmed", "unverified"]] = {}

    @field_validator("municipalities", "later_municipalities", "possible_catchment_municipalities")
    @classmethod
    def _codes(cls, codes: list[str]) -> list[str]:
        return gm_codes(codes)

    @model_validator(mode="after")
    def _dates(self) -> Site:
        if self.pioneer_period and self.pioneer_period[0] > self.pioneer_period[1]:
            raise ValueError(f"pioneer_period {list(self.pioneer_period)}: first year after last")
        if self.initiative_start and self.start_year < self.initiative_start:
            raise ValueError(
                f"start_year {self.start_year} before initiative_start {self.initiative_start}"
            )
        if self.pioneer_period and not (self.start_year <= self.pioneer_period[1]):
            raise ValueError(f"start_year {self.start_year} after the Pioneer period")
        if self.municipalities_approximate and self.fact_status.get("municipalities") != (
            "unverified"
        ):
            raise ValueError("approximate municipalities must be marked unverified")
        return self

    def coverage_share(self) -> float:
        """Share of the municipalities' population the site reaches (1 when whole)."""
        return (self.coverage.share or 1.0) if self.coverage else 1.0


class Registry(BaseModel):
    """All sites, keyed by site id; the contested municipalities, keyed by code; the other
    initiatives, keyed by id.

    ``placebo_excluded`` is set only in a placebo study's registry of pseudo-sites (its
    ``placebo: excluded:`` list: the real sites' municipalities and every other one the real
    registry names): there a pseudo-site's controls leave out those and its own
    municipalities, not the other pseudo-sites, which are untreated."""

    sites: dict[str, Site]
    contested_rule: str = ""
    contested: dict[str, ContestedMunicipality] = {}
    other_initiatives: dict[str, OtherInitiative] = {}
    placebo_excluded: frozenset[str] | None = None

    def pioneer_municipalities(self) -> set[str]:
        """Every site's municipalities, later ones included: never in a control pool."""
        return {
            m for s in self.sites.values() for m in [*s.municipalities, *s.later_municipalities]
        }

    def site_names(self) -> dict[str, str]:
        """Site id -> name."""
        return {key: site.name for key, site in self.sites.items()}

    def excluded_from_controls(self, initiatives: str = "excluded") -> set[str]:
        """Municipalities no control pool may hold under the rule ``initiatives`` (one of
        :data:`INITIATIVE_RULES`): the sites' and the contested ones always; the other
        initiatives' and the sites' possible catchments unless ``included``; the unverified
        initiatives (``exclude_from_controls: variant``) too when ``strict``."""
        if initiatives not in INITIATIVE_RULES:
            allowed = ", ".join(INITIATIVE_RULES)
            raise ValueError(f"unknown initiative rule {initiatives!r}; allowed: {allowed}")
        out = self.pioneer_municipalities() | set(self.contested)
        if initiatives == "included":
            return out
        levels = ("default", "variant") if initiatives == "strict" else ("default",)
        for other in self.other_initiatives.values():
            if other.exclude_from_controls in levels:
                out |= {*other.municipalities, *other.partial_municipalities}
        return out | {m for s in self.sites.values() for m in s.possible_catchment_municipalities}

    def reassigned(self, code: str, target: str) -> Registry:
        """A copy with contested ``code`` moved from its default site to ``target`` (a site
        id), or out of every site (``drop`` or an initiative id); it stays out of the
        controls either way."""
        entry = self.contested[code]
        sites = {}
        for site_id, site in self.sites.items():
            codes = [c for c in site.municipalities if c != code]
            if site_id == target and code not in codes:
                codes.append(code)
            sites[site_id] = site.model_copy(update={"municipalities": codes})
        if entry.default in sites and not sites[entry.default].municipalities:
            raise DataError(f"moving {entry.name} leaves {entry.default} without municipalities")
        return self.model_copy(update={"sites": sites})

    def never_controls(self, site_id: str, initiatives: str = "excluded") -> set[str]:
        """Municipalities never in the site's control pool: :meth:`excluded_from_controls`
        under ``initiatives``, or in a placebo study ``placebo_excluded`` and the site's own."""
        if self.placebo_excluded is None:
            return self.excluded_from_controls(initiatives)
        site = self.sites[site_id]
        return {*self.placebo_excluded, *site.municipalities, *site.later_municipalities}


def _curated_codes(path: Path | None = None) -> set[str]:
    """The 2023 CBS municipality codes, from the curated list in ``data/reference``.

    Curated (and checked against the CBS source file by the tests) so that the registry is
    validated the same way before and after ``proeftuin data``, never against built data."""
    path = path or settings.reference_dir() / MUNICIPALITIES_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the municipality list: {exc.strerror}") from None
    return {line.split(",", 1)[0] for line in lines[1:] if line.strip()}


def validate_registry(registry: Registry, known: set[str] | None, where: str) -> None:
    """Reject unknown codes and municipalities that belong to two sites."""
    seen: dict[str, str] = {}
    for site in registry.sites.values():
        for code in [*site.municipalities, *site.later_municipalities]:
            if known is not None and code not in known:
                raise DataError(
                    f"{where}: site {site.id}: unknown municipality code {code} "
                    "(expected a 2023 CBS GM code)"
                )
            if code in seen:
                raise DataError(
                    f"{where}: municipality {code} is in two sites: {seen[code]} and {site.id}"
                )
            seen[code] = site.id
        facts = {"site", "municipalities", "start_year", "lead_insurer"}
        optional = ("initiative_start", "pioneer_period", "coverage", "later_municipalities")
        facts |= {f for f in optional if getattr(site, f)}
        missing = facts - set(site.sources)
        if missing:
            raise DataError(f"{where}: site {site.id}: no source for {sorted(missing)}")
    _validate_others(registry, known, seen, where)


def _validate_others(
    registry: Registry, known: set[str] | None, seen: dict[str, str], where: str
) -> None:
    """Contested municipalities name their default site and valid alternatives; other
    initiatives hold known codes outside every site (a shared one is contested)."""
    targets = {DROP, *registry.sites, *registry.other_initiatives}
    for code, entry in registry.contested.items():
        if seen.get(code) != entry.default:
            raise DataError(
                f"{where}: contested {entry.name}: not a municipality of site {entry.default!r}"
            )
        bad = [a for a in entry.alternatives if a not in targets or a == entry.default]
        if bad:
            raise DataError(f"{where}: contested {entry.name}: unknown alternatives {bad}")
    for site in registry.sites.values():
        unlisted = set(site.contested_municipalities) - set(registry.contested)
        if unlisted:
            raise DataError(
                f"{where}: site {site.id}: contested {sorted(unlisted)} not listed "
                "under contested_municipalities"
            )
    later = {c for s in registry.sites.values() for c in s.later_municipalities}
    shared = set(registry.contested) | later  # out of the controls already
    for other in registry.other_initiatives.values():
        for code in [*other.municipalities, *other.partial_municipalities]:
            if known is not None and code not in known:
                raise DataError(f"{where}: initiative {other.id}: unknown municipality {code}")
            if code in seen and code not in shared:
                raise DataError(
                    f"{where}: initiative {other.id}: {code} is in site {seen[code]} "
                    "(list it under contested_municipalities)"
                )


def load_registry(path: Path | None = None, known_codes: set[str] | None = None) -> Registry:
    """Read and validate the registry; codes are checked against the 2023 CBS municipality
    list (:func:`_curated_codes`) or against ``known_codes`` when given."""
    path = path or settings.sites_dir() / REGISTRY_FILE
    raw = read_yaml(path) or {}  # size, aliases, duplicate keys, encoding: one line
    sites = raw.get("sites") if isinstance(raw, dict) else None
    if not isinstance(sites, dict):
        raise DataError(f"{path}: key 'sites': expected a mapping of site id to site")
    parsed = {}
    for key, value in sites.items():
        if problem := id_problem(key, reserved=True):
            raise DataError(f"{path}: site id {problem}")
        if not isinstance(value, dict):
            raise DataError(f"{path}: site {key}: expected a mapping of facts")
        try:
            parsed[key] = Site(id=key, **value)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"]) or "entry"
            message = " ".join(err["msg"].removeprefix("Value error, ").split())[:200]
            raise DataError(f"{path}: site {key}: {loc}: {message}") from None
    registry = Registry(
        sites=parsed, placebo_excluded=_placebo_excluded(raw, path), **_other_sections(raw, path)
    )
    validate_registry(
        registry, known_codes if known_codes is not None else _curated_codes(), str(path)
    )
    return registry


def _other_sections(raw: dict, path: Path) -> dict:
    """The contested municipalities and other initiatives, validated (empty when absent)."""
    out: dict = {}
    try:
        if raw.get("contested_municipalities"):
            rule = ContestedRule(**raw["contested_municipalities"])
            out["contested_rule"] = " ".join(rule.rule.split())
            out["contested"] = {e.code: e for e in rule.entries}
        others = raw.get("other_initiatives") or {}
        if not isinstance(others, dict):
            raise TypeError("other_initiatives is not a mapping")
        for key in others:
            if problem := id_problem(key, reserved=True):
                raise DataError(f"{path}: other initiative id {problem}")
        out["other_initiatives"] = {k: OtherInitiative(id=k, **v) for k, v in others.items()}
    except (ValidationError, TypeError) as exc:
        if isinstance(exc, TypeError):
            raise DataError(f"{path}: other sections: expected mappings ({exc})") from None
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "entry"
        message = " ".join(err["msg"].removeprefix("Value error, ").split())[:200]
        raise DataError(f"{path}: {exc.title}: {loc}: {message}") from None
    return out


def _placebo_excluded(raw: dict[str, object], path: Path) -> frozenset[str] | None:
    """A placebo study's ``placebo: excluded:`` codes (None in the real registry)."""
    section = raw.get("placebo")
    if section is None:
        return None
    excluded = section.get("excluded") if isinstance(section, dict) else None
    if not isinstance(excluded, list) or not all(isinstance(c, str) for c in excluded):
        raise DataError(f"{path}: key 'placebo.excluded': expected a list of GM codes")
    return frozenset(excluded)


def _majority(values: pd.Series) -> str:
    return str(values.mode().iloc[0])


def _band(covariates: pd.DataFrame, column: str, site_codes: list[str]) -> pd.Series:
    pct = covariates[column].rank(pct=True)
    centre = pct[covariates["municipality"].isin(site_codes)].median()
    return (pct - centre).abs() <= SIMILARITY_BAND


def control_pool(
    registry: Registry,
    site_id: str,
    covariates: pd.DataFrame,
    pool: str = "all",
    buffer: bool = False,
    initiatives: str = "excluded",
) -> list[str]:
    """Control municipalities for a site: never a Pioneer or contested municipality, nor
    (by default) another initiative's (``initiatives``: see
    :meth:`Registry.excluded_from_controls`).

    ``pool``: all | province (site's majority province) | care_office (its care-office
    site) | size / age (within +-25 percentile points of the site's median 2009
    population / 65+ share). ``buffer`` also drops municipalities in the same COROP
    site as any Pioneer municipality (a proxy for neighbours: no contiguity data)."""
    if pool not in CONTROL_POOLS:
        raise ValueError(f"unknown control pool {pool!r}; allowed: {', '.join(CONTROL_POOLS)}")
    if site_id not in registry.sites:
        raise KeyError(f"unknown site {site_id!r}; valid: {sorted(registry.sites)}")
    codes = registry.sites[site_id].municipalities
    site = covariates[covariates["municipality"].isin(codes)]
    never = registry.never_controls(site_id, initiatives)
    keep = ~covariates["municipality"].isin(never)
    if pool == "province":
        keep &= covariates["province"] == _majority(site["province"])
    elif pool == "care_office":
        keep &= covariates["care_office_region"] == _majority(site["care_office_region"])
    elif pool in ("size", "age"):
        column = "population_2009" if pool == "size" else "share_65plus_2009"
        keep &= _band(covariates, column, codes)
    if buffer:
        treated = registry.pioneer_municipalities() if registry.placebo_excluded is None else never
        pioneer = covariates["municipality"].isin(treated)
        keep &= ~covariates["corop_region"].isin(covariates.loc[pioneer, "corop_region"])
    return sorted(covariates.loc[keep, "municipality"])
