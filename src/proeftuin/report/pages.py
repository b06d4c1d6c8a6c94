"""The generated pages: one page per site, and the include files the static pages pull in
(``reports/_generated/*.md``: scorecard, findings in plain words in English and Dutch,
robustness, validation, data coverage, reproducibility). Words, captions and fixed table
columns are in the templates (``reports/templates/``); this module gathers their data.

A figure on the website is Quarto's ``{{< embed notebook.ipynb#label >}}`` of the executed
notebook's labelled cell. In the PDF it is the file the notebook saved beside its results
(``reports/results/<site>/<label>.png``) under a document-wide unique label
(``fig-<site>-event-study``). A missing figure or result becomes a callout saying why.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
from pathlib import Path
from typing import Any

from proeftuin import settings
from proeftuin.report import inputs
from proeftuin.report.dilution import dilution_table
from proeftuin.report.estimates import (
    DESIGN_NAMES,
    METHODS,
    by_key,
    did_tables,
    generic_table,
    its_tables,
    render,
    robustness_tables,
    template_table,
)
from proeftuin.report.inputs import Rows, Runs, TaskRun, executed_notebook, notebook_labels, rows
from proeftuin.report.synth import SYNTH_FIGURES, synth_context
from proeftuin.report.tables import (
    fmt_int,
    missing_note,
    to_float,
)

STATIC_PAGES = ("index", "sites", "synthesis", "robustness", "methods", "data", "reproducibility")
DID_FIGURES = ("fig-trends", "fig-event-study")
ITS_FIGURES = ("fig-its", "fig-its-placebo")
ROBUSTNESS_FIGURES = ("fig-robustness", "fig-placebo")
DESIGN_NAMES_NL = {"did_site": "verschil-in-verschillen", "its_site": "onderbroken tijdreeks"}
DESIGN_NAMES_NL |= {"did": DESIGN_NAMES_NL["did_site"], "its": DESIGN_NAMES_NL["its_site"]}
RUN_HINT = "Run `proeftuin run` to execute the notebooks, then `proeftuin report`."
EMBED_RE = re.compile(r"\{\{<\s*embed\s+([^#\s>]+)#([^\s>]+)(?:\s[^>]*)?>\}\}")
INCLUDE_RE = re.compile(r"\{\{<\s*include\s+([^\s>]+)\s*>\}\}")


# ----------------------------------------------------------------------------- figures


def pdf_label(owner: str, label: str) -> str:
    """A label unique in the whole PDF: prefixed by the site that owns the figure."""
    return f"fig-{owner}-{label.removeprefix('fig-')}" if owner else label


def figure(folder: str, notebook: str, label: str, why: str = RUN_HINT, *, page_dir: Path,
           pdf: bool = False, owner: str = "", ref: bool = False) -> str:  # fmt: skip
    """A labelled figure: an embed (website) or its saved file (PDF), or a note why not;
    with ``ref``, ``@label`` where it is shown, else words saying it is missing."""
    path = executed_notebook(folder, notebook)
    cell, saved = notebook_labels(path).get(label), inputs.figure_file(folder, label)
    shown = saved.is_file() if pdf else cell is not None
    if ref:
        return f"@{pdf_label(owner if pdf else '', label)}" if shown else (
            f"figure `{label}`: not available"
        )  # fmt: skip
    if not shown:
        return missing_note(f"Figure `{label}` from `{path.name}` is not available.", why)
    if not pdf:
        return f"{{{{< embed {Path(os.path.relpath(path, page_dir)).as_posix()}#{label} >}}}}\n"
    caption = (cell or {}).get("fig-cap", label)
    image = Path(os.path.relpath(saved, page_dir)).as_posix()
    source = f" (Source: `{inputs.rel_root(path)}`)"
    return f"![{caption}{source}]({image}){{#{pdf_label(owner, label)}}}\n"


def why_missing(notebook: str, tasks: dict[str, TaskRun]) -> str:
    """Why the task's output is missing (failed, not run), else how to produce it."""
    task = tasks.get(notebook)
    return f"Task {task.entry.describe()}." if task and not task.entry.succeeded else RUN_HINT


# ----------------------------------------------------------------------------- site pages


def write_site_pages(runs: Runs) -> list[Path]:
    """One page per site of the facts snapshot (pages of sites no longer there removed)."""
    folder = inputs.reports_dir("sites")
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.qmd"):
        if stale.stem not in inputs.sites():
            stale.unlink()
    pages = [folder / f"{site_id}.qmd" for site_id in inputs.sites()]
    for page in pages:
        page.write_text(site_page(page.stem, runs, pdf=False), encoding="utf-8")
    return pages


