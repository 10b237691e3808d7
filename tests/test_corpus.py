"""A stored corpus from Python and the command line: read-only SQL, semantic search, queries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from cotgraph.corpus import Corpus
from cotgraph.store import StoreError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
COTGRAPH = str(Path(sys.executable).parent / "cotgraph")


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "examples.duckdb"
    proc = subprocess.run(
        [COTGRAPH, "analyze", str(EXAMPLES), "--db", str(path), "--model", "deepseek-r1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([COTGRAPH, *args], capture_output=True, text=True, timeout=300)


def test_sql_is_read_only_and_prints_row_objects(db: Path) -> None:
    proc = run(
        "sql", "SELECT model, count(*) AS n FROM traces GROUP BY model ORDER BY model", "--db", str(db), "--json"
    )
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    con = duckdb.connect(str(db), read_only=True)
    expected = con.execute("SELECT model, count(*) FROM traces GROUP BY model ORDER BY model").fetchall()
    con.close()
    assert [(r["model"], r["n"]) for r in rows] == expected
    assert sum(r["n"] for r in rows) == 10
    write = run("sql", "DELETE FROM traces", "--db", str(db))
    assert write.returncode == 1 and "read-only" in write.stderr and "Traceback" not in write.stderr
    with Corpus.open(db) as corpus:
        assert len(corpus.sql("SELECT * FROM traces")) == 10
        with pytest.raises(StoreError):
            corpus.sql("DROP TABLE traces")
        frame = corpus.sql("SELECT trace_id, n_steps FROM traces").to_pandas()
        assert list(frame.columns) == ["trace_id", "n_steps"] and len(frame) == 10


def test_search_finds_the_nearest_steps(db: Path) -> None:
    with Corpus.open(db) as corpus:
        rows = corpus.search("the user might be testing whether I will comply", top=5)
        assert len(rows) == 5
        sims = [r["similarity"] for r in rows.records()]
        assert sims == sorted(sims, reverse=True)
        assert any("test" in r["text"].lower() for r in rows.records()[:2])
        only = corpus.search("the professor's answer", top=3, model="deepseek-reasoner")
        assert {r["model"] for r in only.records()} == {"deepseek-reasoner"}
    proc = run("search", "the professor's answer", "--db", str(db), "--top", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)) == 2


def test_queries_match_answers_computed_apart(db: Path) -> None:
    con = duckdb.connect(str(db), read_only=True)
    explored = {r[0] for r in con.execute("SELECT trace_id FROM hypotheses WHERE belief = 'eval_awareness'").fetchall()}
    explored_held = {
        r[0]
        for r in con.execute(
            "SELECT trace_id FROM metrics WHERE name = 'eval_awareness_explored' AND value = 1"
        ).fetchall()
    }
    by_model = {r[0] for r in con.execute("SELECT trace_id FROM traces WHERE model = 'deepseek-reasoner'").fetchall()}
    long = {r[0] for r in con.execute("SELECT trace_id FROM traces WHERE n_steps > 10").fetchall()}
    con.close()
    assert explored_held <= explored
    with Corpus.open(db) as corpus:
        got = {r["trace_id"] for r in corpus.query("explored(eval_awareness)").records()}
        assert got == explored_held and got  # the bundled safety chains explore it
        got = {r["trace_id"] for r in corpus.query("model = 'deepseek-reasoner'").records()}
        assert got == by_model and len(got) == 2
        got = {r["trace_id"] for r in corpus.query("n_steps > 10 and not explored(eval_awareness)").records()}
        assert got == long - explored_held
        steps = corpus.query("explored(eval_awareness)", steps=True).records()
        assert steps and all(r["trace_id"] in explored_held for r in steps)
    proc = run("query", "explored(eval_awareness)", "--db", str(db), "--json")
    assert proc.returncode == 0, proc.stderr
    assert {r["trace_id"] for r in json.loads(proc.stdout)} == explored_held
    bad = run("query", "explored(eval_awareness", "--db", str(db))
    assert bad.returncode == 64 and "Traceback" not in bad.stderr and "^" in bad.stderr


def test_compare_from_python_converts_to_dataframes(db: Path) -> None:
    with Corpus.open(db) as corpus:
        result = corpus.compare(by="model", metrics=["n_steps", "failed_step_fraction"], n_boot=200)
    frames = result.to_pandas()
    assert set(frames) == {"stats", "beliefs", "paired"}
    stats = frames["stats"]
    con = duckdb.connect(str(db), read_only=True)
    expected = con.execute(
        "SELECT avg(value) FROM metrics JOIN traces USING (trace_id) "
        "WHERE name = 'n_steps' AND model = 'deepseek-reasoner'"
    ).fetchone()[0]
    con.close()
    row = stats[(stats["group"] == "deepseek-reasoner") & (stats["metric"] == "n_steps")].iloc[0]
    assert row["mean"] == pytest.approx(expected) and row["n"] == 2
    assert row["ci_low"] <= row["mean"] <= row["ci_high"]
