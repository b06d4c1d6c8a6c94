"""The report's words and tables as a reader and a printer meet them (issue 16), on the
generated ``.qmd``/Markdown of the fixture results (Quarto cannot run in the tests): wide
tables carry print widths, headings are consecutive on every page, no figure is embedded for
an estimate that does not exist, every dash says why, sites and municipalities are named,
the Dutch summary speaks Dutch, the previews answer the question first, and the report
package stays small (issue 10)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from proeftuin import report
from proeftuin.data.outcomes import OUTCOMES
from test_report import REPO, project  # noqa: F401  (the fixture)

HEADING = re.compile(r"^(#{1,6}) (.*)$")
FENCE = re.compile(r"^```.*?^```", flags=re.MULTILINE | re.DOTALL)
MISSING = "–"


def edit_csv(path: Path, change: dict[str, str], **where: str) -> None:
    """Rewrite a results CSV, ``change`` applied to the rows matching ``where`` (all rows)."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows = [{**r, **change} if all(r[k] == v for k, v in where.items()) else r for r in rows]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, list(dict.fromkeys([*rows[0], *change])))
        writer.writeheader()
        writer.writerows(rows)


def generated(root: Path) -> dict[str, str]:
    """Every generated page with its includes resolved (static pages, site pages, the PDF)."""
    pages = [*report.generate_pages(), root / "reports" / "full-report.qmd"]

    def inline(page: Path) -> str:
        return report.INCLUDE_RE.sub(
            lambda m: (page.parent / m.group(1)).read_text(), page.read_text()
        )

    return {f"{page.parent.name}/{page.name}": inline(page) for page in pages}


def tables(text: str) -> list[tuple[list[list[str]], str]]:
    """Every pipe table: its body cells, and its caption and notes (the text after it)."""
    found, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        if not lines[i].startswith("|"):
            i += 1
            continue
        start = i
        while i < len(lines) and lines[i].startswith("|"):
            i += 1
        after = []
        for line in lines[i : i + 40]:
            if line.startswith(("|", "#")):
                break
            after.append(line)
        cells = [[c.strip() for c in row.strip("|").split(" | ")] for row in lines[start + 2 : i]]
        found.append(([lines[start].strip("|").split(" | "), *cells], "\n".join(after)))
    return found


#: Characters of 9 pt table text across the PDF's text width (A4, 2 cm margins: 17 cm; the
#: real render sets ~115 characters of 10 pt body text there); symbols count twice; a word
#: breaks at spaces and after hyphens (Typst's line breaking).
PRINT_CHARS, SYMBOLS = 100, "●○◐▲▼◆✓✗"


def printed(text: str) -> int:
    return len(text) + sum(text.count(g) for g in SYMBOLS)


def too_narrow(rows: list[list[str]], shares: list[float]) -> list[str]:
    """Columns narrower than their longest unbreakable word (a word cannot wrap, so it
    overprints its neighbour or is hyphenated letter by letter): one line per column."""
    found = []
    for column, share in zip(zip(*rows, strict=True), shares, strict=True):
        word = max((w for c in column for w in re.split(r"\s+|(?<=-)", c)), key=printed)
        if share / 100 * PRINT_CHARS < printed(word) + 1:  # a character of padding
            found.append(f"{share:.0f}% for {word!r}")
    return found


