"""The registry's two sections beside the sites: municipalities that sources place in two
regions (:class:`ContestedMunicipality`, with the rule and the alternative assignments the
robustness checks run) and other population-management initiatives of the same years
(:class:`OtherInitiative`), whose municipalities stay out of the control pools."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: What an alternative assignment may say besides a site or initiative id.
DROP = "drop"
#: How the other initiatives enter a control pool: ``excluded`` (the default: initiatives
#: marked ``default`` and sites' possible catchments are out), ``included`` (all back in),
#: ``strict`` (also the unverified initiatives marked ``variant`` out).
INITIATIVE_RULES = ("excluded", "included", "strict")
Status = Literal["confirmed", "unverified"]


def gm_codes(codes: list[str]) -> list[str]:
    """The codes unchanged when all are 2023-style GM codes (GM + 4 digits)."""
    bad = [c for c in codes if not (len(c) == 6 and c.startswith("GM") and c[2:].isdigit())]
    if bad:
        raise ValueError(f"not GM codes: {bad}")
    return codes


class ContestedMunicipality(BaseModel):
    """A municipality a public source also places (wholly or in part) in another region.

    It keeps ``default`` in the main analysis, is never a control, and each of
    ``alternatives`` (a site id, an initiative id, or ``drop``) is a robustness variant."""

    model_config = ConfigDict(extra="forbid")

    code: str
    name: str
    default: str
    alternatives: list[str] = Field(min_length=1)
    basis: str
    population_2013: dict[str, int] = {}
    sources: dict[str, str] = Field(min_length=1)
    fact_status: dict[str, Status] = {}

    @field_validator("code")
    @classmethod
    def _code(cls, code: str) -> str:
        return gm_codes([code])[0]


class ContestedRule(BaseModel):
    """The rule (in words) and its entries, keyed by code once loaded."""

    model_config = ConfigDict(extra="forbid")

    rule: str
    entries: list[ContestedMunicipality]


class OtherInitiative(BaseModel):
    """A region with a documented population-management programme in the same years that is
    not one of the registry's sites (e.g. Anders Beter in the Westelijke Mijnstreek)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    municipalities: list[str] = Field(min_length=1)
    municipality_names: list[str] = []
    partial_municipalities: list[str] = []  # partly in the region: listed as contested
    partial_municipality_names: list[str] = []
    municipalities_incomplete: bool = False
    years: tuple[int, int | None]
    alternative_start_years: list[int] = []
    lead_insurer: str | None = None
    pioneer_site: bool = False
    exclude_from_controls: Literal["default", "variant"]
    status: Status
    notes: str = ""
    sources: dict[str, str] = Field(min_length=1)
    fact_status: dict[str, Status] = {}

    @field_validator("municipalities", "partial_municipalities")
    @classmethod
    def _codes(cls, codes: list[str]) -> list[str]:
        return gm_codes(codes)

    @model_validator(mode="after")
    def _sourced(self) -> OtherInitiative:
        need = {"initiative", "municipalities", "years"}
        need |= {"lead_insurer"} if self.lead_insurer else set()
        missing = need - set(self.sources)
        if missing:
            raise ValueError(f"no source for {sorted(missing)}")
        if self.status == "unverified" and self.exclude_from_controls == "default":
            raise ValueError("an unverified initiative is excluded only in a variant")
        return self
