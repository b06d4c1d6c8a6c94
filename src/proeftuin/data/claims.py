"""What others reported about the sites (``data/sites/published_claims.csv``): targets,
claims and evaluations, each with its source address and the quote seen there, read and
checked so that no claim is shown without a citation."""

from __future__ import annotations

import csv
from pathlib import Path

from pydantic import BaseModel, ConfigDict, field_validator

from proeftuin.core import settings
from proeftuin.core.errors import DataError

CLAIMS_FILE = "published_claims.csv"
#: The ``site`` value of a claim about every Pioneer site.
ALL_SITES = "all nine Pioneer sites"


class Claim(BaseModel):
    """One published target, claim or evaluation of a site (or of all sites)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    site: str
    claim_or_evaluation: str
    target: str
    finding: str
    population: str
    period: str
    source_url: str
    quote: str

    @field_validator("source_url")
    @classmethod
    def _cited(cls, url: str) -> str:
        if not url.strip().startswith(("http://", "https://")):
            raise ValueError("a claim needs its source address (http...)")
        return url.strip()

    def about(self, site_id: str) -> bool:
        """Whether the claim concerns this site (a site's own or every site's)."""
        named = [part.split(" ")[0] for part in self.site.split(";")]
        return self.site == ALL_SITES or site_id in [n.strip() for n in named]


def load_claims(path: Path | None = None) -> list[Claim]:
    """Every claim of the file, validated (empty list when the file is absent)."""
    path = path or settings.sites_dir() / CLAIMS_FILE
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    claims = []
    for line, row in enumerate(rows, start=2):
        try:
            claims.append(Claim(**row))
        except (ValueError, TypeError) as exc:
            raise DataError(f"{path}: line {line}: {str(exc).splitlines()[-1].strip()}") from None
    return claims
