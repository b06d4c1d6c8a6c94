"""Ids and inputs that cannot escape (issue 24): ids and file names from any file are checked
against one pattern and resolved inside their folder; YAML is size- and structure-limited;
bad values are echoed short; every refusal is one line. Ends with a fuzz test of the
registry and plan loaders."""

from __future__ import annotations

import json
import random
import shutil
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from proeftuin.cli import app
from proeftuin.core import ids, settings
from proeftuin.core.errors import DataError, PlanError
from proeftuin.core.yamlfile import read_yaml
from proeftuin.data.sites import load_registry
from proeftuin.pipeline import facts, results
from proeftuin.pipeline.plan import load_plan

REPO = Path(__file__).resolve().parents[1]
REGISTRY = REPO / "data" / "sites" / "pioneer_sites.yml"
SITE = """\
  {id}:
    name: {name}
    municipalities: [{code}]
    start_year: 2014
    lead_insurer: CZ
    status: confirmed
    sources: {{site: s, municipalities: s, start_year: s, lead_insurer: s}}
"""
PLAN = """\
outcomes: [cost_basket_std]
designs: [did_site]
sites:
{sites}
"""


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project root with this checkout's notebooks and reference data, its own registry."""
    project = tmp_path / "project"
    (project / "data" / "sites").mkdir(parents=True)
    (project / "data" / "reference").symlink_to(REPO / "data" / "reference")
    (project / "notebooks").symlink_to(REPO / "notebooks")
    monkeypatch.setenv(settings.ROOT_ENV, str(project))
    return project


def write_project(root: Path, sites: dict[str, str], plan_sites: list[str] | None = None) -> None:
    codes = iter(("GM0014", "GM0034", "GM0037", "GM0047", "GM0050", "GM0059"))
    body = "".join(
        SITE.format(id=json.dumps(i), name=json.dumps(n), code=next(codes))
        for i, n in sites.items()
    )
    (root / "data" / "sites" / "pioneer_sites.yml").write_text("sites:\n" + body)
    listed = plan_sites if plan_sites is not None else list(sites)
    (root / "analysis.yml").write_text(PLAN.format(sites="".join(f"  {json.dumps(s)}: {{}}\n"
                                                                  for s in listed)))  # fmt: skip


# ----------------------------------------------------------------- item 4: site ids


@pytest.mark.parametrize(
    "bad", ["../../escaped", "/tmp/abs_evil", "a/b", "", "synthesis", "subsets", "Site", ".x"]
)
def test_a_registry_site_id_that_could_escape_or_collide_is_refused(root: Path, bad: str) -> None:
    write_project(root, {bad: "Evil", "good": "Good"}, plan_sites=["good"])
    with pytest.raises(DataError, match="site id") as refused:
        load_registry()
    assert "\n" not in str(refused.value)


def test_a_plan_site_id_that_could_escape_is_refused_and_run_check_says_so(root: Path) -> None:
    write_project(root, {"good": "Good"}, plan_sites=["good", "../../escaped", "validation"])
    with pytest.raises(PlanError) as refused:
        load_plan()
    assert any("'../../escaped' is not a valid id" in p for p in refused.value.problems)
    assert any("'validation' is reserved" in p for p in refused.value.problems)
    result = CliRunner().invoke(app, ["run", "--check"])
    assert result.exit_code == 2 and "not a valid id" in result.output
    assert not (root / "reports").exists() and not (root.parent / "escaped").exists()


def test_results_folders_stay_inside_their_base(root: Path) -> None:
    assert results.results_dir("north") == settings.results_dir() / "north"
    for bad in ("../../escaped", "/tmp/abs_evil", "a/b", ".."):
        with pytest.raises(DataError):
            results.results_dir(bad)
        with pytest.raises(DataError):
            results.executed_dir(bad)
    with pytest.raises(DataError):
        results.results_dir("north", subset="../../x")
    with pytest.raises(DataError):
        ids.file_in(root, "../victim.txt")
    assert ids.file_in(root, "did_estimates.csv") == root / "did_estimates.csv"


def test_a_manifest_naming_a_task_outside_is_refused_in_one_line(root: Path) -> None:
    path = root / "reports" / "results" / "manifest.json"
    path.parent.mkdir(parents=True)
    task = {"name": "../../x/did_site", "site": "../../x", "notebook": "did_site",
            "template": "t", "status": "ok"}  # fmt: skip
    path.write_text(json.dumps({"schema_version": 1, "plan_hash": "p", "code_version": "c",
                                "created": "2025-01-01T00:00:00Z", "updated":
                                "2025-01-01T00:00:00Z", "tasks": [task]}))  # fmt: skip
    with pytest.raises(results.ManifestError, match="not a valid id") as refused:
        results.read_manifest()
    assert "\n" not in str(refused.value)


# ------------------------------------------------- items 7, 11, 12: the YAML itself


def test_a_yaml_alias_bomb_is_refused_at_once_and_briefly(root: Path) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    (root / "analysis.yml").write_text("\n".join(["bomb:", *("  " + x for x in lines)]) + "\n")
    started = time.perf_counter()
    with pytest.raises(PlanError) as refused:
        load_plan()
    assert time.perf_counter() - started < 2
    assert "aliases (*name) are not allowed" in str(refused.value)
    assert len(str(refused.value)) < 300


def test_a_huge_file_is_refused_before_parsing_and_long_values_are_echoed_short(
    root: Path,
) -> None:
    (root / "analysis.yml").write_text("x: " + "y" * (2 << 20) + "\n")
    with pytest.raises(PlanError, match="more than the"):
        load_plan()
    write_project(root, {"good": "Good"})
    (root / "analysis.yml").write_text(PLAN.format(sites="  good: {draws: '" + "9" * 10**6 + "'}"))
    with pytest.raises(PlanError) as refused:
        load_plan()
    assert all(len(p) < 300 for p in refused.value.problems)