def site_page(site_id: str, runs: Runs, *, pdf: bool) -> str:
    """A site's page (website) or chapter source (PDF, figures from files)."""
    return render("site.qmd.j2", **site_context(site_id, runs, pdf))


def site_context(site_id: str, runs: Runs, pdf: bool) -> dict[str, Any]:
    """Everything the site template shows, from the facts snapshot and the results."""
    site, tasks = inputs.site(site_id), runs.of(site_id)
    facts = {**site.model_dump(), "missing": False} if site else {"name": site_id, "status": ""}
    facts.setdefault("missing", True)
    first = next(iter(tasks.values()), None)
    params = first.entry.parameters if first else site.parameters.model_dump() if site else {}
    did_rows, its_rows = rows(site_id, "did_estimates.csv"), rows(site_id, "its_estimates.csv")
    page_dir = inputs.reports_dir() if pdf else inputs.reports_dir("sites")
    treated = to_float(did_rows[0].get("n_treated_units")) if did_rows else None

    def figures(notebook: str, labels: tuple[str, ...]) -> list[str]:
        why = why_missing(notebook, tasks)
        return [figure(site_id, notebook, lab, why, page_dir=page_dir, pdf=pdf, owner=site_id)
                for lab in labels]  # fmt: skip

    def ref(notebook: str, label: str) -> str:
        return figure(site_id, notebook, label, page_dir=page_dir, pdf=pdf, owner=site_id, ref=True)

    def drawn(label: str) -> bool:  # an ITS figure with no estimated outcome is not drawn
        task = tasks.get("its_site")
        ran = task is not None and task.entry.succeeded
        return not ran or inputs.figure_file(site_id, label).is_file()

    def shown(key: str, value: Any) -> str:
        if key == "inference":  # the methods' names as the tables print them
            value = [METHODS.get(m, (m,))[0] for m in value]
        if isinstance(value, list):
            return ", ".join(map(str, value))
        return value if isinstance(value, str) else json.dumps(value)

    pretrends = {}  # the first estimated DiD row of each outcome
    for row in did_rows:
        if to_float(row.get("estimate")) is not None:
            pretrends.setdefault(row.get("outcome", ""), row)
    refs = [("did_site", lab) for lab in DID_FIGURES] + [("its_site", "fig-its")]
    return {
        "site": facts,
        "site_id": site_id,
        "params": params,
        "incomplete": runs.incomplete(site_id),
        "failed": [t.entry.describe() for t in tasks.values() if not t.entry.succeeded],
        "ref": {lab: ref(nb, lab) for nb, lab in refs},
        "start_year": params.get("start_year") or facts.get("start_year", ""),
        "municipalities": [{"code": m.code, "name": m.name or "–"} for m in site.municipalities]
        if site
        else [],
        "parameters": [{"key": f"`{k}`", "value": shown(k, v)} for k, v in sorted(params.items())],
        "notebooks": {
            n: inputs.rel_root(executed_notebook(site_id, n)) for n in ("did_site", "its_site")
        },
        "sample": did_rows
        and {
            "units": fmt_int(did_rows[0].get("n_units")),
            "treated": fmt_int(treated),
            "treated_n": 5 if treated is None else treated,
        },
        "did_figures": figures("did_site", DID_FIGURES),
        "its_figures": figures("its_site", tuple(filter(drawn, ITS_FIGURES))),
        "did_table": did_tables(did_rows, f"tbl-{site_id}-did").markdown()
        or missing_note("No difference-in-differences estimates.", why_missing("did_site", tasks)),
        "its_table": its_tables(its_rows, f"tbl-{site_id}-its").markdown()
        or missing_note("No interrupted-time-series estimates.", why_missing("its_site", tasks)),
        "has_robustness": bool(
            rows(site_id, "robustness.csv") or notebook_labels(robustness_notebook(site_id))
        ),
        "pretrends": list(pretrends.values()),
        "runs": [run_row(t) for t in tasks.values()],
        **synth_context(site_id, page_dir, pdf, figures("synth_site", SYNTH_FIGURES)),
        "dilution": dilution_table(site, did_rows, its_rows, f"tbl-{site_id}-dilution"),
    }


def run_row(task: TaskRun) -> dict[str, Any]:
    """A task for the runs tables: ``git describe`` with uncommitted changes said in words."""
    version = task.code_version
    if version != "–":
        dirty = " (uncommitted changes)" if version.endswith("-dirty") else ""
        version = f"`{version.removesuffix('-dirty')}`{dirty}"
    return {"name": task.entry.name, "notebook": task.entry.notebook, "status": task.status,
            "code_version": version, "lock": f"`{task.lock_hash[:16]}`",
            "duration_s": task.duration_s, "finished": task.finished}  # fmt: skip


