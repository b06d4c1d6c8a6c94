"""The generated pages: one page per site, and the include files the static pages pull in
(``reports/_generated/*.md``: scorecard, findings in plain words in English and Dutch,
forest plot, robustness, validation, data coverage, reproducibility). Words, captions and
fixed table columns are in the templates (``reports/templates/``); this module gathers
their data.

A figure on the website is Quarto's ``{{< embed notebook.ipynb#label >}}`` of the executed
notebook's labelled cell; in the PDF it is the file the notebook saved beside its results
(``reports/results/<site>/<label>.png``) under a document-wide unique label
(``fig-<site>-event-study``). A figure is shown only when that file exists and its results
hold an estimate; otherwise the page says once, in a line, why there is none.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from proeftuin.core import settings
from proeftuin.pipeline.facts import SiteFacts
from proeftuin.pipeline.results import results_dir
from proeftuin.report import calibration, inputs, sensitivity
from proeftuin.report import estimates as est
from proeftuin.report.inputs import Runs, TaskRun, executed_notebook, notebook_labels, rows
from proeftuin.report.tables import fmt_int, fmt_p, to_float

STATIC_PAGES = ("index", "sites", "synthesis", "robustness", "calibration", "methods", "data",
                "glossary", "protocol", "reproducibility")  # fmt: skip
#: The columns a reader needs of the cost decomposition and the regional checks (the others
#: repeat the page's site or are model internals): few enough to print without overprint.
WHY_COLUMNS = {"decomposition": ("kind", "part", "estimate", "ci_low", "ci_high", "p_value",
                                  "share"),
               "region_checks": ("check", "variant", "estimate", "ci_low", "ci_high", "p_value"),
               "regional": ("model", "site", "estimate", "ci_low", "ci_high", "p_value",
                            "note")}  # fmt: skip
FIGURES = {"did_site": ("fig-trends", "fig-event-study"), "synthesis": ("fig-forest",),
           "its_site": ("fig-its", "fig-its-placebo"), "validation": ("fig-validation",),
           "synth_site": ("fig-synth", "fig-synth-placebo"),
           inputs.ROBUSTNESS: ("fig-robustness", "fig-placebo")}  # fmt: skip
RUN_HINT = "Run `proeftuin run` to execute the notebooks, then `proeftuin report`."
EMBED_RE = re.compile(r"\{\{<\s*embed\s+([^#\s>]+)#([^\s>]+)(?:\s[^>]*)?>\}\}")
INCLUDE_RE = re.compile(r"\{\{<\s*include\s+([^\s>]+)\s*>\}\}")
TOP_DONORS = 5  # largest unit weights shown per outcome and estimator
SYNTH_COLUMNS = ("outcome", "estimator", "method", "estimate", "ci_low", "ci_high", "p_value",
                 "pre_rmspe", "mde", "mde_pct", "note")  # fmt: skip


def figure(folder: str, notebook: str, label: str, *, page_dir: Path, pdf: bool = False,
           owner: str = "", ref: bool = False) -> str:  # fmt: skip
    """A labelled figure, an embed (website) or its saved file (PDF), ``""`` when its file
    or cell is missing; with ``ref``, ``@label`` where it is shown."""
    path = executed_notebook(folder, notebook)
    cell, saved = notebook_labels(path).get(label), inputs.figure_file(folder, label)
    if not saved.is_file() or (cell is None and not pdf):
        return ""
    unique = f"fig-{owner}-{label.removeprefix('fig-')}" if owner and pdf else label  # in the PDF
    if ref:
        return f"@{unique}"
    if not pdf:
        return f"{{{{< embed {Path(os.path.relpath(path, page_dir)).as_posix()}#{label} >}}}}\n"
    image = Path(os.path.relpath(saved, page_dir)).as_posix()
    return f"![{(cell or {}).get('fig-cap', label)}]({image}){{#{unique}}}\n"


def figures(folder: str, notebook: str, found: list[dict[str, str]], why: str, *,
            page_dir: Path, pdf: bool, owner: str = "") -> dict[str, Any]:  # fmt: skip
    """A section's figures: shown only with an estimate in ``found``; else one line why."""
    if not est.estimated(found):
        said = est.joined(est.notes_of(found))
        return {"shown": [], "why": f"No figure: nothing could be estimated ({said})." if said
                else f"No figure: no estimates. {why}"}  # fmt: skip
    shown = [figure(folder, notebook, lab, page_dir=page_dir, pdf=pdf, owner=owner)
             for lab in FIGURES[notebook]]  # fmt: skip
    missing, why = shown.count(""), why or "The notebook had nothing to draw."
    why = f"{missing} figure(s) of this section not shown (no saved file). {why}" if missing else ""
    return {"shown": [s for s in shown if s], "why": why}


