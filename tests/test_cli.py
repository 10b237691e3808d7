"""The command line as a user runs it: the installed ``cotgraph`` script, in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SHARED = ROOT.parent / "shared" / "data"
STANCES = {"raised", "entertained", "endorsed", "rejected"}
KINDS = {"plan", "retrieve", "compute", "verify", "backtrack", "explore", "conclude", "reason"}


run = run_cli


def test_inspect_json_on_examples_lists_every_trace() -> None:
    proc = run("inspect", str(EXAMPLES), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc) == {"traces", "skipped"}
    assert doc["skipped"] == []
    assert len(doc["traces"]) == 6 + 3 + 1
    for row in doc["traces"]:
        assert set(row) == {"trace_id", "model", "channel", "chars", "steps"}
        assert row["chars"] > 0 and row["steps"] > 0
    models = {row["model"] for row in doc["traces"]}
    assert "deepseek-r1-distill-qwen-14b" in models  # from the Thought Anchors folder layout
    assert len({row["trace_id"] for row in doc["traces"]}) == len(doc["traces"])


def test_segment_json_offsets_index_the_reasoning() -> None:
    proc = run("segment", str(EXAMPLES), "--json", "--model", "deepseek-r1")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == 10
    for obj in lines:
        assert set(obj) == {"trace_id", "model", "reasoning", "steps"}
        assert obj["model"]
        previous_end = 0
        for i, step in enumerate(obj["steps"]):
            assert set(step) == {"idx", "start", "end", "text", "markers"}
            assert step["idx"] == i
            assert obj["reasoning"][step["start"] : step["end"]] == step["text"]
            assert step["start"] >= previous_end
            previous_end = step["end"]


def test_granularity_changes_the_number_of_steps() -> None:
    counts = {}
    for g in ("sentence", "step", "paragraph"):
        proc = run("inspect", str(EXAMPLES / "thought-branches"), "--json", "-g", g)
        assert proc.returncode == 0, proc.stderr
        counts[g] = sum(r["steps"] for r in json.loads(proc.stdout)["traces"])
    assert counts["sentence"] > counts["step"] > counts["paragraph"] > 0


def test_partial_input_exits_2_and_reports_the_record(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        json.dumps({"id": "a", "reasoning": "First I add the numbers. Then I check the sum."})
        + "\n{broken json\n"
        + json.dumps({"id": "c", "prompt": "no reasoning here"})
        + "\n",
        encoding="utf-8",
    )
    proc = run("inspect", str(path), "--json")
    assert proc.returncode == 2
    doc = json.loads(proc.stdout)
    assert [t["trace_id"] for t in doc["traces"]] == ["mixed.jsonl:a"]
    assert [(s["record"], s["path"]) for s in doc["skipped"]] == [(1, str(path)), (2, str(path))]
    assert "invalid JSON" in doc["skipped"][0]["reason"]
    assert "prompt" in doc["skipped"][1]["reason"]  # names the fields it did find

    seg = run("segment", str(path))
    assert seg.returncode == 2
    assert f"{path} record 1" in seg.stderr and "Traceback" not in seg.stderr


def test_nothing_usable_exits_1_with_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.eval"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip archive")
    proc = run("segment", str(bad))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "broken.eval" in proc.stderr and "corrupt" in proc.stderr

    missing = run("inspect", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 1
    assert "no such file" in missing.stdout + missing.stderr


def test_usage_errors_exit_64() -> None:
    assert run("inspect", str(EXAMPLES), "--format", "xml").returncode == 64
    assert run("inspect", str(EXAMPLES), "--granularity", "word").returncode == 64
    assert run("inspect", "--no-such-option").returncode == 64
    proc = run("inspect", str(EXAMPLES), "--model-from-path", "(unclosed")
    assert proc.returncode == 64 and "Traceback" not in proc.stderr


def test_text_field_and_model_field_from_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "nested.jsonl"
    record = {
        "meta": {"who": "my-model", "key": "r1"},
        "out": {"think": "<think>Let me see. Wait, that is wrong.</think>The answer is 4."},
    }
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    proc = run(
        "segment",
        str(path),
        "--json",
        "--text-field",
        "out.think",
        "--model-field",
        "meta.who",
        "--id-field",
        "meta.key",
    )
    assert proc.returncode == 0, proc.stderr
    obj = json.loads(proc.stdout)
    assert obj["trace_id"] == "r1"  # named by --id-field: kept as given
    assert obj["model"] == "my-model"
    assert obj["reasoning"] == "Let me see. Wait, that is wrong."


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/data is not beside the project")
def test_inspect_lists_all_skipped_records_of_a_shared_set() -> None:
    proc = run("inspect", str(SHARED / "docent"), "--json")
    assert proc.returncode == 1  # 15 samples, none with reasoning
    doc = json.loads(proc.stdout)
    assert doc["traces"] == [] and len(doc["skipped"]) == 15
    assert all("no reasoning" in s["reason"] or "has reasoning" in s["reason"] for s in doc["skipped"])


def test_analyze_writes_the_json_contract(tmp_path: Path) -> None:
    out = tmp_path / "analysis.jsonl"
    proc = run("analyze", str(EXAMPLES / "thoughtology"), "--out", str(out), "--model", "deepseek-r1")
    assert proc.returncode == 0, proc.stderr
    docs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(docs) == 3
    for doc in docs:
        assert {"trace_id", "model", "source", "steps", "edges", "hypotheses", "metrics"} <= set(doc)
        assert doc["model"] == "deepseek-r1" and doc["taxonomy"] == "metagaming"
        for h in doc["hypotheses"]:
            assert {"belief", "stance", "first_step", "steps", "evidence"} <= set(h)
            assert h["steps"][0] == h["first_step"]
            for ev in h["evidence"]:
                assert doc["reasoning"][ev["start"] : ev["end"]].strip() == ev["quote"]
        n = len(doc["steps"])
        assert doc["metrics"]["n_steps"] == n
        for step in doc["steps"]:
            assert doc["reasoning"][step["start"] : step["end"]] == step["text"]
            assert step["kind"] in {
                "plan",
                "retrieve",
                "compute",
                "verify",
                "backtrack",
                "explore",
                "conclude",
                "reason",
            }
            for tag in step["beliefs"]:
                assert 0.0 <= tag["score"] <= 1.0 and tag["stance"] in STANCES
        for edge in doc["edges"]:
            assert 0 <= edge["src"] < n and 0 <= edge["dst"] < n
            assert (edge["src"] < edge["dst"]) == (edge["type"] in ("next", "branch"))
    # the bundled safety chains were chosen because R1 wonders there whether it is being tested
    assert any(h["belief"] == "eval_awareness" for doc in docs for h in doc["hypotheses"])


def test_metrics_json_rows_and_table() -> None:
    proc = run("metrics", str(EXAMPLES / "thought-branches"), "--json", "--embedder", "fast")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert isinstance(rows, list) and len(rows) == 6
    for row in rows:
        assert {"trace_id", "model", "n_steps", "failed_step_fraction", "linearity", "small_world_index"} <= set(row)
        assert 0 <= row["failed_step_fraction"] <= 1
    table = run("metrics", str(EXAMPLES / "thought-branches"), "--embedder", "fast")
    assert table.returncode == 0 and "FSF" in table.stdout and "linearity" in table.stdout


def test_unknown_embedder_is_one_clear_line() -> None:
    proc = run("metrics", str(EXAMPLES / "thoughtology"), "--embedder", "no-such/model-anywhere")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "not installed or cached" in proc.stderr