def robustness_notebook(site_id: str) -> Path:
    return executed_notebook(site_id, inputs.ROBUSTNESS)


# ----------------------------------------------------------------------------- include files


def include_texts(runs: Runs) -> dict[str, str]:
    """Every include file's text, by file name."""
    pooled, card = rows(inputs.SYNTHESIS, "pooled.csv"), rows(inputs.SYNTHESIS, "scorecard.csv")
    return {
        "scorecard.md": scorecard_figure(card)
        + (
            template_table("scorecard", card)
            or missing_note("No scorecard yet.", "Run `proeftuin run` (the synthesis writes it).")
        ),
        "findings.md": findings(pooled, dutch=False),
        "samenvatting.md": findings(pooled, dutch=True),
        "pooled.md": template_table("pooled", pooled)
        or missing_note("No pooled estimates yet.", "Run `proeftuin run`."),
        "robustness.md": robustness(),
        "validation.md": validation(),
        "coverage.md": coverage(),
        "reproducibility.md": reproducibility(runs),
    }


# ----------------------------------------------------------------------------- scorecard figure

SCORECARD_FIGURE = "fig-scorecard"
#: A figure with alt text as the scorecard's include writes it (Quarto's image syntax).
ALT_FIGURE_RE = re.compile(r'!\[([^\]]*)\]\(([^)\s]+)\)\{#([\w-]+) fig-alt="([^"]*)"\}')


def scorecard_figure(card: Rows) -> str:
    """The visual scorecard the synthesis saved (``fig-scorecard.png``), above the table: alt
    text naming the sites and outcomes it shows, a caption naming the inference method its
    intervals come from. Nothing when no figure was saved (nothing was estimated)."""
    saved = inputs.figure_file(inputs.SYNTHESIS, SCORECARD_FIGURE)
    keys = ("estimate", "ci_low", "ci_high")
    drawn = [r for r in card if all(to_float(r.get(k)) is not None for k in keys)]
    if not saved.is_file() or not drawn:
        return ""
    sites = list(dict.fromkeys(inputs.site_name(r.get("site", "")) for r in drawn))
    outcomes = list(dict.fromkeys(inputs.outcome(r.get("outcome", "")).label for r in drawn))
    methods = [m for m in dict.fromkeys(r.get("method") or "" for r in drawn) if m]
    named = [METHODS.get(m, (m, m))[1].lower() for m in methods] or ["a method not recorded"]
    left_out = list(dict.fromkeys(inputs.site_name(r.get("site", "")) for r in card))
    left_out = [s for s in left_out if s not in sites]
    alt = (
        f"Chart of the Triple Aim scorecard for {_words(sites)}: for {_words(outcomes)}, each "
        "site's estimated effect with its 95% interval against zero, marked ▲ better or "
        "▼ worse where the interval excludes zero and ○ no clear change where it includes "
        "zero. The table below gives the numbers."
    )
    caption = (
        "Triple Aim scorecard: each site's estimate with its 95% interval against zero, per "
        f"headline outcome. Intervals: {_words(named)} (each site's most robust method). "
        "▲ better, ▼ worse: the interval excludes zero; ○ no clear change: it includes zero "
        "(the table's direction also counts weak evidence, p < 0.10). Grey band: ± the "
        "minimum detectable effect, where known."
        + (f" Not drawn, no estimate: {_words(left_out)}." if left_out else "")
    )
    image = Path(os.path.relpath(saved, inputs.reports_dir())).as_posix()
    alt = alt.replace('"', "'")
    return f'![{caption}]({image}){{#{SCORECARD_FIGURE} fig-alt="{alt}"}}\n\n'


def _words(items: list[str]) -> str:
    return ", ".join(items[:-1]) + f" and {items[-1]}" if len(items) > 1 else "".join(items)


def preview_figures(markdown: str) -> str:
    """For the previews (no Quarto): a figure with alt text as an HTML figure, its image
    inlined (the previews folder is served without the results beside it)."""

    def figure_html(match: re.Match[str]) -> str:
        caption, src, label, alt = match.groups()
        path = inputs.reports_dir() / src
        if not path.is_file():
            return ""
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return (f"<figure id='{label}'><img src='data:image/png;base64,{data}' "
                f"alt='{html.escape(alt, quote=True)}' style='max-width:100%'>"
                f"<figcaption>{html.escape(caption)}</figcaption></figure>\n")  # fmt: skip

    return ALT_FIGURE_RE.sub(figure_html, markdown)