def why_missing(notebook: str, tasks: dict[str, TaskRun]) -> str:
    """Why the task's output is missing (failed, not run), else how to produce it."""
    if (task := tasks.get(notebook)) is None:
        return RUN_HINT
    return "" if task.entry.succeeded else f"Task {task.entry.describe()}."


def write_site_pages(runs: Runs) -> list[Path]:
    """One page per site of the facts snapshot (pages of sites no longer there removed)."""
    folder = inputs.reports_dir("sites")
    folder.mkdir(parents=True, exist_ok=True)
    for stale in (p for p in folder.glob("*.qmd") if p.stem not in inputs.sites()):
        stale.unlink()
    for site in inputs.facts().sites:
        (folder / f"{site.id}.qmd").write_text(site_page(site, runs, pdf=False), encoding="utf-8")
    return [folder / f"{site_id}.qmd" for site_id in inputs.sites()]


def site_page(site: SiteFacts, runs: Runs, *, pdf: bool) -> str:
    """A site's page (website) or chapter source (PDF, figures from files): everything the
    template shows, from the facts snapshot and the results."""
    site_id, tasks = site.id, runs.of(site.id)
    first = next(iter(tasks.values()), None)
    params = first.entry.parameters if first else site.parameters.model_dump()
    found = {n: rows(site_id, f"{n}_estimates.csv") for n in ("did", "its", "synth")}
    page_dir = inputs.reports_dir() if pdf else inputs.reports_dir("sites")
    treated = to_float(found["did"][0].get("n_treated_units")) if found["did"] else None
    names = {"inference": lambda m: est.word("methods", m, 0), "outcomes": inputs.outcome_label,
             "site": inputs.site_name}  # fmt: skip

    def shown(key: str, value: Any) -> str:  # outcome periods: {outcome: [first, last]}
        if isinstance(value, dict):
            return "; ".join(f"{inputs.outcome_label(k)}: {v[0]}–{v[-1]}" for k, v in value.items())
        if isinstance(value, list):
            return ", ".join(map(names.get(key, str), value))
        return names.get(key, str)(value) if isinstance(value, str) else json.dumps(value)

    where = {"page_dir": page_dir, "pdf": pdf, "owner": site_id}
    why = {n: why_missing(f"{n}_site", tasks) for n in found}
    sections = {n: figures(site_id, f"{n}_site", found[n], why[n], **where) for n in found}
    refs = {lab: figure(site_id, f"{n}_site", lab, **where, ref=True) if est.estimated(found[n])
            else "" for n in ("did", "its") for lab in FIGURES[f"{n}_site"]}  # fmt: skip
    context = {
        "site": site.model_dump(), "site_id": site_id, "params": params, "ref": refs, **sections,
        "incomplete": runs.incomplete(site_id), "why": why, "pdf": pdf,
        "failed": [t.entry.describe() for t in tasks.values() if not t.entry.succeeded],
        "answer": [r for r in rows(inputs.SYNTHESIS, "scorecard.csv") if r.get("site") == site_id],
        "start_year": params.get("start_year") or site.start_year,
        "parameters": [{"key": k.replace("_", " ").capitalize(), "value": shown(k, v)}
                       for k, v in sorted(params.items())],
        "notebooks": {n: inputs.rel_root(executed_notebook(site_id, f"{n}_site")) for n in found},
        "sample": found["did"] and {"units": fmt_int(found["did"][0].get("n_units")),
                                    "treated": fmt_int(treated), "treated_n": treated or 5},
        "did_table": est.did_tables(found["did"], f"tbl-{site_id}-did"),
        "sensitivity": sensitivity.site_sensitivity(rows(site_id, "did_sensitivity.csv"),
                                                    f"tbl-{site_id}-sensitivity"),
        "its_table": est.its_tables(found["its"], f"tbl-{site_id}-its"),
        "has_robustness": bool(rows(site_id, "robustness.csv")),
        "pretrends": [r[0] for r in est.by_key(est.estimated(found["did"]), "outcome").values()],
        "runs": [t.row() for t in tasks.values()],
        "dilution": est.dilution_table(site, found["did"], found["its"], f"tbl-{site_id}-dilution"),
        "why_tables": {n: est.generic_table([{k: r.get(k) for k in keep} for r in rows(site_id,
            f"{n}.csv")], est.words("captions")[n], f"tbl-{site_id}-{n}")
            for n, keep in WHY_COLUMNS.items()},
        "statements": {r["key"]: r["text"] for r in rows(site_id, "statements.csv")},
        "decomposition_figure": figure(site_id, inputs.ROBUSTNESS, "fig-decomposition", **where),
    }  # fmt: skip
    return est.render("site.qmd.j2", **context, **synth_context(site_id, page_dir, found["synth"]))


