"""The report trusts a results folder only as far as the run manifest vouches for it (issue
24): an output truncated or deleted, a provenance record or the facts snapshot missing or
unreadable are said and the command exits non-zero; a truncated notebook or facts snapshot
is one line, not a traceback; names from the registry are text, never markup."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from proeftuin.cli import app
from proeftuin.core.escape import html_text, markdown_text
from proeftuin.pipeline import results
from proeftuin.report import build
from test_report import project  # noqa: F401 - the fixture: a copied results folder

REPO = Path(__file__).resolve().parents[1]
EVIL = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def _report() -> tuple[int, str]:
    result = CliRunner().invoke(app, ["report"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_the_fixture_is_trusted_as_it_is(project: Path) -> None:  # noqa: F811
    assert results.results_problems() == []


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (
            "truncate:site-a/did_estimates.csv",
            "site-a/did_site: reports/results/site-a/did_estimates.csv changed since the run",
        ),  # fmt: skip
        ("delete:site-a/fig-trends.png", "reports/results/site-a/fig-trends.png is missing"),
        (
            "truncate:site-a/did_site.provenance.json",
            "did_site.provenance.json is missing, unreadable or of another run",
        ),  # fmt: skip
        ("delete:facts.json", "no facts snapshot"),
    ],
)
def test_results_that_are_not_what_the_manifest_recorded_are_said_and_exit_one(
    project: Path,  # noqa: F811
    damage: str,
    said: str,
) -> None:
    """Item 1 (and 3): `report` exited 0 and silently lost tables, rows and footnotes."""
    how, name = damage.split(":")
    path = project / "reports" / "results" / name
    if how == "truncate":
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    else:
        path.unlink()
    assert any(said in problem for problem in results.results_problems())
    code, output = _report()
    assert code == 1 and "INCOMPLETE results" in output and "--allow-incomplete" in output
    index = (project / "reports" / "previews" / "index.html").read_text()
    assert said in html.unescape(index)  # the previews say it at the top


def test_a_truncated_facts_snapshot_or_notebook_is_said_not_a_traceback(project: Path) -> None:  # noqa: F811
    """Item 9: pydantic's and nbformat's tracebacks."""
    notebook = project / "reports" / "executed" / "site-b" / "its_site.ipynb"
    notebook.write_text(notebook.read_text()[:500])
    code, output = _report()
    index = (project / "reports" / "previews" / "index.html").read_text()
    assert code == 1 and "its_site.ipynb changed since the run" in html.unescape(index)
    assert not (project / "reports" / "previews" / "site-b" / "its_site.html").exists()

    facts = project / "reports" / "results" / "facts.json"
    facts.write_text(facts.read_text()[:300])
    code, output = _report()
    assert code == 2 and "unreadable facts snapshot" in output
    # one line for the failure, after the progress line the command opens with
    failure = output.split("(about a minute)", 1)[-1]
    assert len(failure.strip().splitlines()) == 1 and "Traceback" not in output


def test_a_site_name_is_text_in_every_page_and_preview(project: Path) -> None:  # noqa: F811
    """Item 5: stored XSS in reports/previews/index.html and the site pages."""
    path = project / "reports" / "results" / "facts.json"
    snapshot = json.loads(path.read_text())
    snapshot["sites"][0]["name"] = EVIL + "\n# heading | cell"
    snapshot["sites"][0]["lead_insurer"] = "<b>CZ</b>"
    path.write_text(json.dumps(snapshot))
    build.build_report(require_quarto=False)
    previews = project / "reports" / "previews"
    for page in [previews / "index.html", *previews.rglob("*.html")]:
        text = page.read_text()
        assert "<script>alert" not in text and "<img src=x" not in text, page
        assert "<b>CZ" not in text, page
    page = (project / "reports" / "sites" / "site-a.qmd").read_text()
    meta, body = build.split_front_matter(page)
    assert meta["title"] == markdown_text(EVIL + "\n# heading | cell")
    assert "<script>" not in body and "\n# heading" not in page
    assert "&lt;script&gt;alert(1)" in (previews / "index.html").read_text()


def test_one_escaping_helper_per_target() -> None:
    from nbconvert.filters.markdown import markdown2html

    page = markdown2html(f"## {markdown_text(EVIL)}\n\n| a |\n|---|\n| {markdown_text('x|y')} |")
    assert "<script>" not in page and "<img" not in page and "&lt;script&gt;" in page
    assert "x|y" in page and page.count("<td>") == 1
    assert markdown_text("Blauwe Zorg (Maastricht-Heuvelland)") == (
        "Blauwe Zorg (Maastricht-Heuvelland)"  # ordinary names stay as they are
    )
    assert markdown_text("a\x00b\nc\u2028d") == "a b c d"
    assert html_text("<a href='x'>") == "&lt;a href=&#x27;x&#x27;&gt;"
    for template in ("did_site", "its_site", "robustness_site", "synth_site"):
        source = (REPO / "notebooks" / f"{template}.ipynb").read_text()
        assert "{markdown_text(design.name)}" in source and "{design.name}" not in source
