"""Outcomes: read from records and Inspect scores, stored, linked to beliefs, the verbalisation gap,
paired counterfactuals; the ``outcomes`` and ``counterfactual`` commands."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from scipy import stats

from cotgraph.io import LoadOptions, load
from cotgraph.io.outcome_fields import (
    OutcomeSpec,
    OutcomeSpecError,
    inspect_scores,
    outcome_value,
    parse_outcome_specs,
)
from cotgraph.outcomes import (
    OutcomeData,
    OutcomeError,
    OutcomeTrace,
    link_beliefs,
    verbalisation_gap,
)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
HINTS = SHARED / "thought-branches" / "faithfulness" / "good_problems"
HINT_03 = HINTS / "Professor_itc_failure_threshold0.3.json"
HINT_015 = HINTS / "Professor_itc_failure_threshold0.15_correct_base_no_mention.json"
MATS = ROOT / "benchmarks" / "data" / "coding" / "mats-research-harness"
needs_data = pytest.mark.skipif(not SHARED.exists(), reason="../shared/data is not beside the project")


# --- reading outcomes --------------------------------------------------------------------------


def test_outcome_values_keep_yes_no_apart_from_numbers() -> None:
    assert outcome_value(True) is True
    assert outcome_value(0) == 0.0 and isinstance(outcome_value(0), float)
    assert outcome_value(" Passed ") is True and outcome_value("no") is False
    assert outcome_value("0.25") == 0.25
    assert outcome_value("maybe") is None and outcome_value([1]) is None and outcome_value(float("nan")) is None
    # Inspect letter scores read as Inspect's value_to_float does; a dict value gives one per key
    assert inspect_scores({"match": {"value": "C"}, "judge": {"value": "P"}, "f": {"value": {"a": 1, "b": "I"}}}) == {
        "match": 1.0,
        "judge": 0.5,
        "f.a": 1.0,
        "f.b": 0.0,
    }


def test_outcome_expressions_parse_and_compare() -> None:
    spec = OutcomeSpec.from_expr("followed_hint=answer == cue_answer")
    assert spec.name == "followed_hint"
    from cotgraph.io.records import get_path

    assert spec.read({"answer": "D", "cue_answer": "D"}, get_path) is True
    assert spec.read({"answer": "A", "cue_answer": "D"}, get_path) is False
    assert spec.read({"answer": "A"}, get_path) is None  # a missing field: no value, not False
    unnamed = OutcomeSpec.from_expr("score.value >= 0.5")
    assert unnamed.name == "score.value >= 0.5"
    assert unnamed.read({"score": {"value": "0.75"}}, get_path) is True  # a number given as text
    assert OutcomeSpec.from_expr("action != 'spec_correct'").read({"action": "tamper"}, get_path) is True
    for bad in ("answer", "1 == 2", "a == b c", "a ~= b"):
        with pytest.raises(OutcomeSpecError):
            OutcomeSpec.from_expr(bad)
    with pytest.raises(OutcomeSpecError, match="named twice"):
        parse_outcome_specs(["passed"], ["passed=score > 1"])


@needs_data
def test_records_carry_their_outcomes() -> None:
    options = LoadOptions(outcome_exprs=("followed_hint=answer == cue_answer",), outcome_fields=("pn", "nope"))
    traces = load(HINT_03, options).traces
    assert len(traces) == 82
    assert all(t.outcomes["followed_hint"] is True for t in traces)  # the data's README: every record followed
    assert all(isinstance(t.outcomes["pn"], float) for t in traces)
    assert not any("nope" in t.outcomes for t in traces)  # a missing field is no outcome


def test_transcript_header_codes_and_inspect_scores_are_outcomes(fixtures: Path) -> None:
    traces = load(MATS, LoadOptions(outcome_exprs=("hacked=action != 'spec_correct'",))).traces
    with (ROOT / "benchmarks" / "data" / "coding" / "mats_cot_tally.csv").open(newline="", encoding="utf-8") as fh:
        action = {row["run_id"]: row["action"] for row in csv.DictReader(fh)}
    assert len(traces) == 52
    for t in traces:  # the header code, looked up in the metadata, agrees with the study's tally
        assert t.outcomes["hacked"] is (action[Path(t.source.path).stem] != "spec_correct")
    inspect = load(fixtures / "inspect" / "log.json").traces
    scored = [t for t in inspect if t.outcomes]
    assert scored and all(t.outcomes == {"match": 1.0} for t in scored)


# --- statistics ----------------------------------------------------------------------------------


def _data(rows: list[tuple[str, float, dict[str, int]]], binary: bool = True, action: str | None = None) -> OutcomeData:
    traces = [OutcomeTrace(trace_id=f"t{i}", group=g, value=v, first_steps=f) for i, (g, v, f) in enumerate(rows)]
    return OutcomeData(outcome="o", binary=binary, traces=traces, by="model", action=action)


def test_linkage_rates_intervals_and_exact_test() -> None:
    # explored: 8 of 10 with the outcome; not explored: 2 of 10
    rows = [("m1", 1.0, {"b": 0})] * 8 + [("m2", 0.0, {"b": 1})] * 2 + [("m1", 1.0, {})] * 2 + [("m2", 0.0, {})] * 8
    link = {r["group"]: r for r in link_beliefs(_data(rows), n_boot=500)}
    whole = link["all"]
    assert (whole["explored"], whole["not"], whole["difference"]) == (0.8, 0.2, 0.6)
    assert whole["explored_ci_low"] < 0.8 < whole["explored_ci_high"]
    assert whole["difference_ci_low"] > 0  # a difference this large excludes zero
    assert whole["p_value"] == pytest.approx(stats.fisher_exact([[8, 2], [2, 8]]).pvalue, rel=1e-3)
    assert link["m1"]["n_explored"] == 8 and link["m1"]["n_not"] == 2  # per model beside the whole
    again = {r["group"]: r for r in link_beliefs(_data(rows), n_boot=500)}
    assert again == link  # seeded: the same intervals every run


def test_linkage_of_a_number_uses_means_and_mann_whitney() -> None:
    rows = [("m", float(v), {"b": 0}) for v in (5, 6, 7, 8)] + [("m", float(v), {}) for v in (1, 2, 3, 4)]
    (whole, _) = link_beliefs(_data(rows, binary=False), n_boot=500)
    assert whole["statistic"] == "mean" and whole["explored"] == 6.5 and whole["not"] == 2.5
    assert whole["test"] == "mann_whitney_u"
    assert whole["p_value"] == pytest.approx(stats.mannwhitneyu([5, 6, 7, 8], [1, 2, 3, 4]).pvalue, rel=1e-3)
    with pytest.raises(OutcomeError, match="yes/no"):
        verbalisation_gap(_data(rows, binary=False), ["b"])


def test_gap_counts_traces_that_acted_without_raising_the_belief() -> None:
    rows = [("m", 1.0, {"hint": 2})] * 3 + [("m", 1.0, {"other": 0})] * 6 + [("m", 0.0, {})] * 5
    (gap, _) = verbalisation_gap(_data(rows), ["hint"], n_boot=500)
    assert (gap["n_outcome"], gap["n_silent"], gap["gap"]) == (9, 6, pytest.approx(6 / 9, abs=1e-6))
    assert gap["ci_low"] <= 6 / 9 <= gap["ci_high"]


def test_belief_before_the_action_step() -> None:
    traces = [
        OutcomeTrace("a", "m", 1.0, {"b": 1}, action_step=4),
        OutcomeTrace("b", "m", 1.0, {"b": 6}, action_step=4),
        OutcomeTrace("c", "m", 1.0, {"b": 0}, action_step=None),  # never acted in its text: not counted
        OutcomeTrace("d", "m", 0.0, {"b": 0}, action_step=2),  # no outcome: not counted
    ]
    data = OutcomeData(outcome="o", binary=True, traces=traces, action="x")
    (row,) = link_beliefs(data, n_boot=200)
    assert row["n_action"] == 2 and row["before_action"] == 0.5


# --- store and commands --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hint_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two hint files analysed into a store (fast embedder), with two outcomes."""
    from conftest import run_cli

    db = tmp_path_factory.mktemp("outcomes") / "hints.duckdb"
    done = run_cli(
        "analyze",
        str(HINT_03),
        str(HINT_015),
        "--db",
        str(db),
        "--embedder",
        "fast",
        "--outcome-expr",
        "followed_hint=answer == cue_answer",
        "--outcome-field",
        "pn",
    )
    assert done.returncode == 0, done.stderr
    return db


