"""The hand-labelled belief development set stays aligned with cotgraph's own steps: a change to
the loaders or the segmenter that moved a labelled step would silently void the labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cotgraph.io import LoadOptions, load
from cotgraph.segment import segment

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
DEV = ROOT / "benchmarks" / "data" / "beliefs_dev.jsonl"
HINTS = ROOT / "benchmarks" / "data" / "hint_traces.jsonl"
BELIEFS = {
    "eval_awareness", "eval_purpose", "grader", "reward", "oversight", "training_gaming", "past_feedback",
    "deployment_consequence", "developer_intent", "sandbagging", "reward_hack", "eval_norms", "hint_reliance",
    "request_purpose", "real_deployment",
}  # fmt: skip

pytestmark = pytest.mark.skipif(not DATA.exists(), reason="../shared/data is not beside the project")


SETS = {
    "thoughtology-safety", "thoughtology-psycho", "blackmail", "hinted-mc", "math", "pmllmbench-bias",
    "agent-telemetry", "coding-mats", "coding-fieldtest",
}  # fmt: skip


def source(path: str) -> tuple[Path, LoadOptions]:
    """Where a record's source lives and how the README segments it: ``benchmarks/…`` paths are the
    copies the project keeps, the rest lie in the shared data folder."""
    if path.startswith("benchmarks/"):
        model = "deepseek-v4-flash" if "mats-research-harness" in path else None
        return ROOT / path, LoadOptions(model=model)
    return DATA / path, LoadOptions(model="deepseek-r1") if path.startswith("thoughtology") else LoadOptions()


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_every_labelled_step_is_still_a_cotgraph_step() -> None:
    rows = records(DEV)
    assert len(rows) >= 300
    steps_by_trace: dict[tuple[str, str], list] = {}
    for path in sorted({r["path"] for r in rows}):
        where, options = source(path)
        for trace in load(where, options).traces:
            steps_by_trace[(path, trace.id)] = segment(trace)
    for row in rows:
        steps = steps_by_trace[(row["path"], row["trace_id"])]
        step = steps[row["step"]]
        assert (step.start, step.end, step.text) == (row["start"], row["end"], row["text"]), row["trace_id"]
        for label in row["labels"]:
            assert label["belief"] in BELIEFS
            assert label["stance"] in {"raised", "entertained", "endorsed", "rejected"}


def test_the_set_covers_what_the_issue_asks_for() -> None:
    rows = records(DEV)
    sets = {r["set"] for r in rows}
    assert sets == SETS
    labelled = [label["belief"] for r in rows for label in r["labels"]]
    assert labelled.count("eval_awareness") >= 5 and labelled.count("hint_reliance") >= 50
    # real reasoning about graders and tests, from the coding-agent runs of both sources
    assert labelled.count("grader") >= 100 and labelled.count("reward_hack") >= 100
    coding = {(r["path"], r["trace_id"]) for r in rows if r["set"].startswith("coding-")}
    assert {r["set"] for r in rows if r["set"].startswith("coding-")} == {"coding-mats", "coding-fieldtest"}
    assert len(coding) >= 59  # 60 copied transcripts; one (Ling) has an empty reasoning
    # the other side: steps from sources the first set had little of
    new = [r for r in rows if r["set"] in {"pmllmbench-bias", "thoughtology-psycho", "agent-telemetry"}]
    assert len(new) >= 300
    assert not any(r["labels"] for r in rows if r["set"] == "math")  # the negatives
    hints = records(HINTS)
    assert len(hints) == 153
    assert all(h["verbalises_hint"] == bool(h["steps"]) for h in hints)