@pytest.mark.parametrize(
    ("plan", "said"),
    [
        (PLAN.format(sites="  good: {}\n  good: {draws: 199}\n"), "duplicate key 'good'"),
        (
            PLAN.replace("[did_site]", "[did_site, did_site]").format(sites="  good: {}"),
            "'did_site' is listed more than once",
        ),  # fmt: skip
        (
            PLAN.replace("[cost_basket_std]", "[cost_basket_std, cost_basket_std]").format(
                sites="  good: {}"
            ),
            "'cost_basket_std' is listed more than once",
        ),  # fmt: skip
    ],
)
def test_duplicates_in_the_plan_are_refused(root: Path, plan: str, said: str) -> None:
    write_project(root, {"good": "Good"})
    (root / "analysis.yml").write_text(plan)
    with pytest.raises(PlanError) as refused:
        load_plan()
    assert said in str(refused.value)


def test_a_duplicate_registry_site_is_refused(root: Path) -> None:
    write_project(root, {"good": "Good"})
    path = root / "data" / "sites" / "pioneer_sites.yml"
    path.write_text(path.read_text() + SITE.format(id="good", name="Again", code="GM0034"))
    with pytest.raises(DataError, match="duplicate key 'good'"):
        load_registry()


def test_a_latin1_plan_is_one_line_naming_the_encoding(root: Path) -> None:
    write_project(root, {"good": "Good"})
    (root / "analysis.yml").write_bytes("# café\n".encode("latin-1") + b"outcomes: []\n")
    result = CliRunner().invoke(app, ["run", "--check"])
    assert result.exit_code == 2 and "not UTF-8" in result.output
    assert "Traceback" not in result.output
    with pytest.raises(DataError, match="not UTF-8"):
        read_yaml(root / "analysis.yml")


# -------------------------------------------------------------- item 13: the root


def test_a_missing_project_root_is_one_line_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nonexistent"
    monkeypatch.setenv(settings.ROOT_ENV, str(missing))
    for command in (["report"], ["data"], ["run", "--check"]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2, result.output
        assert "PROEFTUIN_ROOT" in result.output and "no such folder" in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not missing.exists()


# ------------------------------------------------------------------------- fuzz

NASTY = ["/", "..", "../", "'", '"', "<script>alert(1)</script>", "<img src=x onerror=1>",
         "\x00", "\n", "\r", "\t", "\x1b[2J", "|", "*", "`", "$", "@", "&amp;", "#", "{",
         "}", "[", "]", "-", "_", "é", "\u2028", " ", "x" * 300, "*a", "&a",
         "!!python/object:x"]  # fmt: skip


def nasty(rng: random.Random) -> str:
    return "".join(rng.choice(NASTY + list("abcxyz019")) for _ in range(rng.randint(0, 6)))


def test_fuzz_the_registry_and_plan_loaders_write_nothing_outside_reports(root: Path) -> None:
    """Random ids and names (slashes, dots, quotes, HTML, control characters, long strings,
    YAML anchors and aliases): every plan is refused with one line per problem and no
    traceback, or accepted with every task folder and the facts inside ``reports/``."""
    rng = random.Random(24)
    outside = root.parent
    before = {p for p in outside.rglob("*") if "reports" not in p.relative_to(root.parent).parts}
    accepted = 0
    for case in range(60):
        ids_ = [nasty(rng) if rng.random() < 0.25 else f"site-{case}-{i}" for i in range(3)]
        names = {i: nasty(rng) or "n" for i in ids_}
        if rng.random() < 0.5:
            write_project(root, names)
        else:  # raw YAML, not quoted: anchors, aliases, tags and flow syntax get through
            text = "sites:\n" + "".join(SITE.format(id=i or "''", name=n, code="GM0014")
                                        for i, n in names.items())  # fmt: skip
            (root / "data" / "sites" / "pioneer_sites.yml").write_text(text, errors="replace")
            (root / "analysis.yml").write_text(
                PLAN.format(sites="".join(f"  {i}: {{}}\n" for i in ids_)), errors="replace"
            )
        result = CliRunner().invoke(app, ["run", "--check"])
        assert result.exit_code in (0, 2), (case, result.output, result.exception)
        assert result.exception is None or isinstance(result.exception, SystemExit), case
        assert "Traceback" not in result.output
        if result.exit_code == 2:
            lines = result.output.strip().splitlines()
            assert lines[0].startswith("error: ") or lines[0].startswith("data error: ")
            assert all(line.startswith("  - ") for line in lines[1:]), (case, lines)
            assert all(len(line) < 400 for line in lines), (case, lines)
            continue
        accepted += 1
        plan = load_plan()
        reports = (root / "reports").resolve()
        for task in plan.tasks():
            for path in (task.results_dir, task.executed_path, task.provenance_path):
                assert path.resolve().is_relative_to(reports), (case, path)
        facts.write_facts(plan)
        page = facts.read_facts()
        assert [s.name for s in page.sites] == [names[i] for i in plan.sites]
    after = {p for p in outside.rglob("*") if "reports" not in p.relative_to(root.parent).parts}
    written = {root / "analysis.yml", root / "data" / "sites" / "pioneer_sites.yml"}
    assert after - before <= written  # only what the test wrote itself
    assert accepted >= 5  # the fuzz also reaches the accepting path
    shutil.rmtree(root / "reports", ignore_errors=True)
