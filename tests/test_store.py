"""The DuckDB store: what is written matches the analyses, ingest is idempotent, and a run killed
mid-ingest (a real subprocess, SIGKILL) resumes to exactly the traces it should have."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from cotgraph.engine import AnalyzeConfig, analyze_many
from cotgraph.io import load
from cotgraph.store import Store, StoreError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SHARED = ROOT.parent / "shared" / "data"
COTGRAPH = str(Path(sys.executable).parent / "cotgraph")


def counts(path: Path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = ("traces", "steps", "edges", "beliefs", "hypotheses", "metrics")
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    finally:
        con.close()


def test_written_rows_match_the_analyses(tmp_path: Path) -> None:
    analyses = list(analyze_many(load(EXAMPLES).traces, AnalyzeConfig(embedder="fast")))
    db = tmp_path / "c.duckdb"
    with Store(db) as store:
        store.write(analyses)
        assert store.count() == len(analyses)
    n = counts(db)
    assert n["steps"] == sum(len(a.steps) for a in analyses)
    assert n["edges"] == sum(len(a.edges) for a in analyses)
    assert n["beliefs"] == sum(len(a.beliefs) for a in analyses)
    assert n["hypotheses"] == sum(len(a.hypotheses) for a in analyses)
    assert n["metrics"] == sum(len(a.metrics) for a in analyses)
    con = duckdb.connect(str(db), read_only=True)
    a = analyses[0]
    row = con.execute("SELECT model, n_steps, reasoning FROM traces WHERE trace_id = ?", [a.trace.id]).fetchone()
    assert row == (a.trace.model, len(a.steps), a.trace.reasoning)
    step = con.execute(
        'SELECT start, "end", text, len(embedding) FROM steps WHERE trace_id = ? AND idx = 0', [a.trace.id]
    )
    start, end, text, dim = step.fetchone()
    assert a.trace.reasoning[start:end] == text and dim == a.embeddings.shape[1]
    fsf = con.execute(
        "SELECT value FROM metrics WHERE trace_id = ? AND name = 'failed_step_fraction'", [a.trace.id]
    ).fetchone()[0]
    assert fsf == pytest.approx(a.metrics["failed_step_fraction"])


def test_ingest_is_idempotent_and_keeps_skipped_records(tmp_path: Path) -> None:
    bad = tmp_path / "in"
    bad.mkdir()
    (bad / "ok.jsonl").write_text(
        '{"id": "a", "reasoning": "First compute 2 + 2 = 4. Then check it again."}\n{broken\n', encoding="utf-8"
    )
    db = tmp_path / "c.duckdb"
    args = [COTGRAPH, "analyze", str(EXAMPLES), str(bad), "--db", str(db), "--embedder", "fast"]
    first = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert first.returncode == 2, first.stderr  # one record skipped
    before = counts(db)
    second = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert second.returncode == 2
    assert "0 traces analysed, 11 already stored" in second.stderr
    assert counts(db) == before
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(DISTINCT trace_id) FROM traces").fetchone()[0] == 11
    assert con.execute("SELECT count(*) FROM skipped").fetchone()[0] == 1  # stored once, with its reason
    assert "invalid JSON" in con.execute("SELECT reason FROM skipped").fetchone()[0]


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/data is not beside the project")
def test_killed_ingest_resumes_to_exactly_the_right_traces(tmp_path: Path) -> None:
    source = SHARED / "thought-branches" / "faithfulness" / "good_problems" / "Professor_itc_failure_threshold0.3.json"
    expected = {t.id for t in load(source).traces}
    db = tmp_path / "killed.duckdb"
    env = {**os.environ, "COTGRAPH_STORE_BATCH": "1"}
    args = [COTGRAPH, "analyze", str(source), "--db", str(db)]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wal = Path(str(db) + ".wal")
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if wal.exists() and wal.stat().st_size > 150_000:  # several traces committed
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the ingest finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    con = duckdb.connect(str(db), read_only=True)
    partial = {r[0] for r in con.execute("SELECT trace_id FROM traces").fetchall()}
    steps_per_trace = dict(con.execute("SELECT trace_id, count(*) FROM steps GROUP BY trace_id").fetchall())
    ns = dict(con.execute("SELECT trace_id, n_steps FROM traces").fetchall())
    con.close()
    assert 0 < len(partial) < len(expected)
    assert partial <= expected
    assert all(steps_per_trace.get(t) == ns[t] for t in partial)  # every stored trace is whole

    resumed = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(expected) - len(partial)} traces analysed, {len(partial)} already stored" in resumed.stderr
    con = duckdb.connect(str(db), read_only=True)
    final = [r[0] for r in con.execute("SELECT trace_id FROM traces").fetchall()]
    assert sorted(final) == sorted(expected)  # none twice, none lost
    per_trace = dict(con.execute("SELECT trace_id, count(*) FROM steps GROUP BY trace_id").fetchall())
    ns = dict(con.execute("SELECT trace_id, n_steps FROM traces").fetchall())
    assert all(per_trace[t] == ns[t] for t in final)
    dup = con.execute("SELECT count(*) FROM (SELECT trace_id, name FROM metrics GROUP BY 1, 2 HAVING count(*) > 1)")
    assert dup.fetchone()[0] == 0


def test_store_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such store"):
        Store(tmp_path / "absent.duckdb", read_only=True)
    not_db = tmp_path / "text.duckdb"
    not_db.write_text("this is not a database", encoding="utf-8")
    with pytest.raises(StoreError, match="cannot open"):
        Store(not_db)
    proc = subprocess.run(
        [COTGRAPH, "analyze", str(EXAMPLES), "--db", str(not_db), "--embedder", "fast"], capture_output=True, text=True
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "cannot open" in proc.stderr
