"""The analysis plan (``analysis.yml``): validated before anything runs, expanded into tasks.

A plan names sites (site ids from the registry), outcomes (names from the data
dictionary), designs (notebook templates), the analysis period and inference settings.
:func:`load_plan` refuses an invalid plan with every problem listed by its key, so that no
kernel starts on a typo. :meth:`Plan.tasks` turns the plan into one task per site and
design, plus the cross-site synthesis.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from proeftuin.core import settings
from proeftuin.core.errors import DataError, PlanError
from proeftuin.core.ids import id_problem, shown
from proeftuin.core.yamlfile import read_yaml
from proeftuin.pipeline import results

SYNTHESIS = "synthesis"
VALIDATION = "validation"
GLOBAL_NOTEBOOKS = (SYNTHESIS, VALIDATION)
INFERENCE_METHODS = ("crv1", "wild", "ri")
ControlPool = Literal["all", "province", "care_office", "size", "age"]
InferenceMethod = Literal["crv1", "wild", "ri"]
PooledDesign = Literal["did", "sdid", "sc"]
#: The design notebook each pooled design's estimates come from.
POOLED_DESIGN_NOTEBOOK = {"did": "did_site", "sdid": "synth_site", "sc": "synth_site"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Span(_Strict):
    first_year: int = 2011
    last_year: int = 2023

    @model_validator(mode="after")
    def _ordered(self) -> Span:
        if self.first_year >= self.last_year:
            raise ValueError(
                f"first_year ({self.first_year}) must be before last_year ({self.last_year})"
            )
        return self


class Periods(Span):
    """The analysis years of every outcome, and of the outcomes with their own (``outcomes:``,
    e.g. the mortality series from 1996 while the Vektis costs run 2011-2023)."""

    outcomes: dict[str, Span] = Field(default_factory=dict)

    def of(self, outcome: str) -> tuple[int, int]:
        span = self.outcomes.get(outcome, self)
        return span.first_year, span.last_year


class SiteSettings(_Strict):
    """Per-site settings; anything left out comes from the plan's ``defaults``."""

    control_pool: ControlPool | None = None
    buffer: bool | None = None
    inference: list[InferenceMethod] | None = None
    draws: int | None = Field(default=None, ge=99, le=100_000)
    seed: int | None = Field(default=None, ge=0)
    start_year: int | None = None
    outcomes: list[str] | None = None


class Defaults(_Strict):
    control_pool: ControlPool = "all"
    buffer: bool = False
    inference: list[InferenceMethod] = Field(default_factory=lambda: list(INFERENCE_METHODS))
    draws: int = Field(default=settings.DEFAULT_DRAWS, ge=99, le=100_000)
    seed: int = Field(default=settings.DEFAULT_SEED, ge=0)


class Execution(_Strict):
    cell_timeout: int = Field(default=900, gt=0)


class PlanFile(_Strict):
    """The schema of ``analysis.yml``."""

    periods: Periods = Field(default_factory=Periods)
    defaults: Defaults = Field(default_factory=Defaults)
    outcomes: list[str] = Field(min_length=1)
    designs: list[str] = Field(min_length=1)  # notebook templates in notebooks/
    sites: dict[str, SiteSettings] = Field(min_length=1)
    # outcome -> the design the synthesis pools across sites (others are sensitivity); did
    pooled_design: dict[str, PooledDesign] = Field(default_factory=dict)
    execution: Execution = Field(default_factory=Execution)


@dataclass(frozen=True)
class Task:
    """One notebook execution: a design for a site (or the synthesis)."""

    folder: str  # the results folder: a site id, or validation / synthesis
    notebook: str
    parameters: dict[str, Any]
    depends_on: tuple[str, ...] = ()
    subset: str | None = None  # an outcome-subset run: outputs go to their own folder

    @property
    def name(self) -> str:
        return f"{self.folder}/{self.notebook}"

    @property
    def site(self) -> str | None:
        """The site id, or None for the global tasks (validation, synthesis)."""
        return None if self.folder in GLOBAL_NOTEBOOKS else self.folder

    @property
    def template(self) -> Path:
        return settings.notebooks_dir() / f"{self.notebook}.ipynb"

    @property
    def executed_path(self) -> Path:
        return results.executed_dir(self.folder, self.subset) / f"{self.notebook}.ipynb"

    @property
    def results_dir(self) -> Path:
        return results.results_dir(self.folder, self.subset)

    @property
    def provenance_path(self) -> Path:
        return self.results_dir / f"{self.notebook}.provenance.json"