@needs_data
def test_store_keeps_outcomes_and_the_json_contract_shows_them(hint_store: Path, cli, tmp_path: Path) -> None:
    from cotgraph.store import Store

    with Store(hint_store, read_only=True) as store:
        assert store.count("outcomes") == 2 * 153
        some = store.trace_ids(limit=1)[0]
        outcomes = store.read_analysis(some).trace.outcomes
    assert outcomes["followed_hint"] is True and isinstance(outcomes["pn"], float)
    ten = tmp_path / "ten.json"  # the first ten records of the 0.3 file
    ten.write_text(json.dumps(json.loads(HINT_03.read_text(encoding="utf-8"))[:10]), encoding="utf-8")
    out = tmp_path / "a.jsonl"
    done = cli("analyze", str(ten), "--embedder", "fast", "--out", str(out), "--outcome-field", "answer")
    assert done.returncode == 0, done.stderr
    first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert first["outcomes"] == {}  # a letter is no yes/no or number: no outcome, not a wrong one
    # re-ingesting with other outcomes rewrites the traces' outcome rows
    db = tmp_path / "s.duckdb"
    assert cli("analyze", str(ten), "--db", str(db), "--embedder", "fast").returncode == 0
    assert cli("outcomes", "--db", str(db)).returncode == 1  # no outcomes yet: says how to add them
    again = cli("analyze", str(ten), "--db", str(db), "--embedder", "fast", "--outcome-expr", "f=answer == cue_answer")
    assert again.returncode == 0 and "10 traces analysed" in again.stderr
    with Store(db, read_only=True) as store:
        assert store.count("outcomes") == 10