def synth_context(site_id: str, page_dir: Path, synth_rows: list[dict[str, str]]) -> dict[str, str]:
    """The designs side by side (``synthesis/designs.csv`` and its figure) and the site's
    synthetic-control estimates and largest donor weights."""
    label, captions = f"fig-designs-{site_id}", est.words("captions")
    saved = inputs.figure_file(inputs.SYNTHESIS, label)
    found = [r for r in rows(inputs.SYNTHESIS, "designs.csv") if r.get("site") == site_id]
    designs = [{k: v for k, v in r.items() if k != "site"} for r in found]
    donors = [r for r in rows(site_id, "synth_weights.csv") if r.get("kind") == "unit"]
    donors.sort(key=lambda r: (r["outcome"], r["estimator"], -float(r["weight"] or 0)))
    top = [{k: r[k] for k in ("outcome", "estimator", "name", "weight")}
           for per_outcome in est.by_key(donors, "outcome").values()
           for per in est.by_key(per_outcome, "estimator").values()
           for r in per[:TOP_DONORS]]  # fmt: skip
    image = Path(os.path.relpath(saved, page_dir)).as_posix()
    return {
        "designs_figure": est.render("figure.md.j2", kind="designs", image=image, label=label)
        if saved.is_file() and est.estimated(designs) else "",
        "designs_table": est.generic_table(designs, captions["designs"], f"tbl-{site_id}-designs",
                                       captions["designs_missing"]),
        "synth_table": est.generic_table([{k: r.get(k, "") for k in SYNTH_COLUMNS} for r in
                                          est.estimated(synth_rows)], captions["synth"],
                                         f"tbl-{site_id}-synth"),
        "synth_missing": [r for r in synth_rows if not est.estimated([r])],
        "synth_donors": est.generic_table(top, captions["donors"], f"tbl-{site_id}-donors"),
    }  # fmt: skip