def test_no_table_column_is_narrower_than_its_longest_word(project: Path) -> None:  # noqa: F811
    texts, checked = generated(project), 0
    for name, text in texts.items():
        for rows, after in tables(text):
            caption = next(line for line in after.splitlines() if line.startswith(": "))
            widths = re.search(r'tbl-colwidths="\[([\d,]+)\]"', caption)
            assert widths, f"{name}: a table without print widths: {caption}"
            shares = [int(w) for w in widths.group(1).split(",")]
            assert len(shares) == len(rows[0]) and sum(shares) == 100
            assert too_narrow(rows, shares) == [], f"{name}: {caption}"
            checked += 1
    assert checked >= 10  # scorecard, pooled, validation, site tables
    scorecard = (project / "reports" / "_generated" / "scorecard.md").read_text()
    assert "{%" not in scorecard  # the fixture's scorecard records its method; it is named
    assert "Intervals and p-values from: Randomization inference" in scorecard
    validation = (project / "reports" / "_generated" / "validation.md").read_text()
    assert validation.count("Callaway & Sant'Anna") == 1  # the full citation once, below
    assert "| ✓ yes | [1] |" in validation and "[1] Callaway & Sant'Anna" in validation
    header = texts["reports/full-report.qmd"].split("\n---\n")[0]
    assert "set block(breakable: true)" in header  # long tables break across pages
    # an image keeps its caption on its page and floats (no caption-only, half-empty pages)
    assert 'kind: "quarto-float-fig"): set block(breakable: false)' in header
    assert 'kind: "quarto-float-fig"): set figure(placement: auto)' in header
    assert "set table.cell(breakable: false)" in header  # no row split across pages


def test_too_narrow_catches_the_overprints_of_the_old_widths() -> None:
    rows = [["Estimate (95% CI)", "Evidence"], ["93 (19 to 169)", "●●● strong"]]
    assert too_narrow(rows, [95, 5]) == ["5% for 'Evidence'"]
    assert too_narrow([["Blauwe Zorg (Maastricht-Heuvelland)"]], [14]) == []  # breaks at "-"
    assert too_narrow(rows, [60, 40]) == []


def typst_tables(typ: str) -> list[tuple[list[float], list[list[str]]]]:
    """Every table of a Typst file pandoc wrote: its column widths (%) and rows of cell texts
    (the header, then one line per row: ``[cell], [cell],``)."""
    found, cell = [], re.compile(r"\[((?:[^\[\]]|\[[^\[\]]*\])*)\]")
    for match in re.finditer(r"#table\(\n\s*columns: \(([^)]*)\),(.*?)\n\)\n", typ, re.S):
        widths = [float(w) for w in re.findall(r"([\d.]+)%", match.group(1))]
        lines = [line.strip() for line in match.group(2).splitlines()]
        rows = [cell.findall(line) for line in lines if line.startswith(("[", "table.header("))]
        links = [[re.sub(r'#link\("[^"]*"\)', "", c) for c in r] for r in rows]  # text shows
        found.append((widths, [[re.sub(r"#[a-z]+\[|[\\\]*_`]", "", c) for c in r] for r in links]))
    return found


@pytest.mark.skipif(not (REPO / "reports" / "full-report.typ").is_file(), reason="no real "
                    "render here (Quarto writes reports/full-report.typ)")  # fmt: skip
def test_the_real_render_has_no_column_narrower_than_its_longest_word() -> None:
    checked = 0
    for widths, rows in typst_tables((REPO / "reports" / "full-report.typ").read_text()):
        assert widths and all(len(r) == len(widths) for r in rows), rows[:1]
        assert too_narrow(rows, widths) == [], rows[0]
        checked += 1
    assert checked >= 10


def heading_jumps(text: str, title_level: int) -> list[str]:
    """Headings more than one level below the one before them (the title counts)."""
    previous, jumps = title_level, []
    for line in FENCE.sub("", text).splitlines():
        if match := HEADING.match(line):
            level = len(match.group(1))
            if level > previous + 1:
                jumps.append(f"level {previous} -> {level}: {line}")
            previous = level
    return jumps