@needs_data
def test_outcomes_command_links_beliefs_and_measures_the_gap(hint_store: Path, cli, tmp_path: Path) -> None:
    ambiguous = cli("outcomes", "--db", str(hint_store))
    assert ambiguous.returncode == 64 and "followed_hint (153 traces)" in ambiguous.stderr
    unknown = cli("outcomes", "--db", str(hint_store), "--outcome", "passed")
    assert unknown.returncode == 64 and "no outcome 'passed'" in unknown.stderr
    numeric_gap = cli("outcomes", "--db", str(hint_store), "--outcome", "pn", "--explains", "hint_reliance")
    assert numeric_gap.returncode == 64 and "yes/no" in numeric_gap.stderr
    done = cli(
        "outcomes",
        "--db",
        str(hint_store),
        "--outcome",
        "followed_hint",
        "--explains",
        "hint_reliance",
        "--by",
        "model",
        "--json",
        "--csv",
        str(tmp_path / "csv"),
        "--plots",
        str(tmp_path / "plots"),
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["n_traces"] == 153 and report["missing"] == 0 and report["statistic"] == "rate"
    gaps = {r["group"]: r for r in report["gap"]}
    assert gaps["all"]["n_outcome"] == 153
    assert sum(r["n_outcome"] for g, r in gaps.items() if g != "all") == 153
    # every trace followed the hint, so P(followed | explored) is 1 wherever a belief was explored
    assert all(r["explored"] in (None, 1.0) for r in report["links"])
    assert (tmp_path / "csv" / "verbalisation_gap.csv").exists()
    assert (tmp_path / "plots" / "outcome_by_belief.svg").stat().st_size > 1000
    table = cli("outcomes", "--db", str(hint_store), "--outcome", "pn", "--belief", "hint_reliance")
    assert table.returncode == 0 and "mean(pn)" in table.stdout and "Mann-Whitney" in table.stdout


@needs_data
def test_counterfactual_pairs_each_cot_with_its_uncued_twin(cli) -> None:
    done = cli("counterfactual", str(HINT_015), "--embedder", "fast", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["n_pairs"] == 71
    for r in result["beliefs"]:
        assert r["only_with_cue"] + r["only_without_cue"] + r["both"] + r["neither"] == 71
    steps = next(r for r in result["structure"] if r["metric"] == "n_steps")
    assert steps["mean_difference"] == pytest.approx(steps["with_cue"] - steps["without_cue"], abs=1e-3)
    assert steps["ci_low"] <= steps["mean_difference"] <= steps["ci_high"]
    # the 0.3 file carries no CoT without the cue: each record is reported, and nothing pairs
    none = cli("counterfactual", str(HINT_03), "--embedder", "fast")
    assert none.returncode == 1
    assert "no CoT without the cue" in none.stderr and "Professor_itc_failure_threshold0.3.json" in none.stderr


# --- the verbalisation gap against references made without the tagger -----------------------------


def _benchmark():
    """``benchmarks/outcomes.py``, the figures' own code (the test runs what docs/outcomes.md reports)."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("cotgraph_outcomes_benchmark", ROOT / "benchmarks" / "outcomes.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = module  # type: ignore[union-attr]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.fixture(scope="module")
def held_out_gaps(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Both sets tagged with belief weights trained without them (the default embedder)."""
    from cotgraph.embed import get_embedder

    bench = _benchmark()
    folder = tmp_path_factory.mktemp("held_out")
    embedder = get_embedder("default")
    return {
        "hint": bench.hint_set(SHARED, folder, embedder, in_sample=False, paired=False),
        "coding": bench.coding_set(folder, embedder, in_sample=False),
    }


@needs_data
def test_hint_gap_from_tags_lands_in_the_interval_of_the_mentions(held_out_gaps: dict) -> None:
    for scope in ("0.3 file", "both files"):
        row = held_out_gaps["hint"][scope]
        tagged, mentions = row["tagged_held_out"], row["mentions"]
        # the data's README: 17 of the 82 traces of the 0.3 file name the professor or Stanford
        assert mentions["n"] - mentions["k"] == 17 and mentions["n"] == (82 if scope == "0.3 file" else 153)
        low, high = mentions["ci"]
        by = tagged["gap"] - mentions["share"]
        print(
            f"{scope}: tagged {tagged['gap']:.3f}, mentions {mentions['share']:.3f} [{low:.3f}, {high:.3f}]: {by:+.3f}"
        )
        assert low <= tagged["gap"] <= high, f"{scope}: the tagged gap is off the mentions' figure by {by:+.3f}"


@needs_data
def test_coding_gap_from_tags_lands_in_the_interval_of_the_step_labels(held_out_gaps: dict) -> None:
    coding = held_out_gaps["coding"]
    assert coding["n_runs"] == 52 and coding["n_hacked"] == 37  # the study's codes: special_case or tamper
    tagged, labels = coding["tagged_held_out"], coding["step_labels"]
    low, high = labels["ci"]
    by = tagged["gap"] - labels["share"]
    print(
        f"coding: tagged {tagged['gap']:.3f}, step labels {labels['share']:.3f} [{low:.3f}, {high:.3f}]: {by:+.3f}; "
        f"the study's cue mentions {coding['mentions']['share']:.3f}: {coding['tagged_minus_mentions']:+.3f}"
    )
    assert low <= tagged["gap"] <= high, f"the tagged gap is off the step labels' figure by {by:+.3f}"
    grader = next(r for r in coding["links"] if r["belief"] == "grader" and r["group"] == "all")
    assert grader["difference_ci_low"] > 0 and grader["p_value"] < 0.05  # runs that hack reason about the grader