@dataclass
class Plan:
    """A validated plan: the file's content plus the registry facts it relies on."""

    path: Path
    spec: PlanFile
    start_years: dict[str, int] = field(default_factory=dict)

    @property
    def sites(self) -> list[str]:
        return list(self.spec.sites)

    @property
    def outcomes(self) -> list[str]:
        return list(self.spec.outcomes)

    @property
    def designs(self) -> list[str]:
        return list(self.spec.designs)

    @property
    def pooled_design(self) -> dict[str, str]:
        """Per outcome the design the synthesis pools (``did`` unless the plan says)."""
        return {o: self.spec.pooled_design.get(o, "did") for o in self.outcomes}

    def site_settings(self, site: str) -> dict[str, Any]:
        """The site's settings with the plan's defaults filled in."""
        merged = self.spec.defaults.model_dump()
        merged.update(self.spec.sites[site].model_dump(exclude_none=True))
        merged.setdefault("outcomes", self.outcomes)
        merged.setdefault("start_year", self.start_years[site])
        return merged

    def hash(self) -> str:
        """SHA-256 of the validated plan: periods, defaults, outcomes, designs and every
        site's merged parameters (what the results depend on; not execution settings)."""
        from proeftuin.core.provenance import sha256_json

        return sha256_json(
            {
                "periods": self.spec.periods.model_dump(),
                "defaults": self.spec.defaults.model_dump(),
                "outcomes": self.outcomes,
                "designs": self.designs,
                "sites": {r: self.site_settings(r) for r in self.sites},
                **({"pooled_design": self.pooled_design} if self.spec.pooled_design else {}),
            }
        )

    def subset_tag(self, outcomes: list[str] | None) -> str | None:
        """A folder name for an outcome-subset run, or None when all outcomes run."""
        if not outcomes or set(outcomes) >= set(self.outcomes):
            return None
        return "+".join(o for o in self.outcomes if o in outcomes)

    def tasks(
        self, sites: list[str] | None = None, outcomes: list[str] | None = None
    ) -> list[Task]:
        """Expand into tasks: every (site, design), the validation against published
        results, then the synthesis over all sites.

        An outcome subset never replaces a full run's results: its site tasks write to
        ``reports/results/subsets/<outcomes>/`` and it has no validation or synthesis.
        """
        chosen = sites or self.sites
        subset = self.subset_tag(outcomes)
        site_tasks = [
            Task(site, design, self._parameters(site, design, outcomes), subset=subset)
            for site in chosen
            for design in self.designs
        ]
        if subset:
            return site_tasks
        all_site_names = tuple(f"{r}/{d}" for r in self.sites for d in self.designs)
        validation = Task(VALIDATION, VALIDATION, {})
        synthesis = Task(
            SYNTHESIS,
            SYNTHESIS,
            {
                "sites": self.sites,
                "designs": self.designs,
                "outcomes": self.outcomes,
                "pooled_design": self.pooled_design,
                "plan_hash": self.hash(),
                # a placebo study's calibration shows none of the synthesis' figures
                "draw_figures": settings.study_dir() is None,
            },
            depends_on=all_site_names,
        )
        return [*site_tasks, validation, synthesis]

    def _parameters(self, site: str, design: str, outcomes: list[str] | None) -> dict[str, Any]:
        params = self.site_settings(site)
        if outcomes:
            params["outcomes"] = [o for o in params["outcomes"] if o in outcomes]
        periods = self.spec.periods
        params.update(
            site=site,
            first_year=periods.first_year,
            last_year=periods.last_year,
            outcome_periods={
                o: list(periods.of(o)) for o in params["outcomes"] if o in periods.outcomes
            },
        )
        return params


def load_plan(path: Path | None = None) -> Plan:
    """Read and validate the plan; raise :class:`PlanError` listing every problem by key."""
    path = path or settings.plan_path()
    raw = _read_yaml(path)
    try:
        spec = PlanFile.model_validate(raw)
    except ValidationError as exc:
        raise PlanError(path, [_describe(err) for err in exc.errors()]) from None
    problems, start_years = _check_against_facts(spec)
    if problems:
        raise PlanError(path, problems)
    return Plan(path=path, spec=spec, start_years=start_years)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise PlanError(path, ["file not found"])
    try:
        raw = read_yaml(path)
    except DataError as exc:
        raise PlanError(path, [str(exc).removeprefix(f"{path}: ")]) from None
    if not isinstance(raw, dict):
        raise PlanError(path, ["the plan must be a mapping of keys (periods, outcomes, ...)"])
    return raw


RENAMED_KEYS = {"regions": "sites"}  # keys of older plans, and their names now


def _describe(err: dict[str, Any]) -> str:
    key = ".".join(str(part) for part in err["loc"]) or "(top level)"
    if err["type"] == "extra_forbidden":
        renamed = RENAMED_KEYS.get(key)
        return f"{key}: unknown key" + (f" (now called '{renamed}')" if renamed else "")
    return f"{key}: {err['msg']} (got {shown(err.get('input'))})"