def test_table_notes_are_said_once_and_in_words(project: Path) -> None:  # noqa: F811
    """Issue 29 item 4: a legend that gathers the notes of several rows says each caveat
    once ('unreliable with 2 treated clusters; Webb weights' was repeated), names methods
    instead of ids, and no table carries a note that keys to nothing in it."""
    from proeftuin.report import estimates as est

    rows = [{"outcome": "cost_basket_std", "method": "wild_unrestricted", "estimate": "1",
             "ci_low": "0", "ci_high": "2", "p_value": "0.2", "note": note}
            for note in ("unreliable with 2 treated clusters; Webb weights",
                         "Webb weights; no draw as extreme")]  # fmt: skip
    text = est.did_tables(rows, "tbl-x")
    assert "(Webb weights; no draw as extreme; unreliable with 2 treated clusters)." in text
    why = "no pre-period: the programme starts in 2013"
    pools = [{"check": "control_pool", "variant": v, "outcome": "cost_basket_std",
              "estimate": e, "ci_low": "", "ci_high": "", "note": n}
             for v, e, n in (("all", "", why), ("province", "", why),
                             ("size", "1", ""))]  # fmt: skip
    assert f"All controls, Same province: {why}." in est.robustness_tables(pools, "x")
    robust = [{"note": "interval and p-value: ri"}, {"note": "within placebo_area"}]
    assert est.notes_of(robust) == ["interval and p-value: randomization inference over "
                                    "placebo assignments", "within the site's area"]  # fmt: skip
    for name, text in generated(project).items():
        for _, after in tables(text):
            notes = [n.strip() for n in after.split("::: {.table-notes}")[-1].splitlines()]
            notes = [n for n in notes if n and n != ":::"]
            assert len(notes) == len(set(notes)), (name, notes)
            for note in notes:
                parts = note.rstrip(".").split("; ")
                assert len(parts) == len(set(parts)), (name, note)
                assert "the plan's control pool" not in note and "placebo_area" not in note


def test_heading_levels_are_consecutive_on_every_page(project: Path) -> None:  # noqa: F811
    for name, text in generated(project).items():
        meta, body = report.split_front_matter(text)
        assert heading_jumps(body, 1 if meta.get("title") else 0) == [], name
    index = report.build_report().previews_index
    assert index is not None
    levels = [int(h) for h in re.findall(r"<h([1-6])[\s>]", index.read_text())]
    assert levels and all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False))


def test_no_figure_is_embedded_for_an_estimate_that_does_not_exist(project: Path) -> None:  # noqa: F811
    results = project / "reports" / "results"
    reason = "too few pre-period points (2 < 8)"
    edit_csv(results / "site-b" / "its_estimates.csv", {"estimate": "", "ci_low": "",
             "ci_high": "", "p_value": "", "se": "", "note": reason})  # fmt: skip
    edit_csv(results / "site-a" / "robustness.csv", {"estimate": "", "note": "no estimate"})
    texts = generated(project)  # the figure files are still on disk: estimates decide
    site_b = texts["sites/site-b.qmd"]
    assert (
        "its_site.ipynb#fig-its" not in site_b
        and "fig-site-b-its" not in texts["reports/full-report.qmd"]
    )
    assert site_b.count(f"No figure: nothing could be estimated ({reason}).") == 1
    robustness = texts["reports/robustness.qmd"]
    assert "robustness_site.ipynb#fig-" not in robustness
    assert "its_site.ipynb#fig-its" in texts["sites/site-a.qmd"]  # estimated: shown


def test_every_dash_in_a_table_says_why(project: Path) -> None:  # noqa: F811
    results = project / "reports" / "results"
    no_controls = "no control municipalities left in this pool"
    missing = {"estimate": "", "ci_low": "", "ci_high": "", "note": no_controls}
    edit_csv(results / "site-a" / "robustness.csv", missing, variant="care_office")
    edit_csv(results / "site-b" / "did_estimates.csv", {"ci_high": "inf"})
    texts = generated(project)
    checked = 0
    for name, text in texts.items():
        for rows_, after in tables(text):
            cells = [c for row in rows_[1:] for c in row]
            assert "" not in cells, f"{name}: an empty cell in {rows_[0]}"
            if any(c == MISSING or f" {MISSING} " in f" {c} " for c in cells):
                checked += 1
                assert re.search(rf"^{MISSING}: \w", after, flags=re.MULTILINE), (name, rows_[0])
            if any("unbounded" in c for c in cells):
                assert "unbounded: the 95% interval does not close" in after
    assert checked >= 2
    assert f"Same care office: {no_controls}" in texts["reports/robustness.qmd"]
    assert "unbounded" in texts["sites/site-b.qmd"]


