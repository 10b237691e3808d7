"""The Ray engine on a local Ray instance (2 CPUs): the local engine's results, in its order."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
import ray

from cotgraph.engine import AnalyzeConfig, analyze_many
from cotgraph.io import LoadOptions, load
from cotgraph.model import Analysis, Skipped
from cotgraph.ray_engine import analyze_ray

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="needs ../shared/data")
FAST = AnalyzeConfig(embedder="fast")


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray instance with 2 CPUs, started here (the engine joins it instead of starting one)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def split(items: list[Analysis | Skipped]) -> tuple[list[dict], list[Skipped]]:
    return [a.to_json() for a in items if isinstance(a, Analysis)], [s for s in items if isinstance(s, Skipped)]


def test_ray_engine_gives_the_local_results_on_the_examples(local_ray) -> None:
    got, skipped = split(list(analyze_ray([ROOT / "examples"], None, FAST)))
    loaded = load(ROOT / "examples")
    assert got == [a.to_json() for a in analyze_many(loaded.traces, FAST)]
    assert skipped == loaded.skipped
    assert ray.is_initialized()  # the engine joined the test's instance and left it running


@needs_data
def test_ray_engine_gives_the_local_results_on_shared_data(local_ray) -> None:
    inputs = [DATA / "thought-branches", DATA / "thoughtology" / "reasoning_chains_r1"]
    options = LoadOptions(model="deepseek-r1")
    got, skipped = split(list(analyze_ray(inputs, options, FAST)))
    loaded = load(inputs, options)
    assert len(got) == len(loaded.traces) > 150
    assert got == [a.to_json() for a in analyze_many(loaded.traces, FAST)]
    assert skipped == loaded.skipped


def test_ray_engine_keeps_the_id_rules(local_ray, tmp_path: Path) -> None:
    for run in ("a", "b"):
        folder = tmp_path / run
        folder.mkdir()
        (folder / "x.jsonl").write_text(
            json.dumps({"id": "q1", "reasoning": f"Let me compute 6 times 7. That is 42 ({run})."}) + "\n"
        )
    inputs = [tmp_path / "a" / "x.jsonl", tmp_path / "b" / "x.jsonl"]
    got = [a.trace.id for a in analyze_ray(inputs, None, FAST) if isinstance(a, Analysis)]
    assert got == [t.id for t in load(inputs).traces] == ["x.jsonl:q1", "x.jsonl:q1~2"]


def test_cli_ray_engine_writes_what_the_local_engine_writes(tmp_path: Path, cli) -> None:
    """Started from the command line, the engine starts (and stops) its own local instance; its
    JSON Lines and Parquet tables are the local engine's."""
    common = ("examples", "--embedder", "fast")
    local, remote = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    assert cli("analyze", *common, "--workers", "1", "-o", str(local)).returncode == 0
    proc = cli("analyze", *common, "--engine", "ray", "-o", str(remote))
    assert proc.returncode == 0, proc.stderr
    assert remote.read_bytes() == local.read_bytes()

    tables = {}
    for engine in ("local", "ray"):
        folder = tmp_path / f"{engine}-parquet"
        proc = cli("analyze", *common, "--engine", engine, "--parquet", str(folder))
        assert proc.returncode == 0, proc.stderr
        with duckdb.connect() as con:
            tables[engine] = {
                table: con.execute(f"SELECT * FROM read_parquet('{folder}/{table}/*.parquet') ORDER BY ALL").fetchall()
                for table in ("traces", "steps", "edges", "beliefs", "metrics", "skipped")
            }
    assert tables["ray"] == tables["local"]
    assert len(tables["local"]["traces"]) == len(local.read_text().splitlines())


def test_cli_ray_address_needs_the_ray_engine(cli) -> None:
    proc = cli("analyze", "examples", "--ray-address", "auto")
    assert proc.returncode == 64
    assert "--engine ray" in proc.stderr


def test_cli_ray_engine_fills_the_store_the_local_engine_fills(tmp_path: Path, cli) -> None:
    rows = {}
    for engine in ("local", "ray"):
        db = tmp_path / f"{engine}.duckdb"
        proc = cli("analyze", "examples", "--embedder", "fast", "--engine", engine, "--db", str(db), "--no-text")
        assert proc.returncode == 0, proc.stderr
        with duckdb.connect(str(db), read_only=True) as con:
            rows[engine] = {
                table: con.execute(f"SELECT * EXCLUDE (trace_id), trace_id FROM {table} ORDER BY ALL").fetchall()
                for table in ("steps", "edges", "beliefs", "metrics")
            }
            assert con.execute("SELECT count(*), count(reasoning) FROM traces").fetchone() == (10, 0)
    assert rows["ray"] == rows["local"]