def _check_against_facts(spec: PlanFile) -> tuple[list[str], dict[str, int]]:
    """Check names and periods against the registry, the data dictionary and the templates."""
    from proeftuin.core.errors import DataError
    from proeftuin.data.outcomes import OUTCOMES
    from proeftuin.data.sites import load_registry

    try:
        known = load_registry().sites
    except (OSError, DataError) as exc:
        return [f"sites: the Pioneer-site registry cannot be read: {exc}"], {}
    problems = _names(spec)
    data_first = min(o.first_year for o in OUTCOMES.values())
    data_last = max(o.last_year for o in OUTCOMES.values())
    for key, value in (
        ("first_year", spec.periods.first_year),
        ("last_year", spec.periods.last_year),
    ):
        if not data_first <= value <= data_last:
            problems.append(
                f"periods.{key}: {value} is outside the data ({data_first}-{data_last})"
            )
    problems += _unknown_names("outcomes", spec.outcomes, OUTCOMES)
    problems += _unknown_names("periods.outcomes", list(spec.periods.outcomes), OUTCOMES)
    problems += _outcome_periods(spec, OUTCOMES)
    start_years: dict[str, int] = {}
    for site, overrides in spec.sites.items():
        if id_problem(site, reserved=True):
            continue  # said by _names
        if site not in known:
            problems += _unknown_names("sites", [site], known)
            continue
        start = overrides.start_year or known[site].start_year
        start_years[site] = start
        if not spec.periods.first_year < start <= spec.periods.last_year:
            problems.append(
                f"sites.{site}.start_year: {start} must fall after periods.first_year "
                f"({spec.periods.first_year}) and by periods.last_year ({spec.periods.last_year})"
            )
        problems += _unknown_names(f"sites.{site}.outcomes", overrides.outcomes or [], OUTCOMES)
        for name in spec.periods.outcomes:
            first, last = spec.periods.of(name)
            if name in (overrides.outcomes or spec.outcomes) and not first < start <= last:
                problems.append(
                    f"sites.{site}.start_year: {start} must fall after "
                    f"periods.outcomes.{name}.first_year ({first}) and by its last_year ({last})"
                )
    templates = {p.stem: p for p in settings.notebooks_dir().glob("*.ipynb")}
    for name in GLOBAL_NOTEBOOKS:
        templates.pop(name, None)
    problems += _unknown_names("designs", spec.designs, templates)
    problems += _unknown_names(
        "pooled_design", list(spec.pooled_design), dict.fromkeys(spec.outcomes)
    )
    for outcome, design in spec.pooled_design.items():
        notebook = POOLED_DESIGN_NOTEBOOK[design]
        if notebook not in spec.designs:
            problems.append(f"pooled_design.{outcome}: {design} needs {notebook!r} under designs")
    return problems, start_years


def _names(spec: PlanFile) -> list[str]:
    """Site ids and design names are ids (``core.ids``: they become folders and files);
    nothing is listed twice (a design twice would run twice)."""
    problems = [f"sites: {p}" for s in spec.sites if (p := id_problem(s, reserved=True))]
    problems += [f"designs: {p}" for d in spec.designs if (p := id_problem(d))]
    lists = [("outcomes", spec.outcomes), ("designs", spec.designs)]
    lists += [(f"sites.{s}.outcomes", o.outcomes or []) for s, o in spec.sites.items()]
    for key, names in lists:
        twice = sorted({n for n in names if names.count(n) > 1})
        problems += [f"{key}: {shown(n)} is listed more than once" for n in twice]
    return problems


def _outcome_periods(spec: PlanFile, known: dict[str, Any]) -> list[str]:
    """Each outcome's own period lies within its data; every analysed outcome has data in
    its period (the plan's period unless ``periods.outcomes`` gives it one)."""
    problems = []
    for name, span in spec.periods.outcomes.items():
        if name not in known:
            continue
        info = known[name]
        for key in ("first_year", "last_year"):
            value = getattr(span, key)
            if not info.first_year <= value <= info.last_year:
                problems.append(
                    f"periods.outcomes.{name}.{key}: {value} is outside the data of {name} "
                    f"({info.first_year}-{info.last_year})"
                )
    analysed = dict.fromkeys(
        [*spec.outcomes, *(o for r in spec.sites.values() for o in r.outcomes or [])]
    )
    for name in analysed:
        if name not in known or name in spec.periods.outcomes:
            continue
        info, (first, last) = known[name], spec.periods.of(name)
        if last < info.first_year or first > info.last_year:
            problems.append(
                f"outcomes: {name} has no data in periods {first}-{last} (its data: "
                f"{info.first_year}-{info.last_year}); give it its own period under "
                "periods.outcomes"
            )
    return problems


def _unknown_names(key: str, names: list[str], known: dict[str, Any]) -> list[str]:
    problems = []
    for name in names:
        if name in known:
            continue
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        allowed = ", ".join(sorted(known))
        problems.append(f"{key}: unknown name {shown(name)}{hint} (allowed: {allowed})")
    return problems