def test_sites_and_municipalities_are_named_never_their_ids(project: Path) -> None:  # noqa: F811
    ids = re.compile(r"\bsite-[ab]\b|\bGM\d{4}\b")
    for name, text in generated(project).items():
        shown = [line for line in FENCE.sub("", text).splitlines() if line.startswith("|")]
        shown += [re.sub(r"\{#.*\}", "", line) for line in text.splitlines()
                  if HEADING.match(line)]  # fmt: skip
        assert not [line for line in shown if ids.search(line)], name
    loo = (project / "reports" / "_generated" / "robustness.md").read_text()
    assert "| Alphen | Beekdorp |" in loo


def test_the_samenvatting_names_outcomes_in_dutch(project: Path) -> None:  # noqa: F811
    assert all(o.label_nl for o in OUTCOMES.values())  # the catalogue: every outcome
    report.generate_pages()
    dutch = (project / "reports" / "_generated" / "samenvatting.md").read_text()
    assert "**Zorgkosten**" in dutch and "cost basket" not in dutch and " to " not in dutch


def test_previews_answer_the_question_first(project: Path) -> None:  # noqa: F811
    executed = project / "reports" / "executed" / "site-a" / "did_site.ipynb"
    saved = json.loads(executed.read_text())
    staged = "['reports/results/.staging/site-a-did_site-0123/did_estimates.csv']"
    output = {
        "output_type": "execute_result",
        "metadata": {},
        "execution_count": 1,
        "data": {"text/plain": staged},
    }  # a cell whose last value is the written paths
    saved["cells"][-1]["outputs"].append(output)
    executed.write_text(json.dumps(saved))
    index = report.build_report().previews_index
    assert index is not None
    html = index.read_text()
    assert "NOT rendered" not in html and "Quarto, which builds the full website" in html
    findings, dutch, first_site = (html.index(f"id='{s}'") for s in
                                   ("findings", "samenvatting", "site-a"))  # fmt: skip
    assert findings < dutch < first_site
    assert "includes zero" in html[findings:dutch] and "bevat nul" in html[dutch:first_site]
    notebook = (index.parent / "site-a" / "did_site.html").read_text()
    assert "#| label" not in notebook and "data:image/png;base64" in notebook  # outputs only
    assert ".staging" not in notebook


def test_a_site_page_opens_with_the_answer_from_the_results(project: Path) -> None:  # noqa: F811
    card = project / "reports" / "results" / "synthesis" / "scorecard.csv"
    edit_csv(card, {"estimate": "-7.5", "evidence": "moderate", "direction": "better"})
    text = project / "reports" / "sites" / "site-a.qmd"
    report.generate_pages()
    _, body = report.split_front_matter(text.read_text())
    answer = body[: body.index("\n## ")]
    sentences = [line for line in answer.splitlines() if line.startswith(("Costs:", "Quality",
                                                                          "Health:"))]  # fmt: skip
    assert len(sentences) == 3 and "−7.5" in sentences[0] and "moderate" in sentences[0]
    assert "no outcome of this kind was estimated" in sentences[1]


def test_the_overview_says_what_the_data_can_and_cannot_say(project: Path) -> None:  # noqa: F811
    index = (project / "reports" / "index.qmd").read_text()
    section = index[index.index("{#sec-limits}") : index.index("## Samenvatting")]
    for point in ("Few treated municipalities", "diluted", "Other changes in the same years"):
        assert point in section
    assert "](methods.qmd)" in section