def write_includes(runs: Runs) -> list[Path]:
    """Write the website's include files; their paths."""
    out = inputs.reports_dir("_generated")
    out.mkdir(parents=True, exist_ok=True)
    for name, text in include_texts(runs).items():
        (out / name).write_text(text, encoding="utf-8")
    return sorted(out.glob("*.md"))


def findings(pooled: Rows, dutch: bool) -> str:
    """Every pooled estimate as a bullet in plain words, its uncertainty stated."""
    designs = DESIGN_NAMES_NL if dutch else DESIGN_NAMES
    return render("findings.md.j2", pooled=pooled, dutch=dutch, designs=designs,
                  outcome=inputs.outcome)  # fmt: skip


def robustness(pdf: bool = False) -> str:
    """Every site's robustness figures and tables (``<site>/robustness.csv``)."""
    found, nb = [], inputs.ROBUSTNESS
    for site_id in inputs.sites():
        hint = (f"They are read from `reports/results/{site_id}/robustness.csv` and "
                f"`reports/executed/{site_id}/{nb}.ipynb`, written by the `{nb}` design of "
                "`proeftuin run`.")  # fmt: skip
        tables = robustness_tables(rows(site_id, "robustness.csv"), site_id).markdown()
        shown = tables or notebook_labels(robustness_notebook(site_id))
        figures = [figure(site_id, nb, label, hint, page_dir=inputs.reports_dir(), pdf=pdf,
                          owner=site_id) for label in ROBUSTNESS_FIGURES]  # fmt: skip
        found.append({"id": site_id, "name": inputs.site_name(site_id), "tables": tables,
                      "figures": figures if shown else [], "hint": hint})  # fmt: skip
    return render("robustness.md.j2", sites=found)


def validation(pdf: bool = False) -> str:
    """The validation figure and tables (``reports/results/validation/*.csv``)."""
    hint = (
        "They are read from `reports/results/validation/validation.csv` and "
        "`reports/executed/validation/validation.ipynb`, written by `proeftuin run`."
    )
    tables, folder = [], inputs.VALIDATION
    for path in sorted(inputs.results_dir(folder).glob("*.csv")):
        found, label = inputs.read_csv(path), "tbl-validation-" + re.sub(r"[^\w-]", "-", path.stem)
        tables.append(template_table("validation", found) if path.stem == "validation"
                      else generic_table(found, f"Validation: {path.stem}", label))  # fmt: skip
    shown = figure(folder, folder, "fig-validation", hint, page_dir=inputs.reports_dir(), pdf=pdf)
    labelled = bool(notebook_labels(executed_notebook(folder, folder)))
    return render("validation.md.j2", tables=[t for t in tables if t], labelled=labelled,
                  figure=shown, hint=hint)  # fmt: skip


def coverage() -> str:
    """Estimation samples per site and outcome, then missingness per source and year."""
    found = []
    for site_id in inputs.sites():
        per_outcome = by_key(rows(site_id, "did_estimates.csv"), "outcome")
        found += [{**r[0], "site": site_id} for r in per_outcome.values()]
    extra = rows("data", "coverage.csv")
    extra = generic_table(extra, "Coverage and missingness per source and year", "tbl-missingness")
    return render("coverage.md.j2", found=found, extra=extra)


def reproducibility(runs: Runs) -> str:
    """Every task run, the input checksums, the wall time and the commands to rerun."""
    checksums: dict[str, set[str]] = {}
    for task in runs.tasks:
        if task.folder != inputs.SYNTHESIS:  # the synthesis depends on tasks, not on data
            for name, digest in task.data_checksums.items():
                checksums.setdefault(name, set()).add(str(digest))
    sums = [{"file": name, "sha256": ", ".join(sorted(d)),
             "same": "yes" if len(d) == 1 else "NO: inputs differ"}
            for name, d in sorted(checksums.items())]  # fmt: skip
    commands = {
        site_id: [
            f"papermill notebooks/{nb}.ipynb "
            f"{t.entry.executed_notebook or inputs.rel_root(executed_notebook(site_id, nb))} "
            f"-k {settings.KERNEL_NAME} -y '{json.dumps(t.entry.parameters, sort_keys=True)}'"
            for nb, t in runs.of(site_id).items()
        ]
        for site_id in inputs.sites()
    }
    return render("reproducibility.md.j2", runs=[run_row(t) for t in runs.tasks], sums=sums,
                  commands=commands, wall=runs.wall_time_s)  # fmt: skip