def include_texts(runs: Runs, pdf: bool = False) -> dict[str, str]:
    """Every include file's text, by file name (figures as files for the PDF)."""
    pooled, card = rows(inputs.SYNTHESIS, "pooled.csv"), rows(inputs.SYNTHESIS, "scorecard.csv")
    methods = [est.word("methods", m, 1) for m in dict.fromkeys(r.get("method") for r in card) if m]
    where = {"page_dir": inputs.reports_dir(), "pdf": pdf}
    forest = figures(inputs.SYNTHESIS, inputs.SYNTHESIS, pooled, RUN_HINT, **where)
    ref = figure(inputs.SYNTHESIS, inputs.SYNTHESIS, "fig-forest", **where, ref=True)
    return {
        "answer.md": answer(card),
        "design_facts.md": design_facts(),
        "scorecard.md": scorecard_figure(card) + est.template_table("scorecard", card, methods),
        "findings.md": est.render("findings.md.j2", pooled=pooled, dutch=False),
        "samenvatting.md": est.render("findings.md.j2", pooled=pooled, dutch=True),
        "forest.md": est.render("figure.md.j2", kind="forest", shown=forest, ref=ref),
        "pooled.md": est.template_table("pooled", pooled),
        "robustness.md": robustness(pdf),
        "validation.md": validation(pdf),
        "coverage.md": coverage(),
        "sensitivity.md": est.render("sensitivity.md.j2", honest=sensitivity.run_facts()),
        "reproducibility.md": reproducibility(runs),
        "calibration.md": calibration.page_text(),
        "area_rule.md": calibration.area_rule_text(),
        "smr_crude.md": "\n".join(
            f"![{s.name}]({os.path.relpath(f, where['page_dir'])}){{#fig-smr-crude-{s.id}}}\n"
            for s in inputs.facts().sites  # the sites of this run's plan
            if (f := inputs.figure_file(s.id, "fig-its-smr-crude")).is_file()
        ),
    }


def answer(card: list[dict[str, str]]) -> str:
    """The overview's first screen: per Triple Aim dimension the scorecard's verdicts; every
    leading estimate of any site and outcome whose 95% interval excludes zero, favourable or
    not, out of how many; then the sentences other analyses leave in ``<folder>/answer.md``."""
    tried, found = 0, []
    for site in inputs.sites():
        for r in est.leading(rows(site, "did_estimates.csv"), rows(site, "its_estimates.csv")):
            low, high = (to_float(r.get(k), infinite=True) for k in ("ci_low", "ci_high"))
            tried += 1
            if low is not None and high is not None and (low > 0 or high < 0):
                good = (low > 0) == (inputs.outcome(r["outcome"]).better == "higher")
                found.append({**r, "shown": est.its_cell(r), "good": good,
                              "p": fmt_p(r.get("p_value")), "its": "effect" in r})  # fmt: skip
    extras = [p.read_text("utf-8").strip() for p in sorted(results_dir().glob("*/answer.md"))]
    return est.render("answer.md.j2", card=card, found=found, tried=tried, extras=extras,
                      sites=[s.name for s in inputs.facts().sites],
                      placebo=calibration.study_summary())  # fmt: skip


def design_facts() -> str:
    """The methods page's facts of this run: the sites (facts snapshot), the outcomes the
    time series answered and its pre-start years, and why it was refused elsewhere."""
    its = [r for s in inputs.sites() for r in rows(s, "its_estimates.csv")]
    refused = est.notes_of({"note": r.get("note", "").split("; ")[-1]} for r in its
                           if to_float(r.get("estimate")) is None)  # fmt: skip
    return est.render("design_facts.md.j2", sites=inputs.facts().sites, refused=refused,
                      answered=est.leading([], its))  # fmt: skip


def scorecard_figure(card: list[dict[str, str]]) -> str:
    """The visual scorecard the synthesis saved (``fig-scorecard.png``), above the table: alt
    text naming the sites and outcomes it shows, a caption naming the inference method its
    intervals come from. Nothing when no figure was saved (nothing was estimated)."""
    saved = inputs.figure_file(inputs.SYNTHESIS, "fig-scorecard")
    drawn = [r for r in est.estimated(card) if to_float(r.get("ci_low")) is not None]
    if not saved.is_file() or not drawn:
        return ""
    drawn_sites = list(dict.fromkeys(inputs.site_name(r.get("site", "")) for r in drawn))
    all_sites = dict.fromkeys(inputs.site_name(r.get("site", "")) for r in card)
    methods = [est.word("methods", m, 1).lower() for m in dict.fromkeys(r.get("method") for r in
               drawn) if m]  # fmt: skip
    outcomes = list(dict.fromkeys(inputs.outcome_label(r["outcome"]) for r in drawn))
    image = Path(os.path.relpath(saved, inputs.reports_dir())).as_posix()
    return est.render("figure.md.j2", kind="scorecard", label=saved.stem, image=image,
                      methods=methods, sites=drawn_sites, outcomes=outcomes,
                      left_out=[s for s in all_sites if s not in drawn_sites])  # fmt: skip


