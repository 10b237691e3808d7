"""The copied coding-agent traces (``benchmarks/data/coding``) and the Markdown transcript loader."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest

from cotgraph.io import load
from cotgraph.io.transcripts import parse_agent_transcript, parse_request_transcript, parse_runlog

CODING = Path(__file__).parents[1] / "benchmarks" / "data" / "coding"
MATS = CODING / "mats-research-harness"
FIELDTEST = CODING / "fieldtest-evals"


def manifest() -> list[dict[str, object]]:
    return json.loads((CODING / "MANIFEST.json").read_text())["files"]


def test_every_copy_matches_the_manifest() -> None:
    files = manifest()
    assert len([f for f in files if str(f["path"]).endswith(".md")]) == 60
    for entry in files:
        data = (CODING / str(entry["path"])).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["path"]
        assert len(data.decode("utf-8")) == entry["chars"], entry["path"]


def test_licences_sit_beside_the_copies() -> None:
    assert "MIT" in (MATS / "NOTICE.md").read_text()
    assert (FIELDTEST / "LICENSE").read_text().startswith("MIT License\n\nCopyright (c) 2026 Ranon Bezerra")


def test_mats_logs_parse_with_every_reasoning_block() -> None:
    """cot_tally.csv counts each run's reasoning characters; the parsed blocks must account for
    them (the study joined turns with a separator, hence the small per-turn slack)."""
    with open(CODING / "mats_cot_tally.csv", newline="") as fh:
        tally = {r["run_id"]: r for r in csv.DictReader(fh)}
    logs = sorted(MATS.glob("*.md"))
    logs.remove(MATS / "NOTICE.md")
    assert len(logs) == 52
    for path in logs:
        run = parse_runlog(path.read_text(encoding="utf-8"))
        assert run is not None, path
        assert run.run_id == path.stem
        row = tally[run.run_id]
        blocks = sum(p.end - p.start for p in run.parts)
        assert abs(blocks - int(row["reasoning_chars"])) <= int(row["turns"]) + 3, path.name
        assert run.metadata["harness"] == row["body"]
        assert run.metadata["action"] == row["action"]
        assert len(run.parts) == len(run.part_turns)


def test_runlog_keeps_tool_calls_and_assistant_text_out_of_the_reasoning() -> None:
    text = (
        "# demo__pi__A1__s0__abc\n\nbody pi · state A · level 1 · split oneoff · action tamper · "
        "first test edit turn 2\n\nPreamble.\n\n## turn 1\n\n**reasoning**\n\n```\nLet me read the "
        'test.\n```\n\n**tool calls**\n\n- read({"path": "test.py"})\n\n## turn 2\n\n**reasoning**\n\n'
        "```\nThe test is wrong:\n```python\nassert f(3) == 4\n```\nI will edit it.\n```\n\n"
        "**assistant text**\n\n```\nDone: fixed the test.\n```\n"
    )
    run = parse_agent_transcript(text)
    assert run is not None and run.layout == "run-log"
    assert run.part_turns == ["1", "2"]
    second = "The test is wrong:\n```python\nassert f(3) == 4\n```\nI will edit it."
    assert run.reasoning == "Let me read the test.\n\n" + second
    assert "read(" not in run.reasoning and "Done:" not in run.reasoning
    assert run.output == "Done: fixed the test."
    assert run.metadata["first_test_edit_turn"] == "2" and run.metadata["tool_calls"] == 1
    for part, turn in zip(run.parts, ("Let me read", "The test is wrong"), strict=True):
        assert run.reasoning[part.start : part.end].startswith(turn)


def test_request_transcript_reasoning_and_reply() -> None:
    text = (
        "# Transcript — 01-demo / variant-a / some/model-7b\n\nEvery request, in order.\n\n# solution\n\n"
        "## reasoning\n\n```\nWe need tests.\n\n# not a heading\n```\n\n## reply\n\n### a.md\n```md\n# Title\n"
        "---\n```\n\n\n---\n"
    )
    run = parse_request_transcript(text)
    assert run is not None
    assert run.model == "some/model-7b" and run.run_id == "01-demo/variant-a/some/model-7b"
    assert run.reasoning == "We need tests.\n\n# not a heading"
    assert run.output == "### a.md\n```md\n# Title\n---\n```"


def test_loading_the_copied_folders() -> None:
    result = load([MATS, FIELDTEST])
    assert len(result.traces) == 59
    reasons = [s.reason for s in result.skipped]
    assert reasons == ["agent transcript (request-transcript) with no reasoning in any of its 2 turn(s)"]
    by_id = {t.id: t for t in result.traces}
    mats = by_id["oneoff.lcbhard_86-impossible__pi__A2__s0__08438b"]
    assert mats.metadata["action"] == "special_case"
    assert "the grader is graded on pytest passing" in mats.reasoning
    # A folder's files are keyed by their path under it, so its many transcript.md never collide.
    qwen = by_id[
        "problems/16-migration-that-lied/runs/qwen-qwen3.8-27b/variant-a-single/transcript.md:16-migration-that-lied/variant-a/qwen/qwen3.8-27b"
    ]
    assert qwen.model == "qwen/qwen3.8-27b"
    for trace in result.traces:
        for part in trace.parts:
            assert 0 <= part.start < part.end <= len(trace.reasoning)


def test_plain_markdown_is_still_one_text_trace(tmp_path: Path) -> None:
    note = tmp_path / "notes.md"
    note.write_text("# My notes\n\nSome thinking about the problem.\n\n## Next\n\nMore.\n")
    result = load(note)
    assert len(result.traces) == 1 and result.traces[0].reasoning.startswith("# My notes")


@pytest.mark.parametrize("text", ["# run\n\nno turns here\n", "# Transcript — a / b / c\n\nnothing\n"])
def test_not_a_transcript(text: str) -> None:
    assert parse_agent_transcript(text) is None
