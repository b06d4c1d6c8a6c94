"""The site page's sensitivity to violations of parallel trends, from ``did_sensitivity.csv``
only: the compact table (columns no narrower than their longest word), one sentence per
computed outcome in plain words, the CRV1 caveat once, the shown outcomes not computed with
their reason, and the methods page's settings read from the results."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from proeftuin import report
from proeftuin.designs.sensitivity import SENSITIVITY_COLUMNS
from test_report import project  # noqa: F401  (the fixture)
from test_report_text import tables, too_narrow

TARGET = "first post-period effect"


def rows() -> list[dict[str, object]]:
    """Three computed outcomes (breakdown 0.44, 0, beyond the grid) and two not computed."""
    base = {"site": "site-a", "design": "did", "target": TARGET, "n_pre": 16, "n_post": 6,
            "mbar_max": 2.0, "breakdown_tol": 0.0625, "min_pre": 3,
            "covariance": "CRV1"}  # fmt: skip
    out: list[dict[str, object]] = []
    for outcome, breakdown, low in (("smr_all", 0.4375, 0.1), ("smr_cardiovascular", 0.0, -0.2),
                                    ("mortality_all_per_1000", float("inf"), 1.0)):  # fmt: skip
        common = {**base, "outcome": outcome, "breakdown_mbar": breakdown}
        out.append({**common, "restriction": "conventional", "ci_low": low, "ci_high": 0.5})
        for m in (0.5, 1.0, 1.5, 2.0):
            out.append({**common, "restriction": "relative_magnitudes", "m": m,
                        "ci_low": low - m, "ci_high": 0.5 + m, "open": m == 2.0})  # fmt: skip
        for k in (0.0, 1.0):
            out.append({**common, "restriction": "smoothness", "m": 0.03 * k, "m_unit": 0.03,
                        "ci_low": low - k, "ci_high": 0.6 + k, "open": False})  # fmt: skip
    out.append({"site": "site-a", "design": "did", "outcome": "cost_basket_std",
                "note": "not computed: 1 pre-period event-study coefficient(s) (reference year "
                "excluded); HonestDiD needs at least 3"})  # fmt: skip
    out.append({"site": "site-a", "design": "did", "outcome": "cost_gp_std",
                "note": "not computed: the site page shows only the headline and mortality "
                "outcomes"})  # fmt: skip
    return out


def write(root: Path) -> None:
    path = root / "reports" / "results" / "site-a" / "did_sensitivity.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SENSITIVITY_COLUMNS)
        writer.writeheader()
        writer.writerows(rows())


def test_the_site_page_shows_the_sensitivity_in_a_table_and_in_words(project: Path) -> None:  # noqa: F811
    write(project)
    report.generate_pages()
    page = (project / "reports" / "sites" / "site-a.qmd").read_text()
    section = page.split("### Sensitivity to violations of parallel trends")[1].split("\n## ")[0]
    ((shown, after),) = tables(section)
    assert [c.strip() for c in shown[0]] == [
        "Outcome",
        "Conventional 95% CI",
        "Robust 95% CI, M̄ = 1",
        "Breakdown M̄",
    ]
    assert [r[-1] for r in shown[1:]] == ["0.44", "0.00", "> 2"]
    assert shown[1][2] == "−0.90 to 1.50" and not shown[3][2].endswith(" *")
    widths = re.search(r'tbl-colwidths="\[([\d,]+)\]"', after)
    assert widths and too_narrow(shown, [int(w) for w in widths.group(1).split(",")]) == []
    assert f"Sensitivity of the {TARGET}" in after
    assert "exceed 0.44 times the largest pre-programme one" in section
    assert "already includes zero: there is no finding to overturn" in section
    assert "reach 2 times the largest pre-programme one, the largest M̄ computed" in section
    assert section.count("CRV1") == 1 and "\n\nThese intervals use" in section  # a paragraph
    assert "1 pre-period event-study coefficient" in section and "shows only" not in section


def test_the_methods_page_states_the_settings_of_the_run(project: Path) -> None:  # noqa: F811
    write(project)
    report.generate_pages()
    text = (project / "reports" / "_generated" / "sensitivity.md").read_text()
    assert f"target the {TARGET}" in text and "M̄ = 0.5, 1, 1.5, 2" in text
    assert "M = 0, 1 times" in text and "within 0.0625 on M̄" in text
    assert "at least 3 pre-period coefficients" in text


def test_without_the_file_the_page_has_no_such_section(project: Path) -> None:  # noqa: F811
    report.generate_pages()
    page = (project / "reports" / "sites" / "site-a.qmd").read_text()
    assert "Sensitivity to violations of parallel trends" not in page
    assert "No sensitivity" in (project / "reports" / "_generated" / "sensitivity.md").read_text()