def robustness(pdf: bool = False) -> str:
    """Every site's robustness figures and tables (``<site>/robustness.csv``)."""
    found, nb, where = [], inputs.ROBUSTNESS, {"page_dir": inputs.reports_dir(), "pdf": pdf}
    for site_id in inputs.sites():
        hint = (f"They are read from `reports/results/{site_id}/robustness.csv` and written by "
                f"the `{nb}` design of `proeftuin run`.")  # fmt: skip
        checks = rows(site_id, "robustness.csv")
        found.append({"id": site_id, "name": inputs.site_name(site_id), "hint": hint,
                      "tables": est.robustness_tables(checks, site_id),
                      "figures": figures(site_id, nb, checks, hint, owner=site_id,
                                         **where)})  # fmt: skip
    return est.render("robustness.md.j2", sites=found)


def validation(pdf: bool = False) -> str:
    """The validation figure and tables (``reports/results/validation/*.csv``), each source
    cited once: a short key in the table, the full citation below it."""
    hint = "They are read from `reports/results/validation/*.csv`, written by `proeftuin run`."
    tables, folder, main = [], inputs.VALIDATION, rows(inputs.VALIDATION, "validation.csv")
    for path in sorted(inputs.results_dir(folder).glob("*.csv")):
        found, label = inputs.read_csv(path), "tbl-validation-" + re.sub(r"[^\w-]", "-", path.stem)
        if path.stem != "validation":
            tables.append(est.generic_table(found, f"Validation: {path.stem}", label))
            continue
        sources = [s for s in dict.fromkeys(r.get("source") or "" for r in found) if s]
        keys = {s: f"[{i}]" for i, s in enumerate(sources, 1)}
        cited = [{**r, "source": keys.get(r.get("source") or "", "")} for r in found]
        tables.append(est.template_table("validation", cited, [f"{keys[s]} {s}" for s in sources]))
    shown = figures(folder, folder, main, hint, page_dir=inputs.reports_dir(), pdf=pdf)
    return est.render("validation.md.j2", tables=[t for t in tables if t], figure=shown, hint=hint)


def coverage() -> str:
    """Estimation samples per site and outcome, then missingness per source and year."""
    found = [{**r[0], "site": s} for s in inputs.sites()
             for r in est.by_key(rows(s, "did_estimates.csv"), "outcome").values()]  # fmt: skip
    extra = est.generic_table(rows("data", "coverage.csv"), "Coverage and missingness per "
                              "source and year", "tbl-missingness")  # fmt: skip
    return est.render("coverage.md.j2", found=found, extra=extra)


def reproducibility(runs: Runs) -> str:
    """Every task run, the input checksums, the wall time and the commands to rerun."""
    checksums: dict[str, set[str]] = {}
    for task in runs.tasks:
        if task.folder != inputs.SYNTHESIS:  # the synthesis depends on tasks, not on data
            for name, digest in task.data_checksums.items():
                checksums.setdefault(name, set()).add(str(digest)[:16])  # the full one: provenance
    sums = [{"file": name, "sha256": ", ".join(sorted(d)), "same": "yes" if len(d) == 1
             else "NO: inputs differ"} for name, d in sorted(checksums.items())]  # fmt: skip
    commands = {site_id: [(nb, t.entry.executed_notebook or inputs.rel_root(
                    executed_notebook(site_id, nb)), json.dumps(t.entry.parameters, sort_keys=True))
                for nb, t in runs.of(site_id).items()] for site_id in inputs.sites()}  # fmt: skip
    return est.render("reproducibility.md.j2", runs=[t.row() for t in runs.tasks], sums=sums,
                  commands=commands, wall=runs.wall_time_s,
                  kernel=settings.KERNEL_NAME)  # fmt: skip
