"""Trace ids: unique across folders, kept as given with --id-field, collisions reported; and a
store without the full texts."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from cotgraph.io import DuplicateTraceIdError, LoadOptions, load

ROOT = Path(__file__).resolve().parents[1]
REASONING = (
    "Okay, the question asks for 17 times 3. Let me compute: 17 times 3 is 51. "
    "Wait, let me double-check that: 10 times 3 is 30 and 7 times 3 is 21, so 51. The answer is 51."
)


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def two_runs(tmp_path: Path) -> Path:
    """Two folders, each with a ``samples.jsonl`` whose records have the same ids."""
    for run in ("run-a", "run-b"):
        write_jsonl(
            tmp_path / "corpus" / run / "samples.jsonl",
            [{"id": f"q{i}", "reasoning": f"{REASONING} ({run}, {i})"} for i in (1, 2)],
        )
    return tmp_path / "corpus"


def test_same_named_files_in_different_folders_get_different_ids(two_runs: Path) -> None:
    ids = [t.id for t in load(two_runs).traces]
    assert ids == [
        "run-a/samples.jsonl:q1",
        "run-a/samples.jsonl:q2",
        "run-b/samples.jsonl:q1",
        "run-b/samples.jsonl:q2",
    ]


def test_a_file_named_directly_is_keyed_by_its_name(two_runs: Path) -> None:
    assert [t.id for t in load(two_runs / "run-a" / "samples.jsonl").traces] == ["samples.jsonl:q1", "samples.jsonl:q2"]


def test_hashed_ids_differ_for_the_same_record_in_two_folders(tmp_path: Path) -> None:
    """Records without an id of their own are named by a hash that includes the relative path."""
    for run in ("a", "b"):
        write_jsonl(tmp_path / run / "x.jsonl", [{"reasoning": REASONING}])
    ids = [t.id for t in load(tmp_path).traces]
    assert len(ids) == 2 and len(set(ids)) == 2


def test_same_named_files_given_as_two_inputs_are_told_apart(two_runs: Path) -> None:
    """Both files are keyed ``samples.jsonl``: the second use of an id gets ``~2``, nothing is merged."""
    ids = [t.id for t in load([two_runs / "run-a" / "samples.jsonl", two_runs / "run-b" / "samples.jsonl"]).traces]
    assert ids == ["samples.jsonl:q1", "samples.jsonl:q2", "samples.jsonl:q1~2", "samples.jsonl:q2~2"]


def test_id_field_is_kept_as_given_when_unique(two_runs: Path) -> None:
    traces = load(two_runs / "run-a", LoadOptions(id_field="id")).traces
    assert [t.id for t in traces] == ["q1", "q2"]


def test_id_field_collision_is_an_error_naming_both_records(two_runs: Path) -> None:
    with pytest.raises(DuplicateTraceIdError) as caught:
        load(two_runs, LoadOptions(id_field="id"))
    message = str(caught.value)
    assert "'q1'" in message
    assert str(two_runs / "run-a" / "samples.jsonl") + " record 0" in message
    assert str(two_runs / "run-b" / "samples.jsonl") + " record 0" in message


def test_id_field_collision_on_the_command_line_is_one_line_and_exit_1(two_runs: Path, cli) -> None:
    proc = cli("inspect", str(two_runs), "--id-field", "id", "--json")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "error:" in proc.stderr and "'q1'" in proc.stderr and "run-b" in proc.stderr


def test_no_text_store_keeps_structure_without_texts(two_runs: Path, tmp_path: Path, cli) -> None:
    full, bare = tmp_path / "full.duckdb", tmp_path / "bare.duckdb"
    common = ("--embedder", "fast", "--granularity", "sentence")
    assert cli("analyze", str(two_runs), "--db", str(full), *common).returncode == 0
    assert cli("analyze", str(two_runs), "--db", str(bare), "--no-text", *common).returncode == 0
    with duckdb.connect(str(full), read_only=True) as con:
        full_steps = con.execute('SELECT trace_id, idx, start, "end", kind FROM steps ORDER BY ALL').fetchall()
        assert con.execute("SELECT count(*) FROM traces WHERE reasoning IS NULL").fetchone() == (0,)
    with duckdb.connect(str(bare), read_only=True) as con:
        assert con.execute("SELECT count(*), count(reasoning), count(output) FROM traces").fetchone() == (4, 0, 0)
        assert con.execute("SELECT count(*) FROM steps WHERE text IS NOT NULL").fetchone() == (0,)
        assert con.execute('SELECT trace_id, idx, start, "end", kind FROM steps ORDER BY ALL').fetchall() == full_steps
        assert con.execute("SELECT count(*) FROM metrics").fetchone()[0] > 0
    shown = cli("query", "n_steps > 0", "--db", str(bare), "--json")
    assert shown.returncode == 0, shown.stderr
    assert len(json.loads(shown.stdout)) == 4


def test_no_text_without_a_store_is_a_usage_error(two_runs: Path, cli) -> None:
    proc = cli("analyze", str(two_runs), "--no-text")
    assert proc.returncode == 64
    assert "--db" in proc.stderr
