"""--workers: the same pipeline in a process pool, output identical to one process."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from cotgraph.engine import AnalyzeConfig, analyze_many
from cotgraph.io import load
from cotgraph.workers import analyze_parallel, chunk_traces

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
BRANCHES = DATA / "thought-branches"
needs_data = pytest.mark.skipif(not BRANCHES.is_dir(), reason="needs ../shared/data")


@needs_data
def test_two_workers_write_byte_identical_json(tmp_path: Path, cli) -> None:
    traces = load(BRANCHES).traces
    assert len(list(chunk_traces(traces))) >= 3  # the pool really runs: more than one chunk
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    common = ("--embedder", "fast")
    first = cli("analyze", str(BRANCHES), *common, "--workers", "1", "-o", str(one))
    second = cli("analyze", str(BRANCHES), *common, "--workers", "2", "-o", str(two))
    assert first.returncode == second.returncode == 0, second.stderr
    assert one.read_bytes() == two.read_bytes()
    assert len(one.read_text().splitlines()) == len(traces)


@needs_data
def test_two_workers_fill_the_same_store(tmp_path: Path, cli) -> None:
    stores = []
    for workers in ("1", "2"):
        db = tmp_path / f"w{workers}.duckdb"
        proc = cli("analyze", str(BRANCHES), "--embedder", "fast", "--workers", workers, "--db", str(db))
        assert proc.returncode == 0, proc.stderr
        with duckdb.connect(str(db), read_only=True) as con:
            stores.append(
                {
                    table: con.execute(f"SELECT * EXCLUDE (trace_id) , trace_id FROM {table} ORDER BY ALL").fetchall()
                    for table in ("steps", "edges", "beliefs", "metrics")
                }
            )
    assert stores[0] == stores[1]
    assert len(stores[0]["steps"]) > 1000


@needs_data
def test_analyze_parallel_keeps_input_order_and_matches_one_process() -> None:
    traces = load(BRANCHES).traces[:150]
    config = AnalyzeConfig(embedder="fast")
    serial = [a.to_json() for a in analyze_many(traces, config)]
    seen: list[int] = []
    parallel = [a.to_json() for a in analyze_parallel(traces, config, workers=2, progress=seen.append)]
    assert parallel == serial
    assert [a["trace_id"] for a in parallel] == [t.id for t in traces]
    assert seen and seen == sorted(seen) and seen[-1] == sum(len(a["steps"]) for a in serial)


def test_workers_must_be_positive(cli) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        list(analyze_parallel([], AnalyzeConfig(), workers=-1))
    proc = cli("analyze", "examples", "--workers", "0")
    assert proc.returncode == 64