def test_its_tables_show_rate_ratios_and_findings_the_detectable_effect(project: Path) -> None:  # noqa: F811
    results = project / "reports" / "results"
    ratio = {"estimate": "-0.05", "ci_low": "-0.1", "ci_high": "0.0", "rate_ratio": "0.951"}
    edit_csv(results / "site-a" / "its_estimates.csv", ratio)
    edit_csv(results / "synthesis" / "pooled.csv", {"mde": "12.5"})
    report.generate_pages()
    site = (project / "reports" / "sites" / "site-a.qmd").read_text()
    assert "RR 0.951 (0.905 to 1.000)" in site and "RR: rate ratio" in site
    findings = (project / "reports" / "_generated" / "findings.md").read_text()
    assert "Only an effect of about 12.5" in findings


def test_the_report_package_stays_small() -> None:
    folder = Path(report.__file__).parent
    lines = {p.name: len(p.read_text().splitlines()) for p in folder.glob("*.py")}
    # 1,539 lines before the report was rewritten, 1,192 after, 1,246 with the scorecard
    # figure's embed and previews, 1,194 once simplified again: under 1,200, as required.
    # Issue 29 raised the cap by what its features need (1,266 lines): the overview's answer
    # from the results (+21), the methods page's run facts (+9), print widths from content
    # (+18, the overprints), the leading rows shared with the dilution table (+8) and the
    # removal of CDN scripts from notebook previews (+6, offline). Merged with the same
    # round's other issues: the calibration page of the placebo study (calibration.py, +58),
    # the site page's decomposition, regional checks and claims (+4) and the results check
    # before a build (+4), the p-value's exactness and Monte Carlo error (+2), and the columns
    # a reader needs of the decomposition and regional tables, with widths from content for
    # the claims table (+9, both overprinted in the real render): 1,341. The pre-trend
    # test's p-value saying whether it is exact or its Monte Carlo error (+9): 1,350. Issue
    # 27's sensitivity to parallel-trend violations (sensitivity.py, +72; its site table and
    # methods include, +3): 1,425. Table notes each once and in words (+12: no "Webb
    # weights; Webb weights", no method ids; +3: control pools without an estimate for the
    # same reason named together, the reason once): 1,440. Issue 28: the overview's
    # family-wise caution and the methods page's area-rule paragraph, read from the placebo
    # study, and the calibration page's area-rule table (+30): 1,470. The data page's SMR
    # figures for the sites of the run's plan, not five fixed paths (+5), and the jQuery shim
    # of require.js removed with it offline (+3; a ReferenceError on every page): 1,478.
    assert sum(lines.values()) <= 1478 and max(lines.values()) <= 450, lines


def test_the_overview_answers_first_with_every_finding_and_slots_in_other_analyses(
    project: Path,  # noqa: F811
) -> None:
    results = project / "reports" / "results"
    edit_csv(results / "synthesis" / "scorecard.csv", {"estimate": "9.0", "ci_low": "2.0",
             "ci_high": "16.0", "evidence": "moderate", "direction": "worse"},
             site="site-a", dimension="costs")  # fmt: skip
    edit_csv(results / "site-a" / "did_estimates.csv", {"ci_low": "-9.0", "ci_high": "-1.0"},
             outcome="cost_basket_std")  # fmt: skip
    report.generate_pages()
    answer = (project / "reports" / "_generated" / "answer.md").read_text()
    index = (project / "reports" / "index.qmd").read_text()
    assert index.index("_generated/answer.md") < index.index("_generated/scorecard.md")
    assert "**In short.**" in answer and "1 worse" in answer
    assert "**worse** in Site A (9.0, 95% [CI](glossary.qmd#ci) 2.0 to 16.0)" in answer
    assert "▲ favourable: Site A, cost basket std" in answer  # lower cost: favourable
    tried = int(re.search(r"Of (\d+) leading estimates", answer).group(1))
    assert tried >= 4 and f"With {tried} comparisons about" in answer  # many comparisons
    assert "2 of the nine Pioneer sites (Site A and Site B)" in answer
    (results / "synthesis" / "answer.md").write_text("South Limburg: a sentence of issue 26.\n")
    report.generate_pages()
    assert "South Limburg: a sentence of issue 26." in (
        project / "reports" / "_generated" / "answer.md").read_text()  # fmt: skip
