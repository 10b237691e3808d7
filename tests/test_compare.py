"""``cotgraph compare``: group statistics, the belief matrix and paired differences, checked against
answers computed independently from a real store's tables with plain SQL and pandas."""

from __future__ import annotations

import csv
import itertools
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from cotgraph.compare import Comparison, compare

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SOURCE = DATA / "thought-branches" / "faithfulness" / "good_problems" / "Professor_itc_failure_threshold0.3.json"
COTGRAPH = str(Path(sys.executable).parent / "cotgraph")
MODELS = {"deepseek-reasoner": 32, "qwen/qwq-32b-preview": 29, "gemini-2.0-flash-thinking-exp-01-21": 21}

if not SOURCE.exists():
    pytest.skip(f"shared data not found: {SOURCE}", allow_module_level=True)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([COTGRAPH, *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("compare") / "tmp.duckdb"
    proc = run("analyze", str(SOURCE), "--db", str(path), "--embedder", "fast")
    assert proc.returncode == 0, proc.stderr
    return path


@pytest.fixture(scope="module")
def con(db: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(db), read_only=True)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def result(con: duckdb.DuckDBPyConnection) -> Comparison:
    return compare(con, by="model", n_boot=500, seed=7)


@pytest.fixture(scope="module")
def frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every metric value joined to its trace's model and question, straight from the tables."""
    return con.execute(
        "SELECT t.model, t.question, m.trace_id, m.name, m.value FROM metrics m JOIN traces t USING (trace_id)"
    ).df()


def test_groups_and_counts(result: Comparison, con: duckdb.DuckDBPyConnection) -> None:
    assert result.by == "model"
    assert sorted(result.groups) == sorted(MODELS)
    counts = dict(con.execute("SELECT model, count(*) FROM traces GROUP BY model").fetchall())
    assert counts == MODELS
    for row in (r for r in result.stats if r["metric"] == "n_steps"):
        assert row["n"] == MODELS[row["group"]]


def test_default_metrics_exclude_belief_metrics(result: Comparison, con: duckdb.DuckDBPyConnection) -> None:
    names = {r[0] for r in con.execute("SELECT DISTINCT name FROM metrics").fetchall()}
    expected = {
        n for n in names if not n.endswith(("_explored", "_first", "_dwell", "_final")) and n != "belief_switches"
    }
    assert {r["metric"] for r in result.stats} == expected
    assert "n_steps" in expected and "eval_norms_explored" not in expected


@pytest.mark.parametrize("metric", ["n_steps", "backtrack_rate", "failed_step_fraction", "small_world_index"])
def test_means_and_medians(result: Comparison, frame: pd.DataFrame, metric: str) -> None:
    values = frame[(frame["name"] == metric) & frame["value"].notna()]
    expected = values.groupby("model")["value"].agg(["count", "mean", "median"])
    got = {r["group"]: r for r in result.stats if r["metric"] == metric}
    assert set(got) == set(MODELS)
    for model, row in expected.iterrows():
        assert got[model]["n"] == row["count"]
        assert got[model]["mean"] == pytest.approx(row["mean"])
        assert got[model]["median"] == pytest.approx(row["median"])


def test_bootstrap_intervals_contain_mean_and_are_deterministic(
    result: Comparison, con: duckdb.DuckDBPyConnection
) -> None:
    for row in result.stats:
        if row["n"] == 0:
            continue
        assert row["ci_low"] - 1e-9 <= row["mean"] <= row["ci_high"] + 1e-9, row
    again = compare(con, by="model", n_boot=500, seed=7)
    assert again.stats == result.stats and again.paired == result.paired
    other = compare(con, by="model", metrics=["n_steps"], n_boot=500, seed=8)
    first = {r["group"]: r for r in result.stats if r["metric"] == "n_steps"}
    assert any(r["ci_low"] != first[r["group"]]["ci_low"] for r in other.stats)  # the seed matters


def test_belief_matrix(result: Comparison, frame: pd.DataFrame) -> None:
    explored = frame[frame["name"].str.endswith("_explored") & frame["value"].notna()].copy()
    explored["belief"] = explored["name"].str.removesuffix("_explored")
    expected = explored.groupby(["belief", "model"])["value"].agg(["count", "mean"])
    got = {(r["belief"], r["group"]): r for r in result.beliefs}
    assert set(got) == set(expected.index)
    for (belief, model), row in expected.iterrows():
        assert got[(belief, model)]["n"] == row["count"]
        assert got[(belief, model)]["rate"] == pytest.approx(row["mean"])
    assert any(r["rate"] > 0 for r in result.beliefs)


def test_paired_questions_are_those_shared(result: Comparison, con: duckdb.DuckDBPyConnection) -> None:
    traces = con.execute("SELECT model, question FROM traces WHERE question IS NOT NULL").df()
    asked = traces.groupby("model")["question"].agg(set)
    multi = traces.groupby("question")["model"].nunique()
    assert (multi > 1).sum() == 12 and traces["question"].nunique() == 69
    for a, b in itertools.combinations(result.groups, 2):
        shared = asked[a] & asked[b]
        assert set(result.shared_questions.get((a, b), [])) == shared
        rows = [r for r in result.paired if (r["group_a"], r["group_b"]) == (a, b) and r["metric"] == "n_steps"]
        assert len(rows) == (1 if shared else 0)
        if shared:
            assert rows[0]["n_questions"] == len(shared)


@pytest.mark.parametrize("metric", ["n_steps", "linearity", "backtrack_rate"])
def test_paired_mean_difference(result: Comparison, frame: pd.DataFrame, metric: str) -> None:
    values = frame[(frame["name"] == metric) & frame["value"].notna() & frame["question"].notna()]
    per_question = values.groupby(["model", "question"])["value"].mean()
    for row in (r for r in result.paired if r["metric"] == metric):
        a = per_question.loc[row["group_a"]]
        b = per_question.loc[row["group_b"]]
        common = a.index.intersection(b.index)
        diffs = [b[q] - a[q] for q in common]
        assert row["n_questions"] == len(common)
        assert row["mean_diff"] == pytest.approx(float(np.mean(diffs)))
        assert row["ci_low"] - 1e-9 <= row["mean_diff"] <= row["ci_high"] + 1e-9


def test_paired_synthetic_averages_repeated_traces() -> None:
    """Several traces of one group on one question are averaged before differencing."""
    con = duckdb.connect()
    con.execute("CREATE TABLE traces (trace_id TEXT, model TEXT, question TEXT, metadata JSON)")
    con.execute("CREATE TABLE metrics (trace_id TEXT, name TEXT, value DOUBLE)")
    rows = [
        ("t1", "A", "q1", '{"run": "x"}', 1.0),
        ("t2", "A", "q1", '{"run": "y"}', 3.0),  # A on q1: mean 2
        ("t3", "B", "q1", '{"run": "x"}', 5.0),  # diff 3
        ("t4", "A", "q2", "{}", 10.0),
        ("t5", "B", "q2", '{"run": "y"}', 9.0),  # diff -1
        ("t6", "B", "q3", '{"run": "x"}', 100.0),  # only B: not paired
        ("t7", "A", None, "{}", 50.0),  # no question: not paired
    ]
    for trace_id, model, question, meta, value in rows:
        con.execute("INSERT INTO traces VALUES (?, ?, ?, ?)", [trace_id, model, question, meta])
        con.execute("INSERT INTO metrics VALUES (?, 'n_steps', ?)", [trace_id, value])
        con.execute("INSERT INTO metrics VALUES (?, 'grader_explored', ?)", [trace_id, float(model == "A")])
    result = compare(con, n_boot=200)
    assert result.groups == ["A", "B"]
    assert result.shared_questions == {("A", "B"): ["q1", "q2"]}
    (row,) = result.paired
    assert (row["metric"], row["n_questions"], row["mean_diff"]) == ("n_steps", 2, pytest.approx(1.0))
    assert {(r["group"], r["rate"]) for r in result.beliefs} == {("A", 1.0), ("B", 0.0)}
    by_meta = compare(con, by="metadata.run", n_boot=50)
    assert by_meta.groups == ["(none)", "x", "y"]
    assert {r["group"]: r["n"] for r in by_meta.stats} == {"(none)": 2, "x": 3, "y": 2}


@pytest.mark.parametrize("by", ["question", "model; DROP TABLE traces", "metadata.a-b", "metadata.", "metadata"])
def test_bad_by_rejected(con: duckdb.DuckDBPyConnection, by: str) -> None:
    with pytest.raises(ValueError):
        compare(con, by=by)


def test_unknown_metric_rejected(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ValueError, match="nope"):
        compare(con, metrics=["nope"])


def test_json_csv_and_plots(result: Comparison, tmp_path: Path) -> None:
    obj = result.to_json()
    assert set(obj) == {"by", "groups", "stats", "beliefs", "paired"}
    json.dumps(obj, allow_nan=False)
    paths = result.to_csv(tmp_path / "csv")
    assert sorted(p.name for p in paths) == ["beliefs.csv", "paired.csv", "stats.csv"]
    with (tmp_path / "csv" / "stats.csv").open() as fh:
        stats = list(csv.DictReader(fh))
    assert len(stats) == len(result.stats) and set(stats[0]) >= {"group", "metric", "n", "mean", "ci_low"}
    with (tmp_path / "csv" / "paired.csv").open() as fh:
        assert len(list(csv.DictReader(fh))) == len(result.paired)
    plots = result.plot(tmp_path / "plots")
    assert {p.suffix for p in plots} == {".png", ".svg"} and len(plots) == 4
    for path in plots:
        assert path.exists() and path.stat().st_size > 0


def test_cli_json(db: Path, tmp_path: Path) -> None:
    proc = run("compare", "--db", str(db), "--json", "--metric", "n_steps", "--csv", str(tmp_path / "c"))
    assert proc.returncode == 0, proc.stderr
    obj = json.loads(proc.stdout)
    assert set(obj) == {"by", "groups", "stats", "beliefs", "paired"}
    assert {r["group"]: r["n"] for r in obj["stats"]} == MODELS
    assert {r["metric"] for r in obj["stats"]} == {"n_steps"}
    assert (tmp_path / "c" / "stats.csv").exists()


def test_cli_tables_and_plots(db: Path, tmp_path: Path) -> None:
    proc = run("compare", "--db", str(db), "--plots", str(tmp_path / "p"))
    assert proc.returncode == 0, proc.stderr
    for text in ("failed_step_fraction", "hint_reliance", "paired differences", "deepseek-reasoner"):
        assert text in proc.stdout
    assert len(list((tmp_path / "p").glob("*.png"))) == 2


def test_cli_bad_by(db: Path) -> None:
    proc = run("compare", "--db", str(db), "--by", "bogus")
    assert proc.returncode == 64
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "bogus" in lines[0]
    assert "Traceback" not in proc.stderr
